"""Opening the database: SQLite by default, PostgreSQL in production, the same code on both.

Commands that write open it with ``open_store(url)``, which creates or migrates the schema. Commands that only
read (``status``, ``log``, ``notes``, every ``--dry-run``) open it with ``read_only=True``: a missing database
or schema is one line naming ``thor db upgrade``, nothing is created, and the connection itself cannot write
(SQLite ``mode=ro``, a PostgreSQL session whose transactions are read-only), so a read-only SQLite file
still serves them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlmodel import Session

from thor_cli.errors import ConfigError, ServiceUnavailable
from thor_cli.secrets import redact, register_url_password, url_userinfo


class Store:
    """The engine plus the schema guarantee. Writes go through ``transaction()``; reads may use ``session()``."""

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.read_only = read_only

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        with database_errors(), Session(self.engine, expire_on_commit=False) as session:
            yield session

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


@contextmanager
def database_errors() -> Iterator[None]:
    """Any error from the database driver as one redacted line (exit 3), never a multi-line SQL dump."""
    try:
        yield
    except IntegrityError:
        raise  # a unique key doing its job: callers catch it (another process inserted the row first)
    except DBAPIError as exc:
        raise ServiceUnavailable(f"database error: {_one_line(exc)}") from None


def _one_line(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return redact(text[0] if text else type(original).__name__)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers (thor status) run while a tick writes; busy_timeout makes concurrent ticks wait.
    # synchronous=NORMAL, SQLite's advice for WAL: a commit is atomic and survives Thor being killed; only a
    # power cut or an OS crash may undo the last transactions (never corrupting the file), which every step
    # copes with because it looks before it acts. It spares one fsync per commit: a step over 30
    # repositories commits each result as it comes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def check_url(url: str) -> None:
    """A URL whose user or password holds an unencoded ``@`` is refused before any driver sees it: drivers
    split it at the first ``@`` and quote the rest of the password back as a host name."""
    register_url_password(url)  # whatever happens next, the password is masked in every message
    userinfo = url_userinfo(url)
    if userinfo is not None and "@" in userinfo:
        raise ConfigError(
            f"the database URL {redact(url)} is malformed: its user or password contains '@'; "
            "percent-encode it (@ is %40, : is %3A, / is %2F)"
        )


def _sqlite_read_only_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # No journal_mode here: setting it is a write. query_only refuses writes even where the file allows them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///PATH`` URL; None for other URLs and in-memory databases."""
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path).expanduser()


def _can_create_beside(path: Path) -> bool:
    """Whether SQLite's -wal and -shm files exist or can be created next to ``path``."""
    import os

    shm = path.with_name(path.name + "-shm")
    if shm.exists():
        return os.access(shm, os.R_OK)
    return os.access(path.parent, os.W_OK | os.X_OK)


def no_database(url: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"no database at {redact(url)}: `thor db upgrade` creates it")


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    check_url(url)
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if read_only:
            if path is None:
                raise ConfigError(f"an in-memory SQLite database {redact(url)!r} holds nothing to read")
            if not path.exists():
                raise no_database(url)
            if path.is_dir():  # SQLite would only say "disk I/O error"
                raise ServiceUnavailable(
                    f"cannot reach the database at {redact(url)}: unable to open database file (a directory)"
                )
            uri = f"file:{quote(str(path.resolve()))}?mode=ro"
            if not _can_create_beside(path):
                # A WAL reader needs the -shm file: where it cannot be created (a read-only directory), SQLite
                # can only read the file as immutable. Nobody can be writing it then: a writer needs it too.
                uri += "&immutable=1"

            def connect():  # type: ignore[no-untyped-def]
                import sqlite3

                return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)

            engine = create_engine("sqlite://", creator=connect)
            event.listen(engine, "connect", _sqlite_read_only_pragmas)
            return engine
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
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
        connect_args: dict[str, object] = {"connect_timeout": 5}
        if read_only:
            connect_args["options"] = "-c default_transaction_read_only=on"
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    raise ConfigError(f"unsupported database url {redact(url)!r}: use sqlite:///PATH or postgresql://...")


def open_store(url: str, *, create_schema: bool = True, read_only: bool = False) -> Store:
    """Connect, and create or migrate the schema unless told not to. Unreachable → ServiceUnavailable.

    ``read_only``: never create or migrate anything; the schema must be at head (``require_schema``).
    """
    from thor_cli.store.schema import ensure_schema, require_schema

    engine = _engine(url, read_only=read_only)
    try:
        if read_only:
            require_schema(engine, redact(url))
        elif create_schema:
            ensure_schema(engine)
        else:
            with engine.connect():
                pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ServiceUnavailable(f"cannot reach the database at {redact(url)}: {_one_line(exc)}") from None
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, read_only=read_only)


def probe_store(url: str) -> Store | None:
    """A read-only connection with no schema check (doctor, version look-ups); None when an SQLite file does
    not exist yet. Never creates anything."""
    path = sqlite_path(url)
    if url.startswith("sqlite") and (path is None or not path.exists()):
        return None
    engine = _engine(url, read_only=True)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ServiceUnavailable(f"cannot reach the database at {redact(url)}: {_one_line(exc)}") from None
    return Store(engine, read_only=True)


def _engine(url: str, *, read_only: bool) -> Engine:
    try:
        return make_engine(url, read_only=read_only)
    except SQLAlchemyError as exc:
        raise ConfigError(f"invalid database url {redact(url)!r}: {_one_line(exc)}") from None
    except ModuleNotFoundError as exc:
        raise ConfigError(f"database driver missing for {redact(url)!r}: {exc.name}") from None
