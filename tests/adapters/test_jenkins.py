"""JenkinsClient against the fake Jenkins: real python-jenkins, real HTTP on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fakes.jenkins_server import FakeJenkins
from tests.support import unavailable_within
from thor_cli.adapters.jenkins import Build, JenkinsClient, QueueItemGone
from thor_cli.config import Settings, parse_config
from thor_cli.errors import ConfigError, ServiceUnavailable, StepError

PARAMS = {"RELEASE": "2024.05", "BRANCH": "integration202405"}


def client_for(fake: FakeJenkins, *, token: str | None = None, timeout: float = 5) -> JenkinsClient:
    return JenkinsClient(fake.url, fake.user, token or fake.token, timeout=timeout)


def settings_with(**jenkins: object) -> Settings:
    return Settings(config=parse_config({"jenkins": jenkins}), path=None, database_url="sqlite://")


def test_version(jenkins_fake: FakeJenkins) -> None:
    assert client_for(jenkins_fake).version() == "2.452.1"


def test_a_build_in_a_folder_from_trigger_to_result(jenkins_fake: FakeJenkins) -> None:
    jenkins_fake.set_outcome("gen3/release", "FAILURE", polls_until_done=1, queue_polls=1)
    client = client_for(jenkins_fake)
    queue_id = client.trigger("gen3/release", PARAMS)
    assert client.resolve_queue(queue_id) is None  # still waiting for an executor
    number = client.resolve_queue(queue_id)
    assert number == 1
    running = client.build("gen3/release", number)
    assert (running.building, running.result, running.params) == (True, None, PARAMS)
    assert running.url == f"{jenkins_fake.url}/job/gen3/job/release/1/"
    done = client.build("gen3/release", number)
    assert (done.building, done.result) == (False, "FAILURE")
    assert done.duration_ms > 0
    assert jenkins_fake.builds_triggered == 1
    assert jenkins_fake.triggers == [("gen3/release", PARAMS)]


def test_a_tick_that_died_after_triggering_does_not_trigger_again(jenkins_fake: FakeJenkins) -> None:
    """What a step does: look in the queue, then among the builds, and trigger only if neither has it."""
    jenkins_fake.set_outcome("deploy", "SUCCESS", queue_polls=1)
    client = client_for(jenkins_fake)

    def tick() -> int | Build:
        queued = client.find_queued("deploy", PARAMS)
        if queued is not None:
            return queued
        return client.find_build("deploy", PARAMS) or client.trigger("deploy", PARAMS)

    first = tick()  # triggers, then "dies" before recording the queue id
    assert tick() == first  # found in the queue
    build = tick()  # the item has left the queue: found among the builds
    assert isinstance(build, Build) and build.number == 1
    assert jenkins_fake.builds_triggered == 1


def test_find_build_matches_all_given_parameters_newest_first(jenkins_fake: FakeJenkins) -> None:
    client = client_for(jenkins_fake)
    for release in ("2024.04", "2024.05", "2024.05"):
        client.trigger("deploy", {**PARAMS, "RELEASE": release, "DRY_RUN": False})
    found = client.find_build("deploy", {"RELEASE": "2024.05", "DRY_RUN": False})  # type: ignore[dict-item]
    assert found is not None and found.number == 3
    assert found.params["DRY_RUN"] == "false"
    assert client.find_build("deploy", {"RELEASE": "2024.06"}) is None
    assert client.find_build("deploy", {"RELEASE": "2024.04"}, limit=2) is None  # older than the last 2


def test_find_queued_ignores_other_jobs_and_parameters(jenkins_fake: FakeJenkins) -> None:
    jenkins_fake.add_job("other/release", queue_polls=5)
    jenkins_fake.set_outcome("gen3/release", "SUCCESS", queue_polls=5)
    client = client_for(jenkins_fake)
    client.trigger("other/release", PARAMS)
    queue_id = client.trigger("gen3/release", PARAMS)
    assert client.find_queued("gen3/release", PARAMS) == queue_id
    assert client.find_queued("gen3/release", {"RELEASE": "2024.05"}) == queue_id
    assert client.find_queued("gen3/release", {"RELEASE": "2024.06"}) is None
    assert client.find_queued("release", PARAMS) is None


def test_an_identical_queued_trigger_returns_the_waiting_item(jenkins_fake: FakeJenkins) -> None:
    jenkins_fake.set_outcome("deploy", "SUCCESS", queue_polls=5)
    client = client_for(jenkins_fake)
    first = client.trigger("deploy", PARAMS)
    assert client.trigger("deploy", PARAMS) == first  # Jenkins answered 303: already queued
    assert jenkins_fake.builds_triggered == 1


def test_a_forgotten_queue_item_is_queue_item_gone(jenkins_fake: FakeJenkins) -> None:
    client = client_for(jenkins_fake)
    queue_id = client.trigger("deploy", PARAMS)
    jenkins_fake.forget_queue_item(queue_id)
    with pytest.raises(QueueItemGone, match=f"no longer knows queue item {queue_id}"):
        client.resolve_queue(queue_id)
    assert client.find_build("deploy", PARAMS) is not None  # the fallback a step uses


def test_a_cancelled_queue_item_is_a_step_error(jenkins_fake: FakeJenkins) -> None:
    jenkins_fake.set_outcome("deploy", "SUCCESS", queue_polls=5)
    client = client_for(jenkins_fake)
    queue_id = client.trigger("deploy", PARAMS)
    jenkins_fake.cancel_queue_item(queue_id)
    with pytest.raises(StepError, match="was cancelled") as caught:
        client.resolve_queue(queue_id)
    assert not isinstance(caught.value, QueueItemGone)


def test_missing_jobs_and_builds_are_step_errors(jenkins_fake: FakeJenkins) -> None:
    client = client_for(jenkins_fake)
    with pytest.raises(StepError, match=r"could not trigger nope: not found \(HTTP 404\)"):
        client.trigger("nope", PARAMS)
    with pytest.raises(StepError, match=r"could not read build deploy #7"):
        client.build("deploy", 7)
    with pytest.raises(StepError, match=r"could not list the builds of nope"):
        client.find_build("nope", PARAMS)


def test_console_tail_is_redacted_and_short(jenkins_fake: FakeJenkins) -> None:
    jenkins_fake.add_job("leaky", console=f"curl -u thor:{jenkins_fake.token} https://example.org\nall good")
    client = client_for(jenkins_fake)
    client.trigger("leaky", {})
    full = client.console_tail("leaky", 1)
    assert jenkins_fake.token not in full
    assert "curl -u thor:***" in full and full.endswith("Finished: SUCCESS\n")
    assert client.console_tail("leaky", 1, chars=18) == "Finished: SUCCESS\n"


def test_wrong_token_is_unavailable_and_never_shown(jenkins_fake: FakeJenkins, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-jenkins-token-0a9b8c"
    monkeypatch.setenv("THOR_JENKINS_TOKEN", wrong)
    client = JenkinsClient.from_settings(settings_with(url=jenkins_fake.url))
    for call in (client.version, lambda: client.trigger("deploy", PARAMS)):
        with pytest.raises(ServiceUnavailable) as caught:
            call()
        assert str(caught.value) == "Jenkins rejected the credentials (HTTP 401)"
    assert wrong not in repr(client)
    assert jenkins_fake.builds_triggered == 0


def test_a_server_error_echoing_the_token_is_not_shown(jenkins_fake: FakeJenkins) -> None:
    client = client_for(jenkins_fake)
    jenkins_fake.fail_next(1, status=500, body=f"java.lang.Exception: bad token {jenkins_fake.token}")
    with pytest.raises(ServiceUnavailable) as caught:
        client.find_build("deploy", PARAMS)
    assert jenkins_fake.token not in str(caught.value)
    assert str(caught.value) == f"Jenkins at {jenkins_fake.url} failed to list the builds of deploy (HTTP 500)"


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, ServiceUnavailable), (503, ServiceUnavailable), (400, StepError), (409, StepError)],
)
def test_http_errors(jenkins_fake: FakeJenkins, status: int, error: type[Exception]) -> None:
    client = client_for(jenkins_fake)
    client.version()  # authenticated; the crumb comes with the first call below
    client.find_queued("deploy", PARAMS)
    jenkins_fake.fail_next(1, status=status)
    with pytest.raises(error, match=rf"trigger deploy.*\(HTTP {status}\)"):
        client.trigger("deploy", PARAMS)
    assert jenkins_fake.builds_triggered == 0


def test_server_down_is_unavailable_quickly_and_recovers(jenkins_fake: FakeJenkins) -> None:
    client = client_for(jenkins_fake)
    jenkins_fake.down()
    assert (
        unavailable_within(3, client.trigger, "deploy", PARAMS)
        == f"Jenkins at {jenkins_fake.url} is unreachable: connection refused"
    )
    jenkins_fake.up()
    assert client.trigger("deploy", PARAMS) > 0


def test_slow_server_times_out(jenkins_fake: FakeJenkins) -> None:
    client = client_for(jenkins_fake, timeout=0.3)
    jenkins_fake.delay = 2
    assert unavailable_within(1.5, client.version) == f"Jenkins at {jenkins_fake.url} did not answer within 0.3s"


def test_without_crumbs(jenkins_fake: FakeJenkins) -> None:
    with FakeJenkins(jobs=("deploy",), crumbs=False) as fake:
        client = client_for(fake)
        assert client.resolve_queue(client.trigger("deploy", PARAMS)) == 1
        assert not fake.errors


def test_from_settings(jenkins_fake: FakeJenkins, monkeypatch: pytest.MonkeyPatch) -> None:
    client = JenkinsClient.from_settings(settings_with(url=jenkins_fake.url + "/", timeout=9))
    assert (client.url, client.timeout) == (jenkins_fake.url, 9)
    assert client.version() == "2.452.1"
    with pytest.raises(ConfigError, match=r"^\[jenkins\] url is not set in thor.toml$"):
        JenkinsClient.from_settings(settings_with())
    monkeypatch.delenv("THOR_JENKINS_TOKEN")
    with pytest.raises(ConfigError, match=r"^THOR_JENKINS_TOKEN is not set$"):
        JenkinsClient.from_settings(settings_with(url=jenkins_fake.url))


def test_importing_the_adapter_does_not_import_the_client_library() -> None:
    code = "import sys, thor_cli.adapters.jenkins; print(sorted({'jenkins', 'requests'} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
