"""``jira-version`` and ``jira-release`` through the real engine (``thor step``) against the fake JIRA."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.fakes.jira_server import FakeJira

VERSION = "2021.09"  # feature freeze Fri 2021-09-10, code freeze Fri 2021-09-24
WRONG_TOKEN = "wrong-jira-token-5f3a9c"


class Thor:
    def __init__(self, run_thor, tmp_path: Path, database_url: str, fake: FakeJira, extra: str = "") -> None:  # type: ignore[no-untyped-def]
        (tmp_path / "codenames.csv").write_text(f"{VERSION},Cobaltite\n", encoding="utf-8")
        self.config = write_config(
            tmp_path / "thor.toml",
            f"""
[schedule]
timezone = "America/Chicago"
codenames = "codenames.csv"

[jira]
url = "{fake.url}"
project = "GEN3"
max_retries = 0
timeout = 5

[steps.mark-released]
after = []
{extra}
""",
            database_url,
        )
        self.run_thor = run_thor
        assert self("release", "start", VERSION).exit_code == 0

    def __call__(self, *args: str, now: str = "2021-09-10T09:00"):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args, "--now", now)

    def step(self, name: str) -> dict:
        steps = self("status", VERSION, "--json").json()["steps"]
        return next(s for s in steps if s["name"] == name)


@pytest.fixture
def thor(run_thor, tmp_path, jira_fake):  # type: ignore[no-untyped-def]
    return Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", jira_fake)


def test_version_is_created_once(run_thor, tmp_path, database_url, jira_fake: FakeJira) -> None:
    thor = Thor(run_thor, tmp_path, database_url, jira_fake)
    assert thor("step", "create-jira-release", VERSION).exit_code == 0

    version = jira_fake.version_named("GEN3", VERSION)
    assert version is not None
    assert version["description"] == "Gen3 Core Release 2021.09 Cobaltite"
    assert (version["startDate"], version["releaseDate"]) == ("2021-09-10", "2021-09-24")
    step = thor.step("create-jira-release")
    assert step["status"] == "succeeded"
    assert step["detail"] == "created JIRA version 2021.09 in GEN3"
    assert step["link"] == f"{jira_fake.url}/projects/GEN3/versions/{version['id']}"

    again = thor("step", "create-jira-release", VERSION)  # already succeeded: a no-op
    assert (again.exit_code, "already succeeded" in again.stdout) == (0, True)
    forced = thor("step", "create-jira-release", VERSION, "--force")  # runs, finds the version
    assert forced.exit_code == 0
    assert thor.step("create-jira-release")["detail"] == "found existing JIRA version 2021.09 in GEN3"
    assert jira_fake.versions_created == 1
    assert jira_fake.count("POST", "/rest/api/2/version") == 1


def test_version_made_by_someone_else_is_adopted(thor: Thor, jira_fake: FakeJira) -> None:
    jira_fake.add_version("GEN3", VERSION)
    assert thor("step", "create-jira-release", VERSION).exit_code == 0
    assert jira_fake.versions_created == 0
    assert thor.step("create-jira-release")["detail"].startswith("found existing JIRA version")


def test_release_story_with_one_subtask_per_step(run_thor, tmp_path, jira_fake: FakeJira) -> None:
    (tmp_path / "codenames.csv").write_text(f"{VERSION},Cobaltite\n", encoding="utf-8")
    config = write_config(
        tmp_path / "thor.toml",
        f"""
[jira]
url = "{jira_fake.url}"
project = "GEN3"
max_retries = 0
create_tasks = true

