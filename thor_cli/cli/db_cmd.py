"""``thor db upgrade``: create or migrate the schema."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.options import runtime

db_app = typer.Typer(help="Database administration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Create the schema, or migrate it to this version of Thor."""
    from thor_cli.secrets import redact
    from thor_cli.store.db import open_store
    from thor_cli.store.schema import upgrade as migrate

    rt = runtime(ctx)
    rt.validate()
    store = open_store(rt.settings.database_url, create_schema=False)
    try:
        revision = migrate(store.engine)
    finally:
        store.dispose()
    render.say(f"database {redact(rt.settings.database_url)} is at schema revision {revision}")
