"""Commands that only read write nothing, and a database from a newer Thor is never written to.

``status``, ``log``, ``notes``, ``steps``, ``calendar``, ``doctor`` and every ``--dry-run`` open the database
read-only: a missing database or schema is one line naming ``thor db upgrade`` (exit 3) and nothing is
created; a read-only SQLite file still serves them. A schema revision this Thor has no migration for (a newer
Thor on the other cron host migrated it) is one line, exit 3, for every command, and the database is left as
it was.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.support import STEP_NAMES, disabled, dump_tables, query

FEATURE_FREEZE = "2021-09-10T09:00"
# A pipeline with no outside systems: the built-in steps off, one command step on.
PIPELINE = disabled(*STEP_NAMES) + '\n[steps.hello]\nuses = "command"\nrun = ["true"]\non = "feature_freeze"\n'
READ_ONLY = {
    "status": ["status"],
    "status --json": ["status", "--json"],
    "status VERSION": ["status", "2021.09"],
    "log": ["log", "2021.09"],
    "notes": ["notes", "2021.09"],
    "tick --dry-run": ["tick", "--dry-run", "--now", FEATURE_FREEZE],
    "step --dry-run": ["step", "hello", "2021.09", "--dry-run"],
}
NEWER = "the database schema (0099) is newer than this Thor (0002): upgrade Thor on this host"


def one_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thor: "), result.stderr
    assert "internal error" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("command", list(READ_ONLY))
def test_a_missing_sqlite_database_is_one_line_and_is_not_created(run_thor, tmp_path: Path, command: str) -> None:
    database = tmp_path / "typo-dir" / "thor.db"
    config = write_config(tmp_path / "thor.toml", PIPELINE, f"sqlite:///{database}")
    result = run_thor("--config", config, *READ_ONLY[command])
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert one_line(result) == f"thor: no database at sqlite:///{database}: `thor db upgrade` creates it"
    assert not database.parent.exists()


@pytest.mark.parametrize("command", ["status", "tick --dry-run", "step --dry-run", "log"])
def test_an_empty_postgresql_database_gets_no_tables_from_a_read_only_command(
    run_thor, tmp_path: Path, postgres_url: str, command: str
) -> None:
    config = write_config(tmp_path / "thor.toml", PIPELINE, postgres_url)
    result = run_thor("--config", config, *READ_ONLY[command])
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "no Thor schema in the database at postgresql://" in one_line(result)
    assert "`thor db upgrade` creates it" in one_line(result)
    assert dump_tables(postgres_url) == {}


def test_commands_that_write_still_create_the_schema(run_thor, tmp_path: Path) -> None:
    database = tmp_path / "new" / "thor.db"
    config = write_config(tmp_path / "thor.toml", PIPELINE, f"sqlite:///{database}")
    assert run_thor("--config", config, "tick", "--now", FEATURE_FREEZE).exit_code == 0
    assert run_thor("--config", config, "status", "2021.09", "--json").json()["status"] == "released"


@pytest.fixture
def populated(run_thor, tmp_path: Path, database_url: str) -> Path:
    """A database on each backend where 2021.09 ran; returns the thor.toml."""
    config = write_config(tmp_path / "thor.toml", PIPELINE, database_url)
    assert run_thor("--config", config, "-q", "tick", "--now", FEATURE_FREEZE).exit_code == 0
    return config


def _migrated_by_a_newer_thor(url: str) -> None:
    from sqlalchemy import text

    from thor_cli.store.db import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "2021.09"],
        ["log", "2021.09"],
        ["tick", "--now", "2021-10-08T09:00"],
        ["tick", "--dry-run", "--now", "2021-10-08T09:00"],
        ["release", "start", "2021.10"],
        ["step", "hello", "2021.09", "--force"],
        ["db", "upgrade"],
    ],
    ids=" ".join,
)
def test_a_schema_from_a_newer_thor_is_refused_and_left_alone(
    run_thor, populated: Path, database_url: str, args: list[str]
) -> None:
    _migrated_by_a_newer_thor(database_url)
    before = dump_tables(database_url)
    result = run_thor("--config", populated, *args)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert one_line(result) == f"thor: {NEWER}"
    assert dump_tables(database_url) == before


def test_doctor_says_a_newer_thor_is_needed_not_db_upgrade(run_thor, populated: Path, database_url: str) -> None:
    _migrated_by_a_newer_thor(database_url)
    before = dump_tables(database_url)
    result = run_thor("--config", populated, "doctor", "--json")
    assert result.exit_code == 3, result.stderr
    database = next(c for c in result.json()["checks"] if c["name"] == "database")
    assert database["status"] == "FAIL"
    assert database["detail"].endswith(NEWER)
    assert "db upgrade" not in database["detail"]
    assert dump_tables(database_url) == before


def test_an_older_schema_is_one_line_naming_db_upgrade(
    run_thor, populated: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This Thor pretends to be one release ahead (a 0003 migration exists): the stored 0002 is behind."""
    from thor_cli.store import schema

    monkeypatch.setattr(schema, "HEAD_REVISION", "0003")
    monkeypatch.setattr(schema, "known_revisions", lambda: frozenset({"0001", "0002", "0003"}))
    before = dump_tables(database_url)
    for args in (["status"], ["tick", "--dry-run", "--now", FEATURE_FREEZE]):
        result = run_thor("--config", populated, *args)
        assert result.exit_code == 3, result.stderr
        assert one_line(result) == (
            "thor: the database schema (0002) is older than this Thor (0003): run `thor db upgrade`"
        )
    assert dump_tables(database_url) == before


