"""Children must not outlive the Thor process that started them, however it ends.

Every program ``proc.run`` starts runs in a session and process group of its own (so a timeout can kill the
whole tree), which also means that killing the tick's own process group does not reach it. Three things
make sure it goes anyway:

- ``PR_SET_PDEATHSIG`` (Linux): the kernel sends the direct child SIGKILL the moment its parent dies.
  Note the kernel means the parent *thread*: ``proc.run`` waits for its child in the thread that started
  it, so that thread always outlives the child.
- A watchdog: one small process per Thor process, started with the first child, told each group's id as
  it starts (before its program runs) and ends (by Thor, once the group is gone). When Thor dies (even by
  SIGKILL) the watchdog reads end-of-file and kills every group still registered, grandchildren included.

How the child is set up decides what starting it costs. A ``preexec_fn`` makes Python ``fork()`` the whole
Thor process (page tables, then copy-on-write faults on both sides): 25 ms a child from a 500 MB process
against 1-2 ms for the ``vfork()`` Python uses otherwise. So where util-linux's ``setpriv`` is installed,
the child starts as ``setpriv --pdeathsig KILL -- sh -c LAUNCH -- PROGRAM…`` (``launcher()``): ``setpriv``
asks for the signal, and the small shell waits for one "go" line on its stdin before it ``exec``s the
program. Thor writes that line only after it has told the watchdog the group (``release``), so the program
never runs unknown to the watchdog; if Thor dies before, the shell reads end-of-file and exits. Elsewhere
``child_setup()`` does the same in a ``preexec_fn``.
- Programs that start no other and end by themselves in moments (a local git command such as
  ``merge-base`` or ``tag``, with no way to the network) start bare, as a plain ``vfork()``
  (``proc.run(quick=True)``, 1.7 ms less each): the watchdog is told their group just after the start. A
  Thor killed in that instant leaves such a program to end on its own, milliseconds later.
- The registry itself: ``live_process_groups()`` for the engine to record with a lease, and
  ``terminate_children()`` for a clean stop (SIGINT/SIGTERM): SIGTERM each group, SIGKILL after a grace.

A process that moves itself into yet another session (``setsid``, a daemon) leaves its group; ``proc.run``
finds it by the pipe it still holds (``pipe_holders``) when it keeps the output open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1
_lock = threading.RLock()  # re-entrant: terminate_children may run in a signal handler of a registering thread
_live: dict[int, subprocess.Popen[Any]] = {}
_watchdog: subprocess.Popen[bytes] | None = None
_retired: list[subprocess.Popen[bytes]] = []
_prctl: Any = None
_prctl_loaded = False
_setpriv: str | None = None
_setpriv_looked = False

# Run by /bin/sh between setpriv and the program: nothing but the line Thor sends once the watchdog knows
# this group. `read` takes one byte at a time from a pipe, so what follows the line is left for the program.
_LAUNCH_CODE = 'IFS= read -r go && [ "$go" = go ] || exit 125; exec "$@"'
_GO = b"go\n"

# POSIX sh, so that it starts in a millisecond: "+PGID" and "-PGID" lines; at end-of-file, kill what is left.
_WATCHDOG_CODE = r"""
groups=" "
while IFS= read -r line; do
  case $line in
    +*) groups="$groups${line#+} " ;;
    -*) id=${line#-}; case $groups in *" $id "*) groups="${groups%% $id *} ${groups#* $id }" ;; esac ;;
  esac
done
for pgid in $groups; do kill -9 "-$pgid" 2>/dev/null; done
"""


def live_process_groups() -> list[int]:
    """The process groups of the children this process started that may still be running."""
    with _lock:
        return sorted(_live)


def terminate_children(grace: float = 2.0) -> None:
    """Stop every child group: SIGTERM, then SIGKILL for what is left after ``grace`` seconds. Bounded."""
    with _lock:
        processes = list(_live.values())
    if not processes:
        return
    for process in processes:
        signal_group(process.pid, signal.SIGTERM)
    if not _wait_gone(processes, grace):
        for process in processes:
            signal_group(process.pid, signal.SIGKILL)
        _wait_gone(processes, 1.0)  # a process stuck in the kernel (D state) is not waited for longer


def launcher() -> list[str] | None:
    """The argv prefix that starts a child without a ``preexec_fn`` (see the module's note), or None where
    ``setpriv`` is missing (the caller then passes ``child_setup()``). A child started with it waits for
    ``release``; its stdin must be a pipe, whose rest the program reads."""
    setpriv = _find_setpriv()
    if setpriv is None:
        return None
    _watchdog_fd()  # running before the child starts, so that ``register`` can tell it the group
    return [setpriv, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", _LAUNCH_CODE, "thor-child"]


def watch() -> None:
    """Before a child starts bare (no launcher, no ``preexec_fn``: ``proc.run(quick=True)``): the watchdog
    runs, so that ``register(process, tell_watchdog=True)`` tells it the group right after the start."""
    _watchdog_fd()


def release(process: subprocess.Popen[Any]) -> None:
    """Let a child started with ``launcher()`` run its program, once ``register`` has told the watchdog."""
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # it was killed meanwhile: the caller sees its exit status
        os.write(process.stdin.fileno(), _GO)


def child_setup() -> Callable[[], None] | None:
    """A ``preexec_fn``, run in the child between fork and exec: on Linux the kernel is asked to SIGKILL the
    child the moment this process dies, and the child tells the watchdog its group itself, before the
    program starts, so that no moment exists when Thor could die with the group unknown to the watchdog."""
    prctl = _load_prctl()
    watchdog = _watchdog_fd()
    if prctl is None and watchdog is None:
        return None
    parent = os.getpid()

    def setup() -> None:
        if watchdog is not None:
            os.write(watchdog, b"+%d\n" % os.getpid())  # one write under PIPE_BUF: never interleaved
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the line above: no signal will come
                os.kill(os.getpid(), signal.SIGKILL)

    return setup


def register(process: subprocess.Popen[Any], *, tell_watchdog: bool = False) -> None:
    """Track a started child; ``tell_watchdog`` when the child did not tell it itself (``launcher()``)."""
    with _lock:
        _live[process.pid] = process
        if tell_watchdog:
            _tell(f"+{process.pid}\n")


def unregister(process: subprocess.Popen[Any]) -> None:
    with _lock:
        if _live.get(process.pid) is process:  # not a newer child that was given the same (reused) pid
            del _live[process.pid]
            _tell(f"-{process.pid}\n")


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(process: subprocess.Popen[Any]) -> bool:
    """Whether the child or anything else in its process group still runs."""
    if process.poll() is None:
        return True
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return running_member(process.pid)


def running_member(pgid: int) -> bool:
    """Whether a process of group ``pgid`` runs (zombies waiting to be reaped by init do not count)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True  # cannot tell (no /proc): assume it does
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as file:
                fields = file.read().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def pipe_holders(fd: int) -> list[int]:
    """Other processes that hold the pipe ``fd`` belongs to (Linux ``/proc``; empty elsewhere)."""
    try:
        target = f"pipe:[{os.fstat(fd).st_ino}]"
        entries = os.listdir("/proc")
    except OSError:
        return []
    me, found = os.getpid(), []
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for name in fds:
            try:
                if os.readlink(f"/proc/{entry}/fd/{name}") == target:
                    found.append(int(entry))
                    break
            except OSError:
                continue
    return found


def _wait_gone(processes: list[subprocess.Popen[Any]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if not any(group_alive(p) for p in processes):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _load_prctl() -> Any:
    global _prctl, _prctl_loaded
    if not _prctl_loaded:
        _prctl_loaded = True
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                function = ctypes.CDLL(None, use_errno=True).prctl
                function.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
                function.restype = ctypes.c_int
                _prctl = function
            except (OSError, AttributeError):
                _prctl = None
    return _prctl


def _find_setpriv() -> str | None:
    """util-linux's ``setpriv`` with ``--pdeathsig`` (2.33 and newer), Linux only; looked up once."""
    global _setpriv, _setpriv_looked
    if not _setpriv_looked:
        _setpriv_looked = True
        found = shutil.which("setpriv") if sys.platform.startswith("linux") else None
        if found is not None:
            try:
                usage = subprocess.run(
                    [found, "--help"], capture_output=True, text=True, timeout=5, stdin=subprocess.DEVNULL
                ).stdout
            except (OSError, subprocess.SubprocessError):
                usage = ""
            _setpriv = found if "--pdeathsig" in usage else None
    return _setpriv


def _watchdog_fd() -> int | None:
    """The watchdog's stdin, starting it (and telling it every registered group) when it is not running."""
    global _watchdog
    with _lock:
        if _watchdog is None or _watchdog.poll() is not None:
            if _watchdog is not None:
                _retired.append(_watchdog)  # keep its pipe open: no new file may take its descriptor number
            _watchdog = _start_watchdog()
            if _watchdog is None:
                return None
            _tell("".join(f"+{pgid}\n" for pgid in _live))
        return _watchdog.stdin.fileno() if _watchdog.stdin else None


def _tell(text: str) -> None:
    if not text or _watchdog is None or _watchdog.stdin is None:
        return
    with contextlib.suppress(OSError, ValueError):  # a dead watchdog is replaced at the next start
        os.write(_watchdog.stdin.fileno(), text.encode())


def _start_watchdog() -> subprocess.Popen[bytes] | None:
    try:
        from thor_cli.secrets import child_environment

        return subprocess.Popen(
            ["/bin/sh", "-c", _WATCHDOG_CODE],
            env=child_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outside the tick's group: it must survive a kill of that group
            close_fds=True,
        )
    except OSError:
        return None
