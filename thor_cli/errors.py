"""The error family and the exit codes it maps to.

Every error Thor expects to meet is a ``ThorError``: the CLI prints its message as one line on stderr and
exits with its ``exit_code``. Anything else is a bug and is allowed to show a traceback.
"""

from __future__ import annotations

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


class Interrupted(BaseException):  # not an error: a person (or the system) stopped Thor
    """SIGINT or SIGTERM while a step ran; the step recorded the interruption and released its lease.

    A BaseException, so that nothing between the signal and the engine mistakes it for a step's failure.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)
        self.signum = signum
        self.exit_code = 128 + signum  # 130 for SIGINT, 143 for SIGTERM, as shells report them
