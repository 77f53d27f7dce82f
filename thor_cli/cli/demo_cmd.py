"""``thor demo``: a whole release cycle in a sandbox, with nothing installed but python3 and git."""

from __future__ import annotations

from pathlib import Path

import typer

from thor_cli.cli.helptext import command


def register(app: typer.Typer) -> None:
    command(
        app,
        "demo",
        demo,
        """
        thor demo                              run the cycle in a throw-away sandbox
        thor demo --dir thor-demo              keep the sandbox to explore
        thor demo --dir thor-demo --setup-only build it, then follow docs/tutorial.md
        """,
    )


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
    """Run release 2021.09 in a throw-away sandbox, with time travel.

    From feature freeze to code freeze, with local git repositories and an SQLite database; Ctrl-C stops it
    at once and cleans up.
    """
    import sys

    from thor_cli.demo.run import INTERRUPTED, Interrupted, demo_main

    try:
        code = demo_main(directory, setup_only=setup_only)
    except KeyboardInterrupt as exc:
        if not isinstance(exc, Interrupted):
            print("thor: interrupted", file=sys.stderr)
        raise typer.Exit(INTERRUPTED) from None
    if code:
        raise typer.Exit(code)
