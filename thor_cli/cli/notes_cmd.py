"""``thor notes VERSION [--json]``: print a release's notes as the release-notes step wrote them."""

from __future__ import annotations

import sys

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import runtime


def register(app: typer.Typer) -> None:
    command(app, "notes", notes, "thor notes 2021.09\nthor notes 2021.09 > release-notes.md\nthor notes 2021.09 --json")


def notes(
    ctx: typer.Context,
    version: str = typer.Argument(..., metavar="VERSION", help="The release, like 2021.09."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Print the release notes written by the release-notes step."""
    from thor_cli.notes import stored_notes

    found = stored_notes(runtime(ctx), version)
    if as_json:
        render.print_json(
            {"version": found.version, "path": found.path, "source": found.source, "markdown": found.markdown}
        )
        return
    text = found.markdown
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
