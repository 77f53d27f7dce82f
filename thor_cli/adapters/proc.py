"""Every subprocess Thor starts goes through ``run``: one place for timeouts, output, redaction and errors.

- Every wait is bounded. A program that runs past its timeout has its process group killed; Thor then waits
  at most ``KILL_WAIT`` for it and ``DRAIN_GRACE`` for its output, and returns whatever happened: a process
  that escaped into another session and kept the output open is found by that pipe and killed too. A
  program that exits is reported by its exit status, even when a background child it left still holds the
  output open (that child is stopped, and the result says so).
- Output is captured as a bounded head and tail while it streams (``capture.Capture``): memory and
  redaction cost stay the same for 8 KB or 200 MB of output. Callers that parse stdout (git) ask for all of
  it with ``full_stdout``.
- The child's environment never holds Thor's secrets (``secrets.child_environment``); a caller passes a
  secret explicitly through ``env`` and names it in ``secrets`` so that it is masked in the output too.
- Children never outlive Thor (``children``): ``live_process_groups()`` and ``terminate_children()``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from thor_cli.adapters import children
from thor_cli.adapters.capture import Capture
from thor_cli.errors import CommandError
from thor_cli.secrets import child_environment, redact

OUTPUT_TAIL_CHARS = 8000
KILL_WAIT = 5.0  # seconds to wait for a SIGKILLed program to be reaped
DRAIN_GRACE = 1.0  # seconds for the output to reach end-of-file once the program has ended
_CHUNK = 65536
LOST_STATUS = 255  # the exit status reported for a program whose status another waiter took

live_process_groups = children.live_process_groups
terminate_children = children.terminate_children
_SPAWN_LISTENERS: list[Callable[[int], None]] = []


def add_spawn_listener(listener: Callable[[int], None]) -> None:
    """Call ``listener(pgid)`` right after each child starts (it must not raise)."""
    _SPAWN_LISTENERS.append(listener)


def remove_spawn_listener(listener: Callable[[int], None]) -> None:
    if listener in _SPAWN_LISTENERS:
        _SPAWN_LISTENERS.remove(listener)


@dataclass(frozen=True)
class ProcResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    note: str = ""  # what else happened: "a background process it left running was stopped"

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


def tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    """At most ``limit`` characters: a quarter from the start, the rest from the end."""
    if len(text) <= limit:
        return text
    head = limit // 4
    return text[:head] + "\n…\n" + text[-(limit - head) :]


def run(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    input: str | None = None,
    merge_stderr: bool = False,
    full_stdout: bool = False,
    secrets: Sequence[str] = (),
    quick: bool = False,
) -> ProcResult:
    """Run a program without a shell. ``env`` is added to Thor's own environment (secrets removed).

    Raises ``CommandError`` (with redacted output) when the program is missing, times out, or exits
    non-zero while ``check`` is true. ``secrets``: values passed in ``env`` to mask in the output.
    ``quick``: the program starts no other and ends by itself in moments; it starts without the launcher
    (see ``children``), which costs more than such a program itself.
    """
    argv = [str(a) for a in argv]
    masked = tuple(secrets)
    shown = _mask(" ".join(argv), masked)
    if cwd is not None and not Path(cwd).is_dir():
        raise CommandError(f"working directory not found: {cwd}", argv=argv, returncode=None, output="")
    problem = _cannot_start(argv[0], cwd, env)
    if problem is not None:
        raise CommandError(problem, argv=argv, returncode=None, output="")
    launcher = None if quick else children.launcher()
    if quick:
        children.watch()
    try:
        # A session of its own, so a timeout kills the whole tree (sh -c "...; sleep" leaves no orphan).
        process = subprocess.Popen(
            [*launcher, *argv] if launcher else argv,
            cwd=cwd,
            env={**child_environment(), **(env or {})},
            stdin=subprocess.PIPE if input is not None or launcher else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True,
            preexec_fn=None if launcher or quick else children.child_setup(),
        )
    except FileNotFoundError:
        raise CommandError(f"program not found: {argv[0]}", argv=argv, returncode=None, output="") from None
    except PermissionError:
        raise CommandError(f"program not executable: {argv[0]}", argv=argv, returncode=None, output="") from None
    children.register(process, tell_watchdog=bool(launcher) or quick)
    if launcher:
        children.release(process)
    for listener in list(_SPAWN_LISTENERS):  # the engine's heartbeat then names the new group in the lease
        listener(process.pid)
    out, err = Capture(keep_all=full_stdout), Capture()
    try:
        timed_out, notes = _communicate(process, input, timeout, out, err)
    except BaseException:
        _stop(process)
        raise
    finally:
        if process.returncode is not None:  # reaped, and the rest of its group killed: nothing left to watch
            children.unregister(process)
    stdout, stderr = out.text(masked), err.text(masked)
    note = "; ".join(notes)
    if timed_out:
        output = tail((stdout + stderr).strip())
        raise CommandError(
            f"{shown} timed out after {timeout:g}s" + (f" ({note})" if note else ""),
            argv=argv,
            returncode=None,
            output=output,
        )
    result = ProcResult(argv, process.returncode, stdout, stderr, note)
    if check and process.returncode != 0:
        last = result.output.splitlines()[-1] if result.output else "no output"
        raise CommandError(
            f"{shown} exited {_status(process.returncode)}: {last}",
            argv=argv,
            returncode=process.returncode,
            output=tail(result.output),
        )
    return result


def _cannot_start(program: str, cwd: str | Path | None, env: Mapping[str, str] | None) -> str | None:
    """Why ``program`` cannot start, looked up before starting it: the launcher would start, then fail to
    exec, a program that is missing."""
    if "/" not in program:
        found = shutil.which(program, path=(env or {}).get("PATH"))
        return None if found is not None else f"program not found: {program}"
    path = Path(cwd or ".") / program  # a relative path is the child's: from its cwd
    if not path.is_file():
        return f"program not found: {program}"
    if not os.access(path, os.X_OK):
        return f"program not executable: {program}"
    return None


def _communicate(
    process: subprocess.Popen[bytes], data: str | None, timeout: float | None, out: Capture, err: Capture
) -> tuple[bool, list[str]]:
    """Feed ``data``, read both pipes and wait for the program, never longer than ``timeout`` plus the grace
    periods. Returns (timed out, notes on what else happened)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    readers: dict[int, Capture] = {}
    for stream, capture in ((process.stdout, out), (process.stderr, err)):
        if stream is not None:
            os.set_blocking(stream.fileno(), False)
            selector.register(stream.fileno(), selectors.EVENT_READ, capture)
            readers[stream.fileno()] = capture
    pending = (data or "").encode()
    if process.stdin is not None:
        if pending:
            os.set_blocking(process.stdin.fileno(), False)
            selector.register(process.stdin.fileno(), selectors.EVENT_WRITE, "stdin")
        else:
            process.stdin.close()
    exit_fd = _pidfd(process.pid)
    if exit_fd is not None:
        selector.register(exit_fd, selectors.EVENT_READ, "exit")
    notes: list[str] = []
    ended_at: float | None = None
    exited = False  # the pidfd said the program has ended
    timed_out = False
    try:
        while readers or process.returncode is None:
            now = time.monotonic()
            if process.returncode is None and process.poll() is not None:
                ended_at = now
            elif exited and process.returncode is None and _status_lost(exit_fd):
                # Reaped by a waiter that was not ours (a stale Popen of the same, reused pid): without this
                # the loop would wait for the full timeout for a status nobody can give it any more.
                process.returncode = LOST_STATUS
                notes.append("its exit status was collected elsewhere and is unknown")
                ended_at = now
            if process.returncode is not None and not readers:
                break
            limits = []
            if process.returncode is None and deadline is not None:
                limits.append(deadline - now)
            if process.returncode is not None:
                limits.append((ended_at or now) + DRAIN_GRACE - now)
            if process.returncode is None and (exit_fd is None or exited):
                limits.append(0.05)  # no pidfd (not Linux), or its status is not there yet: look again soon
            wait = min(limits) if limits else None
            if wait is not None and wait <= 0:
                if process.returncode is None:
                    timed_out = True
                break
            for key, _ in selector.select(wait):
                if key.data == "exit":
                    selector.unregister(key.fd)
                    exited = True
                elif key.data == "stdin":
                    pending = _write(process, selector, pending)
                else:
                    chunk = _read(key.fd)
                    if chunk:
                        key.data.feed(chunk)
                    elif chunk is not None:
                        selector.unregister(key.fd)
                        readers.pop(key.fd, None)
        if timed_out:
            children.signal_group(process.pid, signal.SIGKILL)
            _reap(process, notes)
        _finish(process, selector, readers, notes, after_exit=not timed_out)
    finally:
        selector.close()
        if exit_fd is not None:
            os.close(exit_fd)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    return timed_out, notes


