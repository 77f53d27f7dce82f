"""Creating and migrating the schema with Alembic, so a long-lived database survives upgrades of Thor.

Every command calls ``ensure_schema``; the common case (schema at head) costs one small query and never
imports Alembic.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

# Bump together with a new file in thor_cli/migrations/versions/.
HEAD_REVISION = "0002"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant will do: it only has to be the same for every Thor process.
_PG_LOCK_KEY = 0x7468_6F72


def current_revision(connection: Connection) -> str | None:
    try:
        with connection.begin_nested() if connection.in_transaction() else connection.begin():
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def ensure_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        if current_revision(connection) == HEAD_REVISION:
            return
    upgrade(engine)


def upgrade(engine: Engine) -> str:
    """Migrate to head; safe when several Thor processes start on an empty database at once."""
    from alembic import command
    from alembic.config import Config

    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            connection.commit()
        elif connection.dialect.name == "sqlite":
            # One writer at a time: a second process waits here (busy_timeout), then finds the schema at head.
            # The DDL below runs inside this transaction, so nobody ever sees half a schema.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            before = current_revision(connection)
            if before != HEAD_REVISION:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS_DIR))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                connection.commit()
    return HEAD_REVISION
