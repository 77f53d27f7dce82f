"""Creating and migrating the schema with Alembic, so a long-lived database survives upgrades of Thor.

Commands that write call ``ensure_schema``; the common case (schema at head) costs one small query and never
imports Alembic. Commands that only read call ``require_schema``, which never creates or migrates. Either way
a database migrated by a newer Thor (a revision this Thor has no migration for: the rolling upgrade of two
cron hosts) is refused before anything is written to it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from thor_cli.errors import ServiceUnavailable

# Bump together with a new file in thor_cli/migrations/versions/.
HEAD_REVISION = "0002"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant will do: it only has to be the same for every Thor process.
_PG_LOCK_KEY = 0x7468_6F72
UPGRADE_HINT = "`thor db upgrade` creates it"


def known_revisions() -> frozenset[str]:
    """The revisions this Thor has migrations for, from the file names (``0001_initial_schema.py``), so
    checking one never imports Alembic."""
    return frozenset(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


class SchemaTooNew(ServiceUnavailable):
    """The database was migrated by a newer Thor: only upgrading Thor here helps."""

    def __init__(self, revision: str) -> None:
        super().__init__(
            f"the database schema ({revision}) is newer than this Thor ({HEAD_REVISION}): upgrade Thor on this host"
        )
        self.revision = revision


def check_not_newer(revision: str | None) -> None:
    if revision is not None and revision not in known_revisions():
        raise SchemaTooNew(revision)


def current_revision(connection: Connection) -> str | None:
    """The schema revision; None when there is no schema yet. A file that is not a database, or a server
    that refuses the query for another reason, raises (it is not an empty database)."""
    try:
        with connection.begin_nested() if connection.in_transaction() else connection.begin():
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        if connection.dialect.has_table(connection, "alembic_version"):
            raise
        return None


def ensure_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        revision = current_revision(connection)
    if revision == HEAD_REVISION:
        return
    check_not_newer(revision)
    upgrade(engine)


def require_schema(engine: Engine, where: str) -> None:
    """For commands that only read: the schema must be at head already; one line naming the fix if not."""
    with engine.connect() as connection:
        revision = current_revision(connection)
    if revision == HEAD_REVISION:
        return
    check_not_newer(revision)
    if revision is None:
        raise ServiceUnavailable(f"no Thor schema in the database at {where}: {UPGRADE_HINT}")
    raise ServiceUnavailable(
        f"the database schema ({revision}) is older than this Thor ({HEAD_REVISION}): run `thor db upgrade`"
    )


def upgrade(engine: Engine) -> str:
    """Migrate to head; safe when several Thor processes start on an empty database at once."""
    from alembic import command
    from alembic.config import Config

    from thor_cli.store.db import database_errors

    with database_errors(), engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            connection.commit()
        elif connection.dialect.name == "sqlite":
            # One writer at a time: a second process waits here (busy_timeout), then finds the schema at head.
            # The DDL below runs inside this transaction, so nobody ever sees half a schema.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            before = current_revision(connection)
            check_not_newer(before)  # under the lock: a newer Thor may have migrated it meanwhile
            if before != HEAD_REVISION:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS_DIR))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.rollback()  # after a failed migration: else the unlock fails and hides the cause
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                connection.commit()
    return HEAD_REVISION