def _finish(
    process: subprocess.Popen[bytes],
    selector: selectors.BaseSelector,
    readers: dict[int, Capture],
    notes: list[str],
    *,
    after_exit: bool,
) -> None:
    """The program has ended. Whatever else of its group still runs is stopped; a process outside the group
    that still holds the output open (it moved to a session of its own) is found by the pipe and killed."""
    if children.group_alive(process):
        children.signal_group(process.pid, signal.SIGKILL)
        if after_exit:
            notes.append("a background process it left running was stopped")
    _drain(selector, readers, DRAIN_GRACE if readers else 0)
    if readers:
        holders = sorted({pid for fd in readers for pid in children.pipe_holders(fd)})
        for pid in holders:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        where = f" (pid {', '.join(map(str, holders))})" if holders else ""
        done = "killed" if holders else "left running"
        notes.append(f"a process it started in another session kept its output open{where}: {done}")
        _drain(selector, readers, DRAIN_GRACE if holders else 0)


def _drain(selector: selectors.BaseSelector, readers: dict[int, Capture], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while readers:
        wait = deadline - time.monotonic()
        if wait <= 0:
            return
        for key, _ in selector.select(wait):
            if key.fd not in readers:
                continue
            chunk = _read(key.fd)
            if chunk:
                readers[key.fd].feed(chunk)
            elif chunk is not None:
                selector.unregister(key.fd)
                readers.pop(key.fd)


def _reap(process: subprocess.Popen[bytes], notes: list[str]) -> None:
    try:
        process.wait(timeout=KILL_WAIT)
    except subprocess.TimeoutExpired:
        notes.append(f"it did not end within {KILL_WAIT:g}s of SIGKILL")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """An exception (Ctrl-C, a bug) while the program runs: its group goes too, bounded."""
    children.signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_WAIT)


