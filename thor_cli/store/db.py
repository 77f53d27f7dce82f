"""Opening the database: SQLite by default, PostgreSQL in production, the same code on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session

from thor_cli.errors import ConfigError, ServiceUnavailable
from thor_cli.secrets import redact


class Store:
    """The engine plus the schema guarantee. Writes go through ``transaction()``; reads may use ``session()``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except OperationalError as exc:
            raise ServiceUnavailable(f"database error: {_one_line(exc)}") from None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: everything written in the block commits together at its end, or not at all.

        Query helpers take the session and never commit or roll back themselves; an exception leaving the
        block rolls the whole unit back.
        """
        with self.session() as session, session.begin():
            yield session

    def database_now(self) -> datetime | None:
        """The PostgreSQL server's clock (None on SQLite, whose only clock is this host's)."""
        if self.dialect != "postgresql":
            return None
        with self.engine.connect() as connection:
            moment = connection.execute(text("SELECT clock_timestamp()")).scalar_one()
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def dispose(self) -> None:
        self.engine.dispose()


def _one_line(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return redact(text[0] if text else type(original).__name__)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers (thor status) run while a tick writes; busy_timeout makes concurrent ticks wait.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            try:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ServiceUnavailable(f"cannot create the database directory for {path}: {exc.strerror}") from None
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith(("postgresql", "postgres")):
        # psycopg2 is the driver Thor ships with; SQLAlchemy 2.1 would pick psycopg (3) for a bare postgresql://.
        scheme, rest = url.split("://", 1)
        if scheme in ("postgres", "postgresql"):
            url = f"postgresql+psycopg2://{rest}"
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    raise ConfigError(f"unsupported database url {redact(url)!r}: use sqlite:///PATH or postgresql://...")


def open_store(url: str, *, create_schema: bool = True) -> Store:
    """Connect, and create or migrate the schema unless told not to. Unreachable → ServiceUnavailable."""
    from thor_cli.store.schema import ensure_schema

    try:
        engine = make_engine(url)
    except SQLAlchemyError as exc:
        raise ConfigError(f"invalid database url {redact(url)!r}: {_one_line(exc)}") from None
    except ModuleNotFoundError as exc:
        raise ConfigError(f"database driver missing for {redact(url)!r}: {exc.name}") from None
    try:
        if create_schema:
            ensure_schema(engine)
        else:
            with engine.connect():
                pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ServiceUnavailable(f"cannot reach the database at {redact(url)}: {_one_line(exc)}") from None
    return Store(engine)