def test_a_read_only_store_cannot_write_even_where_the_file_could(populated: Path, database_url: str) -> None:
    from thor_cli.errors import ServiceUnavailable
    from thor_cli.store import open_store, queries
    from thor_cli.store.models import Release

    store = open_store(database_url, read_only=True)
    try:
        with store.session() as session:
            release = queries.get_release(session, "2021.09")
            assert release is not None
        with (
            pytest.raises(ServiceUnavailable, match=r"database error: .*read-?only") as raised,
            store.session() as session,
        ):
            session.add(Release(**{**release.model_dump(), "id": None, "version": "2099.01"}))
            session.commit()
        assert "\n" not in raised.value.message
    finally:
        store.dispose()
    assert query(database_url, "SELECT count(*) FROM thor_release")[0][0] == 1


# -- a read-only SQLite file --------------------------------------------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can enter (pytest's own are private to this user)."""
    path = Path(tempfile.mkdtemp(prefix="thor-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for inner in (path, *path.rglob("*")):
            if inner.is_dir():
                inner.chmod(0o755)
        shutil.rmtree(path)


def as_reader(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Thor run by a user who may read but not write the files: ``nobody`` when the suite runs as root
    (root writes anything), else this user, whose write bits the test removed."""
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    if prefix and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop the permission to write")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THOR_")}
    env |= {"HOME": str(home), "XDG_DATA_HOME": str(home / "data")}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "thor_cli", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _freeze(directory: Path) -> None:
    for inner in directory.rglob("*"):
        inner.chmod(stat.S_IMODE(inner.stat().st_mode) & ~0o222)
    directory.chmod(0o555)


def test_a_read_only_sqlite_file_still_serves_status(run_thor, shared_dir: Path) -> None:
    data = shared_dir / "data"
    data.mkdir(mode=0o755)
    database = data / "thor.db"
    config = write_config(shared_dir / "thor.toml", PIPELINE, f"sqlite:///{database}")
    config.chmod(0o644)
    assert run_thor("--config", config, "-q", "tick", "--now", FEATURE_FREEZE).exit_code == 0
    _freeze(data)
    before = database.read_bytes()

    status = as_reader("--config", str(config), "status", "2021.09", "--json", home=shared_dir)
    assert status.returncode == 0, status.stderr
    assert '"status": "released"' in status.stdout
    overview = as_reader("--config", str(config), "status", home=shared_dir)
    assert overview.returncode == 0 and "2021.09" in overview.stdout, overview.stderr

    doctor = as_reader("--config", str(config), "doctor", "--json", home=shared_dir)
    assert doctor.returncode == 3, doctor.stdout + doctor.stderr
    assert f"cannot be written: {database} is read-only" in doctor.stdout
    assert database.read_bytes() == before


def test_doctor_says_when_the_database_cannot_be_created(shared_dir: Path) -> None:
    locked = shared_dir / "locked"
    locked.mkdir(mode=0o555)
    config = write_config(shared_dir / "thor.toml", PIPELINE, f"sqlite:///{locked / 'state' / 'thor.db'}")
    config.chmod(0o644)
    doctor = as_reader("--config", str(config), "doctor", "--json", home=shared_dir)
    assert doctor.returncode == 3, doctor.stdout + doctor.stderr
    assert f"cannot be created: directory {locked} is not writable" in doctor.stdout
    assert not (locked / "state").exists()