def _read(fd: int) -> bytes | None:
    """A chunk; b"" at end-of-file; None when nothing is there after all (a spurious wake-up)."""
    try:
        return os.read(fd, _CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _write(process: subprocess.Popen[bytes], selector: selectors.BaseSelector, pending: bytes) -> bytes:
    assert process.stdin is not None
    try:
        written = os.write(process.stdin.fileno(), pending[:_CHUNK])
    except BlockingIOError:
        return pending
    except BrokenPipeError:
        written = len(pending)  # the program stopped reading: the rest is not wanted
    pending = pending[written:]
    if not pending:
        selector.unregister(process.stdin.fileno())
        process.stdin.close()
    return pending


def _status_lost(exit_fd: int | None) -> bool:
    """Whether the ended program's exit status is gone: it is no longer a zombie waiting for this process."""
    if exit_fd is None:
        return False
    try:
        os.waitid(os.P_PIDFD, exit_fd, os.WEXITED | os.WNOHANG | os.WNOWAIT)  # type: ignore[attr-defined]
    except ChildProcessError:
        return True
    except (AttributeError, OSError):
        return False
    return False


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None


def _status(code: int) -> str:
    if code < 0:
        try:
            return f"on signal {signal.Signals(-code).name}"
        except ValueError:
            return f"on signal {-code}"
    return str(code)


def _mask(text: str, extra: tuple[str, ...]) -> str:
    for value in extra:
        if len(value) >= 4:
            text = text.replace(value, "***")
    return redact(text)
