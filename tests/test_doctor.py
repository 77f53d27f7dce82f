"""``thor doctor``: one row per check, the documented exit codes, and never a secret in what it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.fakes import gitrepos
from tests.support import only, steps_toml
from thor_cli.store.schema import HEAD_REVISION

SECRETS = {
    "THOR_JIRA_TOKEN": "doctor-jira-secret-4411",
    "THOR_JENKINS_TOKEN": "doctor-jenkins-secret-4412",
    "THOR_SLACK_TOKEN": "xoxb-doctor-slack-secret-4413",
}


@pytest.fixture
def services(tmp_path: Path, jira_fake, jenkins_fake, slack_fake) -> str:  # type: ignore[no-untyped-def]
    """thor.toml text for one repository and all three services, every one of them healthy."""
    jenkins_fake.add_job("gen3-load-tests")
    remote = gitrepos.make_remote(tmp_path / "remotes", "fence", history=[gitrepos.Change("init", {"a": "1\n"})])
    remotes = gitrepos.file_url(remote.parent)
    return f"""
[repos]
names = ["fence"]
url = "{remotes}/{{repo}}.git"

[jenkins]
url = "{jenkins_fake.url}"
timeout = 5

[jira]
url = "{jira_fake.url}"
project = "GEN3"
max_retries = 0
timeout = 5

