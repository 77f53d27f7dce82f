"""Every subprocess Thor starts goes through ``run``: one place for timeouts, redaction and errors."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
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
