"""A bad version on a machine with no database yet must not create one (nothing is written on bad input)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_config

BAD_VERSION_COMMANDS = [
    ["step", "split-branch", "2021.13"],
    ["step", "split-branch", "2021.13", "--dry-run"],
    ["status", "2021.13"],
    ["log", "abc"],
    ["retry", "2021.13", "split-branch"],
    ["skip", "2021.13", "split-branch", "--reason", "x"],
    ["approve", "abc", "split-branch"],
    ["notes", "2021.13"],
]


@pytest.mark.parametrize("args", BAD_VERSION_COMMANDS, ids=" ".join)
def test_a_bad_version_creates_no_database(run_thor, tmp_path: Path, args: list[str]) -> None:
    database = tmp_path / "state" / "thor.db"
    config = write_config(tmp_path / "thor.toml", "", f"sqlite:///{database}")
    result = run_thor("--config", config, *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("thor: no release cycle has version") and result.stderr.count("\n") == 1
    assert not database.parent.exists()


def test_a_version_that_left_the_calendar_is_still_found_in_the_database(run_thor, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'thor.db'}"
    config = write_config(tmp_path / "thor.toml", "", database)
    assert run_thor("--config", config, "release", "start", "2021.09", "--now", "2021-09-10").exit_code == 0
    # The team moves to another version scheme: 2021.09 is no longer a calendar version, but it is stored.
    write_config(tmp_path / "thor.toml", '[schedule]\nversion = "v{feature_freeze:%Y%m}"\n', database)
    result = run_thor("--config", config, "status", "2021.09", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["version"] == "2021.09"
