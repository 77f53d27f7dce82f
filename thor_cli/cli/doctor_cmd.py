"""``thor doctor``: check the configuration, the database and every outside system Thor talks to."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import options

_STYLES = {"ok": "green", "FAIL": "bold red", "skipped": "dim"}


def register(app: typer.Typer) -> None:
    command(app, "doctor", doctor, "thor doctor\nset -a; . /etc/thor/env; set +a; thor doctor --json")


def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Check configuration, database, repositories, Jenkins, JIRA, Slack.

    Changes nothing. Exit 2 when the configuration is wrong, 3 when something cannot be reached.
    """
    from thor_cli.doctor import diagnose

    opts = options(ctx)
    report = diagnose(opts.config, opts.now)
    if as_json:
        render.print_json(report.as_dict())
    else:
        rows = [(c.name, render.Styled(c.status, _STYLES[c.status]), c.detail) for c in report.checks]
        render.emit("Thor doctor", (render.Col("Check"), render.Col("Status"), render.Col("Detail", wrap=True)), rows)
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))
