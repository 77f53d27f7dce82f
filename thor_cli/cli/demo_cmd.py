"""``thor demo``: a whole release cycle in a sandbox, with nothing installed but python3 and git."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    directory: Path | None = typer.Option(
        None,
        "--dir",
        metavar="DIR",
        help="Build the sandbox here and keep it (a previous demo sandbox there is rebuilt from scratch).",
    ),
    setup_only: bool = typer.Option(
        False, "--setup-only", help="Only build the sandbox (needs --dir), to run the cycle by hand."
    ),
) -> None:
    """Run release 2021.09 from feature freeze to code freeze in a throw-away sandbox, with time travel."""
    from thor_cli.demo.run import demo_main

    code = demo_main(directory, setup_only=setup_only)
    if code:
        raise typer.Exit(code)