[slack]
channel = "releases"
base_url = "{slack_fake.url}/api/"
timeout = 5
"""


def doctor(run_thor, config: Path, *flags: str):  # type: ignore[no-untyped-def]
    return run_thor("--config", config, "doctor", *flags)


def statuses(result) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {c["name"]: (c["status"], c["detail"]) for c in result.json()["checks"]}


def test_everything_healthy(run_thor, tmp_path: Path, database_url: str, services: str, jenkins_fake) -> None:
    config = write_config(tmp_path / "thor.toml", services, database_url)
    assert run_thor("--config", config, "db", "upgrade").exit_code == 0
    result = doctor(run_thor, config, "--json")
    assert result.exit_code == 0, result.stdout
    checks = statuses(result)
    assert list(checks) == ["configuration", "database", "repo fence", "jenkins", "jira", "slack"]
    assert {status for status, _ in checks.values()} == {"ok"}
    assert checks["database"][1].endswith(f"schema revision {HEAD_REVISION}")
    assert checks["repo fence"][1] == "reachable; default branch master"
    assert checks["jenkins"][1] == (
        f"Jenkins 2.452.1 at {jenkins_fake.url}, credentials accepted; job gen3-load-tests exists"
    )
    assert checks["jira"][1].endswith("project GEN3 has 0 versions")
    assert checks["slack"][1] == "signed in as thor (Fake); channel releases (C0RELEASES) readable"
    assert result.json()["exit_code"] == 0


def test_a_service_an_enabled_step_needs_but_nobody_configured_fails(run_thor, tmp_path: Path) -> None:
    config = write_config(tmp_path / "thor.toml", "", f"sqlite:///{tmp_path / 'thor.db'}")
    result = doctor(run_thor, config)
    assert result.exit_code == 2  # the default pipeline needs Jenkins, JIRA and repositories
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert lines["jenkins"].split()[1:2] == ["FAIL"]
    assert "needed by load-tests" in lines["jenkins"]
    assert "needed by create-jira-release, mark-released" in lines["jira"]
    # One rule for every service: Slack too, since the enabled announce step has nowhere to announce to.
    assert lines["slack"].split()[1] == "FAIL" and "needed by announce" in lines["slack"]
    assert "not created yet" in lines["database"]
    assert not (tmp_path / "thor.db").exists()  # doctor changes nothing


def test_services_no_enabled_step_needs_are_skipped_not_failed(run_thor, tmp_path: Path) -> None:
    # announce is left on and announces to the [notify] file, so it needs no Slack.
    disabled = '[notify]\nfile = "messages.txt"\n' + steps_toml(only("announce"))
    config = write_config(tmp_path / "thor.toml", disabled, f"sqlite:///{tmp_path / 'thor.db'}")
    result = doctor(run_thor, config)
    assert result.exit_code == 0, result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    for name in ("jenkins", "jira", "repositories", "slack"):
        assert lines[name].split()[1] == "skipped", lines[name]


def test_a_bad_configuration_exits_2(run_thor, tmp_path: Path) -> None:
    config = write_config(tmp_path / "thor.toml", "[jira]\nurl = 3\n")
    result = doctor(run_thor, config, "--json")
    assert result.exit_code == 2
    expected = f"{config}: jira.url: Input should be a valid string (got 3)"
    assert statuses(result) == {"configuration": ("FAIL", expected)}


def test_an_unreachable_service_exits_3(run_thor, tmp_path: Path, services: str, jenkins_fake) -> None:
    config = write_config(tmp_path / "thor.toml", services)
    jenkins_fake.down()
    result = doctor(run_thor, config, "--json")
    assert result.exit_code == 3
    checks = statuses(result)
    assert checks["jenkins"] == ("FAIL", f"Jenkins at {jenkins_fake.url} is unreachable: connection refused")
    assert checks["jira"][0] == checks["slack"][0] == "ok"


def test_rejected_credentials_exit_3_and_no_secret_is_printed(
    run_thor, tmp_path: Path, services: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    database = "postgresql://thor:doctor-db-password-4414@127.0.0.1:1/thor"
    config = write_config(tmp_path / "thor.toml", services, database)
    table, as_json = doctor(run_thor, config), doctor(run_thor, config, "--json")
    assert table.exit_code == as_json.exit_code == 3
    checks = statuses(as_json)
    assert checks["jenkins"] == ("FAIL", "Jenkins rejected the credentials (HTTP 401)")
    assert checks["jira"] == ("FAIL", "JIRA rejected the credentials (HTTP 401)")
    assert checks["slack"] == ("FAIL", "Slack rejected the token (invalid_auth)")
    assert checks["database"][0] == "FAIL"
    assert "postgresql://***@127.0.0.1:1/thor" in checks["database"][1]
    printed = table.stdout + table.stderr + as_json.stdout + as_json.stderr
    for value in [*SECRETS.values(), "doctor-db-password-4414"]:
        assert value not in printed


def test_a_missing_token_is_a_configuration_error(
    run_thor, tmp_path: Path, services: str, monkeypatch: pytest.MonkeyPatch, slack_fake
) -> None:
    monkeypatch.delenv("THOR_JIRA_TOKEN")
    slack_fake.down()  # unreachable too, but the configuration comes first
    result = doctor(run_thor, write_config(tmp_path / "thor.toml", services), "--json")
    assert result.exit_code == 2
    assert statuses(result)["jira"] == ("FAIL", "THOR_JIRA_TOKEN is not set")
    assert statuses(result)["slack"][0] == "FAIL"


def test_repository_problems(run_thor, tmp_path: Path, services: str) -> None:
    broken = services.replace('names = ["fence"]', 'names = ["fence", "gone"]')
    broken += '\n[repos.overrides.fence]\nsource_branch = "master"\n'
    result = doctor(run_thor, write_config(tmp_path / "thor.toml", broken), "--json")
    checks = statuses(result)
    assert checks["repo fence"][0] == "ok"
    assert checks["repo fence"][1].startswith("reachable; master at ")
    assert checks["repo gone"][0] == "FAIL"
    assert checks["repo gone"][1].startswith("remotes/gone: ls-remote failed: ")
    assert result.exit_code == 3


def test_a_missing_branch_or_job_is_a_configuration_error(
    run_thor, tmp_path: Path, services: str, jenkins_fake
) -> None:
    text = services.replace('names = ["fence"]', 'names = ["fence"]\nsource_branch = "main"')
    text += '\n[steps.load-tests]\njob = "no-such-job"\n'
    result = doctor(run_thor, write_config(tmp_path / "thor.toml", text), "--json")
    assert result.exit_code == 2
    checks = statuses(result)
    assert checks["repo fence"] == ("FAIL", "reachable, but branch main does not exist")
    assert checks["jenkins"][0] == "FAIL"
    assert "job no-such-job (load-tests)" in checks["jenkins"][1]


def test_a_slack_channel_that_cannot_be_found_fails_the_configuration(run_thor, tmp_path: Path, services: str) -> None:
    config = write_config(
        tmp_path / "thor.toml", services.replace('channel = "releases"', 'channel = "#nowhere"'), None
    )
    result = doctor(run_thor, config, "--json")
    assert result.exit_code == 2, result.stdout
    status, detail = statuses(result)["slack"]
    assert status == "FAIL" and detail.startswith("[slack] channel: Slack channel #nowhere not found"), detail
