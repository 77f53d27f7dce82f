"""``thor db upgrade``: create or migrate the schema."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import CONTEXT_SETTINGS, ThorCommand, ThorGroup, summary
from thor_cli.cli.options import runtime

db_app = typer.Typer(
    help="Database administration: create or migrate the schema.",
    no_args_is_help=True,
    cls=ThorGroup,
    context_settings=CONTEXT_SETTINGS,
    epilog="THOR_DATABASE_URL=postgresql://thor@db.example.org/thor thor db upgrade",
)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


def upgrade(ctx: typer.Context) -> None:
    """Create the database schema, or migrate it to this Thor.

    Run it after each upgrade of Thor.
    """
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


_EXAMPLES = "thor db upgrade\nthor --config thor.toml db upgrade"
db_app.command("upgrade", cls=ThorCommand, short_help=summary(upgrade), epilog=_EXAMPLES)(upgrade)
