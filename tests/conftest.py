"""Fixtures shared by the whole suite: an isolated environment, both database backends, and the CLI.

PostgreSQL tests use the server named by THOR_TEST_POSTGRES_URL (default: the local trust-auth server).
Each test gets a database of its own that nobody else uses meanwhile, so runs never interfere. Where no
server answers, those tests are skipped — except in CI (CI=true), where that is a failure.

Creating and dropping a PostgreSQL database costs a checkpoint and a copy of template1 (around half a second
on a busy machine), so databases are pooled per test process: when a test is done its database is emptied
(its connections ended, its schema dropped and made again as a new database has it) and handed to the next
test; whatever cannot be reset that way is dropped instead. The pool's databases do not wait for the disk at
each commit (``synchronous_commit = off``): visibility and locking are unchanged, only durability across a
crash of the server itself, which no test causes. They are all dropped when the session ends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ADMIN_URL = os.environ.get("THOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgres"]
SECRET_VARS = (
    "THOR_JENKINS_USER",
    "THOR_JENKINS_TOKEN",
    "THOR_JIRA_USER",
    "THOR_JIRA_TOKEN",
    "THOR_SLACK_TOKEN",
    "THOR_GITHUB_TOKEN",
    "THOR_SERVER_TOKEN",
    "THOR_REGISTRY_USER",
    "THOR_REGISTRY_TOKEN",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real home, git config or Thor database; never reach a proxy."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in (
        "THOR_CONFIG",
        "THOR_NOW",
        "THOR_DATABASE_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        *SECRET_VARS,
    ):
        monkeypatch.delenv(name, raising=False)
    return home


def _postgres_available() -> str | None:
    import psycopg2

    if _REACHED:
        return None
    try:
        psycopg2.connect(_dsn(ADMIN_URL), connect_timeout=3).close()
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0]
    _REACHED.append(True)  # once is enough: a server that goes away later fails the tests that need it
    return None


_REACHED: list[bool] = []


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://")


def create_database() -> str:
    """A PostgreSQL database of this test's own, as new (from the pool, see above); returns its URL.
    Give it back with ``drop_database``."""
    reason = _postgres_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {reason}")
        pytest.skip(f"PostgreSQL unreachable: {reason}")
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{_POOL.take()}"


def drop_database(url: str) -> None:
    """Done with a database from ``create_database``: back to the pool, emptied (or dropped)."""
    _POOL.give_back(url.rsplit("/", 1)[1])


def _admin():  # type: ignore[no-untyped-def]
    import psycopg2

    connection = psycopg2.connect(_dsn(ADMIN_URL))
    connection.autocommit = True
    return connection


class _DatabasePool:
    """PostgreSQL databases of this process, each used by one test at a time and emptied in between."""

    def __init__(self) -> None:
        self.free: list[str] = []
        self.made: set[str] = set()
        self.fresh_schema: tuple[object, ...] | None = None  # public's owner and privileges when new

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1... under pytest-xdist: whose it is
        name = f"thor_test_{worker}{'_' if worker else ''}{uuid.uuid4().hex[:12]}"
        connection = _admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
                cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        finally:
            connection.close()
        self.made.add(name)
        if self.fresh_schema is None:
            self.fresh_schema = self._public_schema(name)
        return name

    def give_back(self, name: str) -> None:
        if name in self.made and self._reset(name):
            self.free.append(name)
        else:
            self._drop(name)

    def close(self) -> None:
        for name in sorted(self.made):
            self._drop(name)
        self.free.clear()

    def _drop(self, name: str) -> None:
        self.made.discard(name)
        connection = _admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            connection.close()

    def _reset(self, name: str) -> bool:
        """Make ``name`` what a new database is to Thor; False when that cannot be vouched for."""
        import psycopg2

        try:
            admin = _admin()
            try:
                with admin.cursor() as cursor:
                    # As DROP DATABASE ... WITH (FORCE) did: end what the test left connected (and its locks).
                    cursor.execute(
                        "SELECT bool_and(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()",
                        (name,),
                    )
                    cursor.execute("SELECT count(*) FROM pg_prepared_xacts WHERE database = %s", (name,))
                    if cursor.fetchone()[0]:
                        return False
            finally:
                admin.close()
            connection = psycopg2.connect(_dsn(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"))
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '10s'")
                    cursor.execute(
                        "SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema')"
                        " AND nspname NOT LIKE 'pg\\_%'"
                    )
                    if cursor.fetchone()[0]:
                        return False  # the test made a schema of its own
                    cursor.execute("DROP SCHEMA public CASCADE")
                    cursor.execute("CREATE SCHEMA public")
                    self._restore_public(cursor)
                connection.commit()
            finally:
                connection.close()
            return self._public_schema(name) == self.fresh_schema
        except psycopg2.Error:
            return False

    def _restore_public(self, cursor) -> None:  # type: ignore[no-untyped-def]
        """``public`` as CREATE DATABASE makes it (PostgreSQL 15: owned by pg_database_owner, USAGE for all)."""
        assert self.fresh_schema is not None
        owner, _acl, comment = self.fresh_schema
        cursor.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
        for grantee, privileges in _acl_entries(_acl):  # the owner's own are no-ops
            if privileges:
                cursor.execute(f"GRANT {', '.join(privileges)} ON SCHEMA public TO {grantee}")
        cursor.execute("COMMENT ON SCHEMA public IS %s", (comment,))

    @staticmethod
    def _public_schema(name: str) -> tuple[object, ...]:
        import psycopg2

        connection = psycopg2.connect(_dsn(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"))
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_get_userbyid(nspowner), nspacl::text, obj_description(oid, 'pg_namespace')"
                    " FROM pg_namespace WHERE nspname = 'public'"
                )
                return tuple(cursor.fetchone())
        finally:
            connection.close()


def _acl_entries(acl: object) -> list[tuple[str, list[str]]]:
    """``{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}`` -> [(grantee, [privileges])]."""
    names = {"U": "USAGE", "C": "CREATE"}
    entries = []
    for item in str(acl or "").strip("{}").split(","):
        if not item:
            continue
        grantee, _, rest = item.partition("=")
        privileges = [names[c] for c in rest.split("/", 1)[0] if c in names]
        entries.append((f'"{grantee.strip(chr(34))}"' if grantee else "PUBLIC", privileges))
    return entries


_POOL = _DatabasePool()


def pytest_configure(config: pytest.Config) -> None:
    """Once, in the process that starts the run: Thor's own modules compiled to bytecode. The suite starts
    ``python -m thor_cli`` a hundred times, and where PYTHONDONTWRITEBYTECODE is set (or the tree is fresh)
    each of them would compile all of Thor again (0.1 s of CPU apiece)."""
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller has done it
        return
    import compileall

    import thor_cli

    compileall.compile_dir(Path(thor_cli.__file__).parent, quiet=2)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _POOL.made:
        _POOL.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on an SQLite file and on a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'thor.db'}"
        return
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):  # type: ignore[no-untyped-def]
        import json

        return json.loads(self.stdout)


@pytest.fixture
def run_thor(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the CLI in this process, as a user would type it; returns exit code and output."""
    from thor_cli.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def write_config(path: Path, text: str, database_url: str | None = None) -> Path:
    """A thor.toml; the database URL (if given) goes in [database] so child processes find it too."""
    body = f'[database]\nurl = "{database_url}"\n\n{text}' if database_url else text
    path.write_text(body, encoding="utf-8")
    return path


