"""``thor report``: write the release board, a static site, to a directory."""

from __future__ import annotations

from pathlib import Path

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import runtime
from thor_cli.errors import UsageError


def register(app: typer.Typer) -> None:
    command(app, "report", report, "thor report\nthor report --out board")


def report(
    ctx: typer.Context,
    out: Path | None = typer.Option(
        None, "--out", metavar="DIR", help="Where to write the site (default: [report] dir of thor.toml)."
    ),
) -> None:
    """Write the release board, a static site for project managers.

    Releases, environments and the calendar: HTML, one CSS file and the ICS feed;
    no JavaScript, it works from file://.
    """
    from thor_cli.report.build import write_site

    rt = runtime(ctx)
    configured = rt.settings.config.report.dir
    if out is None and configured is None:
        raise UsageError("where to? give --out DIR or set [report] dir in thor.toml")
    target = out if out is not None else rt.settings.resolve(configured)  # type: ignore[arg-type]
    write_site(rt, target)
    render.say(f"report written to {target / 'index.html'}")
