"""The ``thor`` command line: parse, build the runtime, call one core function, render.

This is the only layer that prints or maps errors to exit codes (see ``thor_cli.errors.ExitCode``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from thor_cli import __version__
from thor_cli.cli import calendar_cmd, db_cmd, release_cmd, status_cmd, steer_cmd, tick_cmd
from thor_cli.cli.options import GlobalOptions
from thor_cli.errors import ExitCode, ThorError
from thor_cli.secrets import redact

app = typer.Typer(
    name="thor",
    help="Thor drives Gen3's monthly release: calendar, steps, state, notifications.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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
    ctx.obj = GlobalOptions(config=config, now=now, verbose=verbose, quiet=quiet)


calendar_cmd.register(app)
status_cmd.register(app)
tick_cmd.register(app)
steer_cmd.register(app)
release_cmd.register(app)
db_cmd.register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run thor; returns the exit code. Commands signal a non-zero code with ``typer.Exit``."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="thor", standalone_mode=True)
    except SystemExit as exc:  # typer/click end every run this way, usage errors (code 2) included
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else ExitCode.BAD_INPUT)
    except ThorError as exc:
        print(f"thor: {redact(exc.message)}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("thor: interrupted", file=sys.stderr)
        return 130
    return 0