# -- Fakes of JIRA, Jenkins and Slack (moved here from tests/adapters/conftest.py) ------------------
# Each is started on 127.0.0.1 with Thor's secret variables pointing at it. A fake that hit a bug of its
# own (``fake.errors``) fails the test at teardown.


def serve_fake(fake, monkeypatch: pytest.MonkeyPatch, **env: str):  # type: ignore[no-untyped-def]
    """Run ``fake`` and yield it, each variable of ``env`` set to the fake's attribute of that name
    (``THOR_SLACK_TOKEN="token"``); a fake that hit a bug of its own fails the test at teardown."""
    with fake:
        for variable, attribute in env.items():
            monkeypatch.setenv(variable, getattr(fake, attribute))
        yield fake
    assert not fake.errors, fake.errors[0]


@pytest.fixture
def jira_fake(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from tests.fakes.jira_server import FakeJira

    yield from serve_fake(FakeJira(), monkeypatch, THOR_JIRA_USER="user", THOR_JIRA_TOKEN="token")


@pytest.fixture
def jenkins_fake(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from tests.fakes.jenkins_server import FakeJenkins

    fake = FakeJenkins(jobs=("deploy", "gen3/release"))
    yield from serve_fake(fake, monkeypatch, THOR_JENKINS_USER="user", THOR_JENKINS_TOKEN="token")


@pytest.fixture
def slack_fake(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from tests.fakes.slack_server import FakeSlack

    yield from serve_fake(FakeSlack(), monkeypatch, THOR_SLACK_TOKEN="token")


@pytest.fixture
def slack_broadcasts(slack_fake):  # type: ignore[no-untyped-def]
    """Texts of the messages posted with ``reply_broadcast`` (thread replies also shown in the channel),
    which the fake Slack accepts but does not record."""
    broadcasts: list[str] = []
    post = slack_fake._post_message

    def recording(params):  # type: ignore[no-untyped-def]
        response = post(params)
        if str(params.get("reply_broadcast", "")).lower() in ("1", "true") and response.status == 200:
            broadcasts.append(str(params.get("text")))
        return response

    slack_fake._post_message = recording  # looked up per call by the fake's dispatcher
    return broadcasts


@pytest.fixture
def db_dump():  # type: ignore[no-untyped-def]
    """A function returning every row Thor stored in a database as text (to check nothing leaked into it)."""
    from tests.support import dump_text

    return dump_text
