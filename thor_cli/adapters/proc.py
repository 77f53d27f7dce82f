"""Every subprocess Thor starts goes through ``run``: one place for timeouts, redaction and errors."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from thor_cli.errors import CommandError
from thor_cli.secrets import redact

OUTPUT_TAIL_CHARS = 8000


@dataclass(frozen=True)
class ProcResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


def tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def run(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    input: str | None = None,
    merge_stderr: bool = False,
) -> ProcResult:
    """Run a program without a shell. ``env`` is added to Thor's own environment.

    Raises ``CommandError`` (with redacted output) when the program is missing, times out, or exits
    non-zero while ``check`` is true.
    """
    argv = [str(a) for a in argv]
    full_env = {**os.environ, **(env or {})}
    shown = redact(" ".join(argv))
    try:
        # A session of its own, so a timeout kills the whole tree (sh -c "...; sleep" leaves no orphan).
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError:
        raise CommandError(f"program not found: {argv[0]}", argv=argv, returncode=None, output="") from None
    except PermissionError:
        raise CommandError(f"program not executable: {argv[0]}", argv=argv, returncode=None, output="") from None
    with _LIVE_LOCK:
        _LIVE.add(process.pid)
        listeners = list(_SPAWN_LISTENERS)
    for listener in listeners:  # the engine records the new group with its lease before waiting on it
        listener(process.pid)
    try:
        return _wait(process, argv, shown, input=input, timeout=timeout, check=check)
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(process.pid)


def _wait(
    process: subprocess.Popen[str],
    argv: list[str],
    shown: str,
    *,
    input: str | None,
    timeout: float | None,
    check: bool,
) -> ProcResult:
    try:
        stdout, stderr = process.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate()
        output = redact(_text(stdout) + _text(stderr))
        raise CommandError(
            f"{shown} timed out after {timeout:g}s", argv=argv, returncode=None, output=tail(output)
        ) from None
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    completed = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    result = ProcResult(argv, completed.returncode, redact(completed.stdout or ""), redact(completed.stderr or ""))
    if check and completed.returncode != 0:
        last = result.output.splitlines()[-1] if result.output else "no output"
        raise CommandError(
            f"{shown} exited {completed.returncode}: {last}",
            argv=argv,
            returncode=completed.returncode,
            output=tail(result.output),
        )
    return result


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


# The process groups of the children running now (each child leads its own session), so the engine can record
# them with its lease and stop them when a step is interrupted or runs past its timeout.
_LIVE: set[int] = set()
_LIVE_LOCK = threading.Lock()
_SPAWN_LISTENERS: list[Callable[[int], None]] = []


def add_spawn_listener(listener: Callable[[int], None]) -> None:
    """Call ``listener(pgid)`` right after each child starts (it must not raise)."""
    with _LIVE_LOCK:
        _SPAWN_LISTENERS.append(listener)


def remove_spawn_listener(listener: Callable[[int], None]) -> None:
    with _LIVE_LOCK:
        if listener in _SPAWN_LISTENERS:
            _SPAWN_LISTENERS.remove(listener)


def live_process_groups() -> list[int]:
    with _LIVE_LOCK:
        return sorted(_LIVE)


def terminate_children(grace: float = 2.0) -> None:
    """SIGTERM every running child's group, then SIGKILL what is left after ``grace`` seconds."""
    groups = live_process_groups()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in groups:
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                continue
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and set(groups) & set(live_process_groups()):
            time.sleep(0.01)
        groups = [g for g in groups if g in live_process_groups()]
        if not groups:
            return
