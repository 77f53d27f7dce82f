"""JiraClient against the fake JIRA: real ``jira`` client, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import date

import pytest

from tests.fakes.http import Request, Response
from tests.fakes.jira_server import FakeJira
from tests.support import unavailable_within
from thor_cli.adapters.jira import JiraClient, JiraVersion
from thor_cli.config import Settings, parse_config
from thor_cli.errors import ConfigError, ServiceUnavailable, StepError

START, RELEASE = date(2024, 5, 10), date(2024, 5, 24)


def client_for(fake: FakeJira, *, token: str | None = None, timeout: float = 5) -> JiraClient:
    return JiraClient(fake.url, fake.user, token or fake.token, timeout=timeout, max_retries=0)


def settings_with(**jira: object) -> Settings:
    return Settings(config=parse_config({"jira": jira}), path=None, database_url="sqlite://")


def ensure(client: JiraClient, name: str = "2024.05") -> tuple[JiraVersion, bool]:
    return client.ensure_version(
        "GEN3", name, description="Gen3 Core Release 2024.05", start_date=START, release_date=RELEASE
    )


def test_server_info(jira_fake: FakeJira) -> None:
    info = client_for(jira_fake).server_info()
    assert info["deploymentType"] == "Server"
    assert info["versionNumbers"] == [9, 12, 2]


def test_ensure_version_creates_it_once(jira_fake: FakeJira) -> None:
    client = client_for(jira_fake)
    version, created = ensure(client)
    assert created
    assert (version.name, version.released, version.start_date, version.release_date) == (
        "2024.05",
        False,
        "2024-05-10",
        "2024-05-24",
    )
    assert version.self_url.startswith(jira_fake.url)
    again, created_again = ensure(client)
    assert (again, created_again) == (version, False)
    assert jira_fake.versions_created == 1
    assert jira_fake.version_named("GEN3", "2024.05")["description"] == "Gen3 Core Release 2024.05"


def test_ensure_version_that_appears_between_look_and_create_is_returned(jira_fake: FakeJira) -> None:
    class RacingJira(FakeJira):
        """Someone else creates the version right after our first look."""

        looked = False

        def _project_versions(self, request: Request, match: re.Match[str]) -> Response:
            response = super()._project_versions(request, match)
            if not self.looked:
                self.looked = True
                self.add_version("GEN3", "2024.05")
            return response

    with RacingJira() as fake:
        version, created = ensure(client_for(fake))
    assert (version.name, created) == ("2024.05", False)
    assert fake.count("POST", "/rest/api/2/version") == 1  # answered 400: it already existed
    assert fake.versions_created == 0


def test_find_version(jira_fake: FakeJira) -> None:
    jira_fake.add_version("GEN3", "2024.04", released=True, release_date="2024-04-26")
    client = client_for(jira_fake)
    found = client.find_version("GEN3", "2024.04")
    assert found is not None and found.released and found.release_date == "2024-04-26"
    assert client.find_version("GEN3", "2099.01") is None


def test_unknown_project_is_a_step_error(jira_fake: FakeJira) -> None:
    with pytest.raises(StepError, match=r"list the versions of project NOPE \(HTTP 404\): No project"):
        client_for(jira_fake).find_version("NOPE", "2024.05")


def test_mark_released_is_idempotent(jira_fake: FakeJira) -> None:
    jira_fake.add_version("GEN3", "2024.05")
    client = client_for(jira_fake)
    version, changed = client.mark_released("GEN3", "2024.05", RELEASE)
    assert changed and version.released and version.release_date == "2024-05-24"
    again, changed_again = client.mark_released("GEN3", "2024.05", RELEASE)
    assert again.released and not changed_again
    assert jira_fake.versions_released == 1
    assert jira_fake.count("PUT") == 1


def test_mark_released_of_a_missing_version_is_a_step_error(jira_fake: FakeJira) -> None:
    with pytest.raises(StepError, match=r"JIRA version 2024\.05 does not exist in project GEN3"):
        client_for(jira_fake).mark_released("GEN3", "2024.05", RELEASE)


def test_release_tasks_are_created_once_and_missing_subtasks_added(jira_fake: FakeJira) -> None:
    jira_fake.add_version("GEN3", "2024.05")
    client = client_for(jira_fake)
    summary = "Gen3 Release 2024.05 (Hawk): tasks"
    key, created = client.ensure_release_tasks("GEN3", "2024.05", summary, ["Cut branches", "Deploy to QA"])
    assert (key, created) == ("GEN3-1", True)
    assert jira_fake.issues_created == 3

    assert client.ensure_release_tasks("GEN3", "2024.05", summary, ["Cut branches", "Deploy to QA"]) == (
        key,
        False,
    )
    assert jira_fake.issues_created == 3

    more = ["Cut branches", "Deploy to QA", "Announce"]
    assert client.ensure_release_tasks("GEN3", "2024.05", summary, more) == (key, True)
    assert jira_fake.issues_created == 4

    issues = {i.key: i for i in jira_fake.issues_in("GEN3")}
    story = issues[key]
    assert (story.issuetype, story.summary, story.fix_versions) == ("Story", summary, ["2024.05"])
    subtasks = sorted((i.summary, i.issuetype, i.parent) for i in issues.values() if i.key != key)
    assert subtasks == [(s, "Sub-task", key) for s in sorted(more)]


def test_a_story_with_a_similar_summary_is_not_reused(jira_fake: FakeJira) -> None:
    jira_fake.add_version("GEN3", "2024.05")
    client = client_for(jira_fake)
    first, _ = client.ensure_release_tasks("GEN3", "2024.05", "Release 2024.05 tasks extra", [])
    second, created = client.ensure_release_tasks("GEN3", "2024.05", "Release 2024.05 tasks", [])
    assert created and first != second


def test_cloud_uses_the_new_search_endpoint_and_subtask_type() -> None:
    with FakeJira(deployment_type="Cloud") as fake:
        fake.add_version("GEN3", "2024.05")
        client = JiraClient(fake.url, fake.user, fake.token, max_retries=0, subtask_type="Subtask")
        assert client.ensure_release_tasks("GEN3", "2024.05", "Release 2024.05", ["Notes"]) == (
            "GEN3-1",
            True,
        )
        assert client.ensure_release_tasks("GEN3", "2024.05", "Release 2024.05", ["Notes"]) == (
            "GEN3-1",
            False,
        )
        assert fake.count("GET", "/rest/api/2/search/jql") == 2
        assert not fake.errors


def test_wrong_token_is_unavailable_and_never_shown(jira_fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-jira-token-5f3e1d"
    monkeypatch.setenv("THOR_JIRA_TOKEN", wrong)
    client = JiraClient.from_settings(settings_with(url=jira_fake.url, project="GEN3"))
    with pytest.raises(ServiceUnavailable) as caught:
        client.find_version("GEN3", "2024.05")
    assert str(caught.value) == "JIRA rejected the credentials (HTTP 401)"
    assert wrong not in repr(client)


def test_a_server_message_echoing_the_token_is_redacted(jira_fake: FakeJira) -> None:
    body = json.dumps({"errorMessages": [f"token {jira_fake.token} may not create versions"], "errors": {}})
    client = client_for(jira_fake)
    client.server_info()
    jira_fake.fail_next(1, status=400, body=body)
    with pytest.raises(StepError) as caught:
        client.find_version("GEN3", "2024.05")
    message = str(caught.value)
    assert jira_fake.token not in message
    assert "HTTP 400" in message and "***" in message
    assert "\n" not in message


def test_server_down_is_unavailable_quickly_and_recovers(jira_fake: FakeJira) -> None:
    client = client_for(jira_fake)
    jira_fake.down()
    assert unavailable_within(3, client.server_info) == f"JIRA at {jira_fake.url} is unreachable: connection refused"
    jira_fake.up()
    assert client.server_info()["deploymentType"] == "Server"


def test_unresolvable_host_is_unavailable() -> None:
    client = JiraClient("http://no-such-host.invalid", "u", "t", max_retries=0, timeout=5)
    with pytest.raises(ServiceUnavailable, match=r"is unreachable: DNS lookup failed"):
        client.server_info()


def test_rate_limit_without_retries_is_a_clear_error(jira_fake: FakeJira) -> None:
    client = client_for(jira_fake)
    client.server_info()
    jira_fake.fail_next(1, status=429, retry_after=30)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match=r"rate limiting Thor \(HTTP 429\)"):
        client.find_version("GEN3", "2024.05")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_unavailable(jira_fake: FakeJira, status: int) -> None:
    client = client_for(jira_fake)
    client.server_info()
    jira_fake.fail_next(1, status=status)
    with pytest.raises(ServiceUnavailable, match=rf"failed to list the versions of project GEN3 \(HTTP {status}\)"):
        client.find_version("GEN3", "2024.05")


def test_slow_server_times_out(jira_fake: FakeJira) -> None:
    client = client_for(jira_fake, timeout=0.3)
    jira_fake.delay = 2
    assert unavailable_within(1.5, client.server_info) == f"JIRA at {jira_fake.url} did not answer within 0.3s"


def test_from_settings(jira_fake: FakeJira, monkeypatch: pytest.MonkeyPatch) -> None:
    client = JiraClient.from_settings(settings_with(url=jira_fake.url, project="GEN3", timeout=7))
    assert (client.url, client.timeout) == (jira_fake.url, 7)
    assert client.server_info()["serverTitle"] == "Fake JIRA"
    with pytest.raises(ConfigError, match=r"^\[jira\] url is not set in thor.toml$"):
        JiraClient.from_settings(settings_with(project="GEN3"))
    with pytest.raises(ConfigError, match=r"^\[jira\] project is not set in thor.toml$"):
        JiraClient.from_settings(settings_with(url=jira_fake.url))
    monkeypatch.delenv("THOR_JIRA_TOKEN")
    with pytest.raises(ConfigError, match=r"^THOR_JIRA_TOKEN is not set$"):
        JiraClient.from_settings(settings_with(url=jira_fake.url, project="GEN3"))


def test_importing_the_adapter_does_not_import_the_client_library() -> None:
    code = "import sys, thor_cli.adapters.jira; print(sorted({'jira', 'requests'} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
