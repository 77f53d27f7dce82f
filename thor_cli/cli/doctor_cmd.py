"""``thor doctor``: check the configuration, the database and every outside system Thor talks to."""

from __future__ import annotations

import typer
from rich.text import Text

from thor_cli.cli import render
from thor_cli.cli.options import options

_STYLES = {"ok": "green", "FAIL": "bold red", "skipped": "dim"}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Check configuration, database, repositories, Jenkins, JIRA and Slack; exit 2 or 3 on a problem."""
    from thor_cli.doctor import diagnose

    opts = options(ctx)
    report = diagnose(opts.config, opts.now)
    if as_json:
        render.print_json(report.as_dict())
    else:
        rows = [(c.name, Text(c.status, style=_STYLES[c.status]), c.detail) for c in report.checks]
        render.emit("Thor doctor", ("Check", "Status", "Detail"), rows)
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))