[steps.release-notes]
enabled = false
""",
        f"sqlite:///{tmp_path / 'thor.db'}",
    )
    now = ("--now", "2021-09-10T09:00")
    assert run_thor("--config", config, "release", "start", VERSION, *now).exit_code == 0
    assert run_thor("--config", config, "step", "create-jira-release", VERSION, *now).exit_code == 0
    assert run_thor("--config", config, "step", "create-jira-release", VERSION, "--force", *now).exit_code == 0

    issues = jira_fake.issues_in("GEN3")
    story = next(i for i in issues if i.issuetype == "Story")
    assert (story.summary, story.fix_versions) == ("Gen3 release 2021.09", [VERSION])
    subtasks = sorted(i.summary for i in issues if i.parent == story.key)
    assert subtasks == sorted(["create-jira-release", "split-branch", "load-tests", "merge-stable",
                               "mark-released", "announce", "check-images", "rollout-ci",
                               "check-release-images", "rollout"])  # fmt: skip
    assert jira_fake.issues_created == 1 + len(subtasks)  # nothing made twice


def test_mark_released_uses_today_in_the_configured_timezone(thor: Thor, jira_fake: FakeJira) -> None:
    jira_fake.add_version("GEN3", VERSION)
    # 02:00 UTC on the 25th is still the 24th in Chicago.
    assert thor("step", "mark-released", VERSION, now="2021-09-25T02:00:00+00:00").exit_code == 0
    version = jira_fake.version_named("GEN3", VERSION)
    assert version is not None
    assert (version["released"], version["releaseDate"]) == (True, "2021-09-24")
    assert thor.step("mark-released")["detail"] == "marked JIRA version 2021.09 released on 2021-09-24"

    assert thor("step", "mark-released", VERSION, "--force", now="2021-09-27T12:00").exit_code == 0
    assert thor.step("mark-released")["detail"] == "JIRA version 2021.09 was already released (on 2021-09-24)"
    assert jira_fake.versions_released == 1
    assert jira_fake.version_named("GEN3", VERSION)["releaseDate"] == "2021-09-24"  # type: ignore[index]


def test_mark_released_without_the_version_fails_clearly(thor: Thor) -> None:
    assert thor("step", "mark-released", VERSION).exit_code == 1
    assert "JIRA version 2021.09 does not exist in project GEN3" in thor.step("mark-released")["detail"]


def test_wrong_credentials_fail_clearly_and_never_show_the_token(
    run_thor, tmp_path, database_url, jira_fake: FakeJira, monkeypatch: pytest.MonkeyPatch, db_dump
) -> None:
    thor = Thor(run_thor, tmp_path, database_url, jira_fake)
    monkeypatch.setenv("THOR_JIRA_TOKEN", WRONG_TOKEN)
    result = thor("step", "create-jira-release", VERSION, "--verbose")
    assert result.exit_code == 1
    detail = thor.step("create-jira-release")["detail"]
    assert "JIRA rejected the credentials (HTTP 401)" in detail
    log = thor("log", VERSION, "--json")
    for text in (result.stdout, result.stderr, log.stdout, db_dump(database_url)):
        assert WRONG_TOKEN not in text
    assert "JIRA rejected the credentials" in log.stdout
    assert jira_fake.versions_created == 0


def test_jira_down_fails_the_attempt_and_a_retry_succeeds(thor: Thor, jira_fake: FakeJira) -> None:
    jira_fake.down()
    assert thor("step", "create-jira-release", VERSION).exit_code == 1
    step = thor.step("create-jira-release")
    assert step["status"] == "pending"  # retried after the back-off
    assert f"JIRA at {jira_fake.url} is unreachable: connection refused" in step["detail"]
    jira_fake.up()
    assert thor("step", "create-jira-release", VERSION).exit_code == 0
    assert jira_fake.versions_created == 1


@pytest.mark.parametrize(
    ("status", "message"), [(429, "is rate limiting Thor (HTTP 429)"), (503, "failed to connect (HTTP 503)")]
)
def test_rate_limits_and_server_errors_are_retried(thor: Thor, jira_fake: FakeJira, status: int, message: str) -> None:
    jira_fake.fail_next(1, status=status, retry_after=0)
    assert thor("step", "create-jira-release", VERSION).exit_code == 1
    assert message in thor.step("create-jira-release")["detail"]
    assert thor("step", "create-jira-release", VERSION).exit_code == 0
    assert jira_fake.versions_created == 1


def test_unknown_placeholder_in_the_description_is_named(run_thor, tmp_path, jira_fake: FakeJira) -> None:
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", jira_fake)
    text = thor.config.read_text().replace("max_retries = 0", 'max_retries = 0\ndescription = "Release {nope}"')
    thor.config.write_text(text)
    assert thor("step", "create-jira-release", VERSION).exit_code == 1
    assert "[jira] description: unknown placeholder {nope}" in thor.step("create-jira-release")["detail"]
    assert jira_fake.versions_created == 0
