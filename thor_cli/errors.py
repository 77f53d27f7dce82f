"""The error family and the exit codes it maps to.

Every error Thor expects to meet is a ``ThorError``: the CLI prints its message as one line on stderr and
exits with its ``exit_code``. Anything else is a bug and is allowed to show a traceback.
"""

from __future__ import annotations

import sys
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    STEP_FAILED = 1  # a step failed or a release is blocked
    BAD_INPUT = 2  # bad command line, configuration or version
    UNAVAILABLE = 3  # the database or another required service cannot be reached


class ThorError(Exception):
    exit_code: ExitCode = ExitCode.STEP_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ThorError):
    """Bad input on the command line: an unknown step, an invalid version, a bad date."""

    exit_code = ExitCode.BAD_INPUT


class ConfigError(ThorError):
    """The configuration file or the environment is invalid."""

    exit_code = ExitCode.BAD_INPUT


class Refused(ThorError):
    """A request the current state does not allow: retry a succeeded step, cancel a released release.

    Like any bad request it is exit 2; exit 1 stays for "a step failed / a release is blocked".
    """

    exit_code = ExitCode.BAD_INPUT


class ServiceUnavailable(ThorError):
    """The database or an outside service could not be reached, or refused our credentials."""

    exit_code = ExitCode.UNAVAILABLE


class StepError(ThorError):
    """A step's work failed; the engine records it and decides whether to retry."""

    exit_code = ExitCode.STEP_FAILED


class CommandError(StepError):
    """A subprocess exited non-zero or timed out. Its output is already redacted."""

    def __init__(self, message: str, *, argv: list[str], returncode: int | None, output: str) -> None:
        super().__init__(message)
        self.argv = argv
        self.returncode = returncode
        self.output = output


def exit_code_of(exc: ThorError) -> ExitCode:
    """The exit code for ``exc``: its own, except that the engine's refusals (``Conflict``) are bad requests."""
    steering = sys.modules.get("thor_cli.engine.steering")  # only loaded when a steering command ran
    conflict = getattr(steering, "Conflict", None)
    if conflict is not None and isinstance(exc, conflict):
        return ExitCode.BAD_INPUT
    return exc.exit_code
