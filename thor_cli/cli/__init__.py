"""The ``thor`` command line: parse, build the runtime, call one core function, render.

This is the only layer that prints or maps errors to exit codes (see ``thor_cli.errors.ExitCode``).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

import typer

from thor_cli import __version__
from thor_cli.cli import (
    calendar_cmd,
    db_cmd,
    demo_cmd,
    doctor_cmd,
    envs_cmd,
    hotfix_cmd,
    notes_cmd,
    release_cmd,
    report_cmd,
    serve_cmd,
    status_cmd,
    steer_cmd,
    tick_cmd,
)
from thor_cli.cli.helptext import CONTEXT_SETTINGS, ThorGroup
from thor_cli.cli.options import GlobalOptions
from thor_cli.errors import ExitCode, Interrupted, ThorError, UsageError
from thor_cli.secrets import redact

app = typer.Typer(
    name="thor",
    help="Thor drives Gen3's monthly release: calendar, steps, state, notifications.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=ThorGroup,
    context_settings=CONTEXT_SETTINGS,
    epilog="""
    thor calendar                      the next six release cycles
    thor tick                          what cron runs every day
    thor status 2021.09                one release's steps
    thor retry 2021.09 load-tests      re-arm a failed step for the next tick
    thor demo                          a whole release cycle in a sandbox
    """,
)


def _version(value: bool) -> None:
    if value:
        print(f"thor {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    config: str | None = typer.Option(
        None, "--config", metavar="PATH", help="thor.toml to use (default: $THOR_CONFIG, else ./thor.toml)."
    ),
    now: str | None = typer.Option(
        None, "--now", metavar="ISO8601", help="Behave as if it were this date/time (also $THOR_NOW)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Say more on stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    if verbose and quiet:
        raise UsageError("-v/--verbose and -q/--quiet contradict each other: give one")
    ctx.obj = GlobalOptions(config=config, now=now, verbose=verbose, quiet=quiet)


calendar_cmd.register(app)
status_cmd.register(app)
tick_cmd.register(app)
steer_cmd.register(app)
release_cmd.register(app)
db_cmd.register(app)
doctor_cmd.register(app)
notes_cmd.register(app)
demo_cmd.register(app)
envs_cmd.register(app)
report_cmd.register(app)
serve_cmd.register(app)
hotfix_cmd.register(app)


_GLOBAL_FLAGS = frozenset({"-v", "--verbose", "-q", "--quiet"})
_GLOBAL_WITH_VALUE = frozenset({"--config", "--now"})
# Options of sub-commands that take a value: the token after them is never a global option.
_VALUE_OPTIONS = frozenset(
    {"--reason", "--note", "--from", "--months", "--wait", "--feature-freeze", "--code-freeze", "--dir", "--out"}
)


def hoist_global_options(args: list[str]) -> list[str]:
    """Let global options follow the sub-command too: `thor tick --now 2021-09-10` is what people type."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            rest.extend(args[index:])
            break
        name = token.split("=", 1)[0]
        if rest and rest[-1] in _VALUE_OPTIONS:
            rest.append(token)
        elif token in _GLOBAL_FLAGS or (name in _GLOBAL_WITH_VALUE and "=" in token):
            hoisted.append(token)
        elif token in _GLOBAL_WITH_VALUE and index + 1 < len(args):
            hoisted.extend(args[index : index + 2])
            index += 1
        else:
            rest.append(token)
        index += 1
    return hoisted + rest


def _is_parser_error(exc: Exception) -> bool:
    """Click's usage errors (typer bundles its own click in recent versions, so match by shape)."""
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code") and hasattr(exc, "show")


@functools.cache
def _command() -> typer.core.TyperGroup:
    """The click command, built from ``app`` once per process: building it inspects every command's
    signature (some 10 ms), which tests calling ``main`` in-process a thousand times would pay each time."""
    return typer.main.get_command(app)  # type: ignore[return-value]


def _interrupt_on_sigint() -> object:
    """Ctrl-C raises ``Interrupted`` rather than KeyboardInterrupt, which typer would turn into a silent exit
    130 wherever it lands: Thor always says it was interrupted, once. Returns the handler to restore."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    return signal.signal(signal.SIGINT, handler)


def run() -> NoReturn:
    """The ``thor`` program (console script and ``python -m thor_cli``): ``main`` as the process's whole life.

    The process ends right after, so nothing it made needs the garbage collector any more: ``gc.freeze()``
    spares the interpreter's teardown its collection passes over every object of every module Thor
    imported, 90 ms of each command (a fifth of a quiet ``thor tick``). Teardown itself still runs: atexit
    handlers, flushed streams, closed files. ``main`` alone (the tests call it in-process) leaves gc alone.
    """
    code = main()
    import gc

    gc.freeze()
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run thor; returns the exit code. Commands signal a non-zero code with ``typer.Exit``."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    previous = _interrupt_on_sigint()
    try:
        result = _command()(args=args, prog_name="thor", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else ExitCode.BAD_INPUT)
    except ThorError as exc:
        print(f"thor: {redact(exc.message)}", file=sys.stderr)
        return int(exc.exit_code)
    except Interrupted as exc:  # Ctrl-C; a step that was running recorded it and freed its lease
        print(f"thor: interrupted ({exc.signal_name})", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print("thor: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if _is_parser_error(exc):
            if not args or type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()  # type: ignore[attr-defined]  # bare `thor`: the help is the answer
                return int(ExitCode.BAD_INPUT)
            hint = _help_hint(exc, args)
            print(f"thor: {exc.format_message()} (see {hint})", file=sys.stderr)  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", ExitCode.BAD_INPUT))
        # A bug: one line, the traceback only on request.
        if os.environ.get("THOR_DEBUG"):
            traceback.print_exc()
        print(
            f"thor: internal error: {type(exc).__name__}: {redact(str(exc))} (set THOR_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return int(ExitCode.STEP_FAILED)
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]
    # --help and typer.Exit end here with their exit code; commands that finish normally return None.
    return result if isinstance(result, int) else 0


def _help_hint(exc: Exception, args: list[str]) -> str:
    """The help of the command that was given (`thor release reschedule --help`), else `thor --help`."""
    context = getattr(exc, "ctx", None)
    path = getattr(context, "command_path", "") or ""
    if path.startswith("thor ") and getattr(context, "parent", None) is not None:
        return f"`{path} --help`"
    command = next((a for a in args if not a.startswith("-")), None)
    return f"`thor {command} --help`" if command and command in _COMMAND_NAMES else "`thor --help`"


_COMMAND_NAMES = frozenset(
    {
        "calendar",
        "status",
        "log",
        "tick",
        "step",
        "steps",
        "retry",
        "skip",
        "approve",
        "release",
        "db",
        "doctor",
        "notes",
        "demo",
        "report",
        "serve",
        "hotfix",
    }
)
