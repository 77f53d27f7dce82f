"""A database that refuses Thor (a role without the privileges it needs) is one line, never a SQL dump, and
``thor doctor`` says what the role may not do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_URL, write_config
from tests.support import STEP_NAMES, disabled, dump_tables


@pytest.fixture
def unprivileged_url(postgres_url: str) -> Iterator[str]:
    """The test database, signed in as a role that may connect but not create tables (PostgreSQL 15 revokes
    CREATE on the public schema from everybody but the owner)."""
    import psycopg2

    role = f"thor_reader_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(ADMIN_URL.replace("postgresql+psycopg2://", "postgresql://"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" LOGIN')
    database = postgres_url.rsplit("/", 1)[1]
    host = postgres_url.split("@", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql://{role}@{host}/{database}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            cursor.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def test_db_upgrade_refused_by_the_server_is_one_line(run_thor, tmp_path: Path, unprivileged_url: str) -> None:
    config = write_config(tmp_path / "thor.toml", "", unprivileged_url)
    result = run_thor("--config", config, "db", "upgrade")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thor: "), result.stderr
    assert "permission denied for schema public" in lines[0]
    assert "internal error" not in lines[0] and "[SQL:" not in lines[0]
    assert dump_tables(unprivileged_url) == {}


def test_doctor_says_the_role_cannot_create_the_schema(run_thor, tmp_path: Path, unprivileged_url: str) -> None:
    config = write_config(tmp_path / "thor.toml", disabled(*STEP_NAMES), unprivileged_url)
    result = run_thor("--config", config, "doctor", "--json")
    assert result.exit_code == 3, result.stdout
    database = next(c for c in result.json()["checks"] if c["name"] == "database")
    assert database["status"] == "FAIL"
    assert database["detail"].endswith("cannot be written: this role may not create tables in the schema")


def test_a_codename_longer_than_the_column_is_refused(run_thor, tmp_path: Path) -> None:
    names = tmp_path / "codenames.csv"
    names.write_text("version,name\n2021.09," + "x" * 129 + "\n")
    database = tmp_path / "state" / "thor.db"
    config = write_config(tmp_path / "thor.toml", '[schedule]\ncodenames = "codenames.csv"\n', f"sqlite:///{database}")
    result = run_thor("--config", config, "tick", "--now", "2021-09-10")
    assert result.exit_code == 2
    assert f"{names}:2: codename 'xxxx" in result.stderr and "longer than 128 characters" in result.stderr
    assert not database.parent.exists()
