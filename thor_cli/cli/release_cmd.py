"""``thor release start|cancel|reschedule VERSION``."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.options import flush_notifications, runtime

release_app = typer.Typer(help="Start, cancel or reschedule one release.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")


@release_app.command("start")
def start(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The release, like 2021.09."),
    force: bool = typer.Option(False, "--force", help="Start it even if its feature freeze is over a cycle away."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what it would do; change nothing."),
) -> None:
    """Start a release now (for example one whose start tick missed)."""
    from thor_cli.engine.steering import start_release

    render.say(start_release(runtime(ctx), version, force=force, dry_run=dry_run))
    if not dry_run:
        flush_notifications(ctx)


@release_app.command("cancel")
def cancel(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The release, like 2021.09."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the event log)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what it would do; change nothing."),
) -> None:
    """Cancel a release; before it begins, this stops tick from ever starting it."""
    from thor_cli.engine.steering import cancel_release

    render.say(cancel_release(runtime(ctx), version, reason, dry_run=dry_run))
    if not dry_run:
        flush_notifications(ctx)


@release_app.command("reschedule")
def reschedule(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The release, like 2021.09."),
    feature_freeze: str = typer.Option(..., "--feature-freeze", metavar="YYYY-MM-DD"),
    code_freeze: str = typer.Option(..., "--code-freeze", metavar="YYYY-MM-DD"),
    force: bool = typer.Option(False, "--force", help="Allow a feature freeze at or after the next release's."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what it would do; change nothing."),
) -> None:
    """Move one release's dates (the calendar rule is unchanged)."""
    from thor_cli.engine.steering import reschedule_release
    from thor_cli.releases import parse_day

    ff, cf = parse_day(feature_freeze, "--feature-freeze"), parse_day(code_freeze, "--code-freeze")
    render.say(reschedule_release(runtime(ctx), version, ff, cf, force=force, dry_run=dry_run))
    if not dry_run:
        flush_notifications(ctx)
