"""``thor hotfix VERSION --repo REPO COMMIT...``: cherry-pick fixes onto the release's stable branch and tag."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import flush_notifications, runtime


def register(app: typer.Typer) -> None:
    command(
        app,
        "hotfix",
        hotfix,
        "thor hotfix 2021.09 --repo uc-cdis/fence 1a2b3c4\nthor hotfix 2021.09 --repo uc-cdis/fence 1a2b3c4 --dry-run",
    )


def hotfix(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The release, like 2021.09."),
    commits: list[str] = typer.Argument(..., help="Commits to cherry-pick, in order (SHAs)."),
    repo: str = typer.Option(..., "--repo", metavar="REPO", help="The repository, as named in [repos]."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be done; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Cherry-pick fixes onto a release's stable branch and tag a hotfix.

    One repository at a time; the tag is VERSION.N (see docs/hotfix.md).
    """
    from dataclasses import asdict

    from thor_cli.hotfix import hotfix as run_hotfix

    result = run_hotfix(runtime(ctx), version, repo, commits, dry_run=dry_run)
    if result.outcome in ("created", "recorded"):
        flush_notifications(ctx)
    if as_json:
        render.print_json(asdict(result))
        return
    render.say(result.summary)
    for line in result.lines:
        render.say(f"  {line}")
    if result.notes_path:
        render.say(f"  release notes: {result.notes_path}")
