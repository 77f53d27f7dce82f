"""thor.toml and THOR_* environment: loaded and validated in one place, errors naming the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from thor_cli.config import default_database_url, load_settings, parse_config
from thor_cli.errors import ConfigError, ExitCode


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_built_in_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    schedule = settings.config.schedule
    assert settings.path is None
    assert schedule.timezone == "UTC"
    assert schedule.feature_freeze == "FREQ=MONTHLY;BYDAY=+2FR"
    assert schedule.code_freeze == "FREQ=MONTHLY;BYDAY=+4FR"
    assert schedule.version == "{feature_freeze:%Y.%m}"
    assert schedule.integration_branch == "integration{feature_freeze:%Y%m}"
    assert schedule.stable_branch == "stable"
    assert schedule.start_grace_days == 3
    assert schedule.codenames is None
    expected_db = isolated_env / ".local" / "share" / "thor" / "thor.db"
    assert settings.database_url == f"sqlite:///{expected_db}" == default_database_url()
    assert settings.base_dir == tmp_path


def test_where_the_configuration_comes_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = write(tmp_path / "thor.toml", '[schedule]\ntimezone = "Europe/Paris"\n')
    from_env = write(tmp_path / "env.toml", '[schedule]\ntimezone = "Asia/Tokyo"\n')
    explicit = write(tmp_path / "explicit.toml", '[schedule]\ntimezone = "America/Chicago"\n')
    monkeypatch.chdir(tmp_path)
    assert load_settings().path == local
    monkeypatch.setenv("THOR_CONFIG", str(from_env))
    assert load_settings().config.schedule.timezone == "Asia/Tokyo"
    assert load_settings(explicit).config.schedule.timezone == "America/Chicago"
    monkeypatch.setenv("THOR_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone\.toml.*THOR_CONFIG"):
        load_settings()


def test_database_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "thor.toml", '[database]\nurl = "sqlite:///from-file.db"\n')
    # Relative to thor.toml, like every other path in it.
    assert load_settings(path).database_url == f"sqlite:///{tmp_path.resolve() / 'from-file.db'}"
    write(path, '[database]\nurl = "sqlite:////abs/thor.db"\n')
    assert load_settings(path).database_url == "sqlite:////abs/thor.db"
    monkeypatch.setenv("THOR_DATABASE_URL", "postgresql://db/thor")
    assert load_settings(path).database_url == "postgresql://db/thor"


def test_relative_paths_are_relative_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    path = write(tmp_path / "conf" / "thor.toml", '[schedule]\ncodenames = "names.csv"\n')
    monkeypatch.chdir(tmp_path)
    settings = load_settings(path)
    assert settings.resolve(settings.config.schedule.codenames) == tmp_path / "conf" / "names.csv"  # type: ignore[arg-type]
    assert settings.resolve("/abs/x") == Path("/abs/x")


def test_a_full_schedule(tmp_path: Path) -> None:
    path = write(
        tmp_path / "thor.toml",
        """
[schedule]
timezone = "America/Chicago"
feature_freeze = "DTSTART:20210903T000000\\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"
code_freeze = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"
version = "{feature_freeze:%Y.%m.%d}"
start_grace_days = 0

[steps.split-branch]
timeout = "2h"
retry_after = 90
""",
    )
    config = load_settings(path).config
    assert config.schedule.tz.key == "America/Chicago"
    assert config.schedule.start_grace_days == 0
    assert config.steps["split-branch"].timeout == timedelta(hours=2)
    assert config.steps["split-branch"].retry_after == timedelta(seconds=90)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[schedule]\nbogus = 1\n", "schedule.bogus"),
        ("[bogus]\nx = 1\n", "bogus"),
        ('[schedule]\nfeature_freeze = "FREQ=SOMETIMES"\n', "schedule.feature_freeze"),
        ('[schedule]\ncode_freeze = "FREQ=MONTHLY;BYDAY=+9XX"\n', "schedule.code_freeze"),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone"),
        ('[schedule]\nversion = "{release}"\n', "schedule.version"),
        ('[schedule]\nintegration_branch = "has space {feature_freeze:%Y}"\n', "schedule.integration_branch"),
        ("[schedule]\nstart_grace_days = -1\n", "schedule.start_grace_days"),
        ('[steps.split-branch]\ntimeout = "5 parsecs"\n', "steps.split-branch.timeout"),
        ('[steps.split-branch]\nretry_after = "soon"\n', "steps.split-branch.retry_after"),
        ("[steps.split-branch]\nmax_attempts = 0\n", "steps.split-branch.max_attempts"),
        ('[steps.split-branch]\non = "tuesday"\n', "steps.split-branch.on"),
        ('[steps.Split_Branch]\nuses = "gate"\n', "Split_Branch"),
        ('[repos]\nurl = "https://example.com/x.git"\n', "repos.url"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, text: str, names: str) -> None:
    path = write(tmp_path / "thor.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert names in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == ExitCode.BAD_INPUT


def test_malformed_toml(tmp_path: Path) -> None:
    path = write(tmp_path / "thor.toml", "[schedule\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(path)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.toml")


def test_parse_config_accepts_the_documented_sections() -> None:
    config = parse_config(
        {
            "database": {"url": "sqlite:///x.db"},
            "repos": {"names": ["uc-cdis/fence"], "concurrency": 4},
            "jira": {"url": "https://jira.example", "project": "PXP"},
            "jenkins": {"url": "https://jenkins.example"},
            "slack": {"channel": "#releases"},
            "notify": {"echo": True},
            "notes": {"dir": "notes"},
        }
    )
    assert config.repos.names == ["uc-cdis/fence"]
    assert config.jira.project == "PXP"
    assert config.notify.echo is True
