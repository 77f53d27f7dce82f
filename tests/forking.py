"""``thor`` in a process of its own, forked from the test process instead of started afresh.

A fresh ``python -m thor_cli tick`` spends 0.4-0.5 s of CPU importing SQLAlchemy, pydantic, Typer and the
service clients before it looks at anything, and the concurrency and crash tests start about a hundred of
them: a fifth of the suite's CPU on a two-core machine. A fork of the test process has all of that imported
already and starts in milliseconds. It is still a process of its own, which is what those tests are about:
its own pid, session and process group, its own database connections, lease and watchdog, killed by a real
SIGKILL at a real point. What a fork would inherit and a fresh interpreter would not have is reset in
``_become_thor``: standard streams, signal dispositions, logging handlers, exception hooks and warning
filters, the environment, the working directory, and Thor's per-process state (its children and watchdog,
installed failpoints, spawn listeners). The fork is made while the test process may have other threads (fake
servers, other spawns); Python re-creates its own locks in the child, and every wait on a fork is bounded, so
a lock held by one of those threads at that instant would fail the test by its timeout, not hang it.

Tests about start-up itself (what a command imports, how an interpreter starts) still start a real one.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

# What a thor child would import anyway: imported once here, in the test process, so each fork has it.
_PRELOAD = (
    "thor_cli.cli",
    "thor_cli.engine.tick",
    "thor_cli.runtime",
    "thor_cli.store.db",
    "thor_cli.steps.git_branch",
    "thor_cli.steps.git_merge",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql.psycopg2",
    "psycopg2",
    "jira",
    "jenkins",
    "slack_sdk",
    "requests",
)
_preloaded = False
# Pipes are made, the child forked and the parent's copies of the child's ends closed under this lock, so a
# child forked by another thread never holds this one's write ends (its reader would wait for that one too).
_fork_lock = threading.Lock()


def _preload() -> None:
    global _preloaded
    if _preloaded:
        return
    import importlib

    for name in _PRELOAD:
        with contextlib.suppress(ImportError):  # a module renamed since: the fork imports it itself
            importlib.import_module(name)
    _preloaded = True


class ThorProcess:
    """A forked ``thor ARGS``: the part of ``subprocess.Popen`` the tests use (pid, poll, wait, communicate,
    send_signal, kill, returncode), its output read into memory as it comes so the child never blocks on a
    full pipe."""

    def __init__(self, args: Sequence[str], *, env: Mapping[str, str], cwd: Path | None, new_session: bool) -> None:
        _preload()
        self.args = ["thor", *args]
        self.returncode: int | None = None
        with _fork_lock:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                _become_thor(list(args), dict(env), cwd, new_session, out_w, err_w)
            os.close(out_w)
            os.close(err_w)
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)
        self._out = _Reader(out_r)
        self._err = _Reader(err_r)

    def poll(self) -> int | None:
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self._ended(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            _, status = os.waitpid(self.pid, 0)
            self._ended(status)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Wait for the end and for both streams to close (as ``Popen.communicate``); stdout and stderr."""
        self.wait(timeout)
        return self._out.text(timeout), self._err.text(timeout)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _ended(self, status: int) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)
        os.close(self._pidfd)

    def __del__(self) -> None:  # a test that failed half-way: leave no zombie behind
        if getattr(self, "returncode", 0) is None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)


class _Reader:
    """Drains one pipe in a thread until every holder of its write end has closed it."""

    def __init__(self, fd: int) -> None:
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._thread.start()

    def _drain(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 65536):
                self._chunks.append(chunk)
        finally:
            os.close(fd)

    def text(self, timeout: float | None) -> str:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired("thor", timeout or 0)
        return b"".join(self._chunks).decode("utf-8", errors="replace")


def _become_thor(
    args: list[str], env: dict[str, str], cwd: Path | None, new_session: bool, out: int, err: int
) -> NoReturn:
    """In the forked child: turn into ``python -m thor_cli ARGS`` started with ``env`` in ``cwd``; exits."""
    code = 1
    try:
        # Objects inherited from the test process are never collected here: the finalizer of an inherited
        # database connection would close the parent's session on the server.
        gc.freeze()
        if new_session:
            os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in (null, out, err):
            os.close(fd)
        _fresh_signals()
        import faulthandler

        faulthandler.disable()  # pytest's points at the test process's stderr
        sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = sys.__stderr__ = open(  # noqa: SIM115
            2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False
        )
        _fresh_logging()
        _fresh_hooks_and_warnings()
        if cwd is not None:
            os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["thor", *args]
        _fresh_thor_state()

        from thor_cli.cli import main

        code = main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:  # what a fresh interpreter would print for an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)  # no atexit handler of the test process, no finalizer: this process was never pytest


def _fresh_signals() -> None:
    """Signal dispositions and mask as a fresh interpreter has them."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _fresh_logging() -> None:
    """No handler of pytest's: library warnings go to stderr through logging's last resort, as in a fresh
    interpreter."""
    import logging

    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
            logger.disabled = False
            logger.propagate = True


def _fresh_hooks_and_warnings() -> None:
    """pytest's exception hooks (they collect what a thread raised, for the test report) and its warning
    filters (a test may turn warnings into errors) are the test process's; a fresh interpreter prints an
    uncaught exception and has Python's default filters."""
    import warnings

    sys.excepthook = sys.__excepthook__
    sys.unraisablehook = sys.__unraisablehook__
    threading.excepthook = threading.__excepthook__
    warnings.resetwarnings()
    for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning, DeprecationWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")


def _fresh_thor_state() -> None:
    """Thor's per-process state as a fresh interpreter has it: what the test process's own Thor runs left
    in these modules belongs to the test process (its children, its watchdog, its failpoint callbacks)."""
    from thor_cli.adapters import children, git_auth, proc
    from thor_cli.engine import failpoints

    children._lock = threading.RLock()
    children._live.clear()
    children._watchdog = None
    children._retired.clear()
    proc._SPAWN_LISTENERS.clear()
    failpoints.clear()
    git_auth._policy = git_auth.TokenPolicy()
    from thor_cli import secrets

    secrets._registered.clear()
