"""``thor release start|cancel|reschedule VERSION``."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import CONTEXT_SETTINGS, ThorCommand, ThorGroup, summary
from thor_cli.cli.options import flush_notifications, runtime

release_app = typer.Typer(
    help="Start, cancel or reschedule one release.",
    no_args_is_help=True,
    cls=ThorGroup,
    context_settings=CONTEXT_SETTINGS,
    epilog="""
    thor release start 2021.09
    thor release cancel 2021.10 --reason "merged into 2021.11"
    thor release reschedule 2021.12 --feature-freeze 2021-12-03 --code-freeze 2021-12-17
    """,
)
VERSION_ARG = typer.Argument(..., metavar="VERSION", help="The release, like 2021.09.")


def _command(name: str, examples: str):  # type: ignore[no-untyped-def]
    def register(func):  # type: ignore[no-untyped-def]
        return release_app.command(name, cls=ThorCommand, short_help=summary(func), epilog=examples)(func)

    return register


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")


@_command("start", "thor release start 2021.09\nthor release start 2021.09 --dry-run --now 2021-09-10")
def start(
    ctx: typer.Context,
    version: str = VERSION_ARG,
    force: bool = typer.Option(False, "--force", help="Start it even if its feature freeze is over a cycle away."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what it would do; change nothing."),
) -> None:
    """Start a release now: a missed start, or one cancelled earlier."""
    from thor_cli.engine.steering import start_release

    render.say(start_release(runtime(ctx), version, force=force, dry_run=dry_run))
    if not dry_run:
        flush_notifications(ctx)


@_command("cancel", 'thor release cancel 2021.10 --reason "merged into 2021.11"')
def cancel(
    ctx: typer.Context,
    version: str = VERSION_ARG,
    reason: str | None = typer.Option(None, "--reason", metavar="TEXT", help="Why (kept in the event log)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what it would do; change nothing."),
) -> None:
    """Cancel a release; before it starts, tick will never start it."""
    from thor_cli.engine.steering import cancel_release

    render.say(cancel_release(runtime(ctx), version, reason, dry_run=dry_run))
    if not dry_run:
        flush_notifications(ctx)


@_command("reschedule", "thor release reschedule 2021.12 --feature-freeze 2021-12-03 --code-freeze 2021-12-17")
def reschedule(
    ctx: typer.Context,
    version: str = VERSION_ARG,
    feature_freeze: str = typer.Option(
        ..., "--feature-freeze", metavar="YYYY-MM-DD", help="The new feature freeze (midnight, schedule timezone)."
    ),
    code_freeze: str = typer.Option(
        ..., "--code-freeze", metavar="YYYY-MM-DD", help="The new code freeze (midnight, schedule timezone)."
    ),
    force: bool = typer.Option(False, "--force", help="Allow a feature freeze at or after the next release's."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what it would do; change nothing."),
) -> None:
    """Move one release's freeze dates (the calendar rule is unchanged)."""
    from thor_cli.engine.steering import reschedule_release
    from thor_cli.releases import parse_day

    ff, cf = parse_day(feature_freeze, "--feature-freeze"), parse_day(code_freeze, "--code-freeze")
    render.say(reschedule_release(runtime(ctx), version, ff, cf, force=force, dry_run=dry_run))
    if not dry_run:
        flush_notifications(ctx)
