"""The ``jenkins`` step (built-in ``load-tests``) through the real engine against the fake Jenkins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.fakes.jenkins_server import FakeJenkins
from thor_cli.adapters.jenkins import JenkinsClient

VERSION = "2021.09"
JOB = "gen3-load-tests"
PARAMS = {"RELEASE_VERSION": "2021.09", "INTEGRATION_BRANCH": "integration202109"}
WRONG_TOKEN = "wrong-jenkins-token-77d1e0"


class Thor:
    def __init__(self, run_thor, tmp_path: Path, database_url: str, fake: FakeJenkins, extra: str = "") -> None:  # type: ignore[no-untyped-def]
        self.config = write_config(
            tmp_path / "thor.toml",
            f"""
[jenkins]
url = "{fake.url}"
timeout = 5

[steps.load-tests]
after = []
poll_every = "1m"
{extra}
""",
            database_url,
        )
        self.run_thor = run_thor
        assert self("release", "start", VERSION).exit_code == 0

    def __call__(self, *args: str):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args, "--now", "2021-09-10T09:00")

    def step(self) -> dict:
        return next(s for s in self("status", VERSION, "--json").json()["steps"] if s["name"] == "load-tests")

    def load_tests(self, *flags: str):  # type: ignore[no-untyped-def]
        return self("step", "load-tests", VERSION, *flags)


def make_thor(run_thor, tmp_path: Path, fake: FakeJenkins, extra: str = "") -> Thor:  # type: ignore[no-untyped-def]
    return Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", fake, extra)


def trigger_by_hand(fake: FakeJenkins) -> int:
    """What a tick that died right after triggering leaves behind: a queue item Thor never recorded."""
    return JenkinsClient(fake.url, fake.user, fake.token, timeout=5).trigger(JOB, PARAMS)


def build_url(fake: FakeJenkins, number: int) -> str:
    return f"{fake.url}/job/{JOB}/{number}/"


def test_build_is_triggered_once_and_followed_to_success(run_thor, tmp_path, database_url, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, polls_until_done=1)
    thor = Thor(run_thor, tmp_path, database_url, jenkins_fake)

    assert thor.load_tests().exit_code == 0
    step = thor.step()
    assert (step["status"], step["detail"], step["link"]) == (
        "waiting",
        "build #1 running",
        build_url(jenkins_fake, 1),
    )
    assert step["next_attempt_at"].startswith("2021-09-10T09:01:0")  # poll_every after the --now
    assert jenkins_fake.builds(JOB)[0].params == PARAMS

    assert thor.load_tests().exit_code == 0  # a poll
    step = thor.step()
    assert (step["status"], step["detail"]) == ("succeeded", "build #1 succeeded")
    assert jenkins_fake.builds_triggered == 1


def test_failed_build_fails_with_the_console_tail(run_thor, tmp_path, jenkins_fake, monkeypatch, db_dump) -> None:
    token = jenkins_fake.token
    jenkins_fake.add_job(JOB, outcome="FAILURE", console=f"load test: 12 errors\nleaked {token} here")
    thor = make_thor(run_thor, tmp_path, jenkins_fake, "max_attempts = 1")

    assert thor.load_tests().exit_code == 1
    step = thor.step()
    assert (step["status"], step["detail"]) == ("failed", f"build #1 of {JOB} ended FAILURE")
    log = thor("log", VERSION, "load-tests")
    assert "load test: 12 errors" in log.stdout
    assert "Finished: FAILURE" in log.stdout
    assert token not in log.stdout + db_dump(f"sqlite:///{tmp_path / 'thor.db'}")


@pytest.mark.parametrize("result", ["ABORTED", "UNSTABLE"])
def test_other_unsuccessful_results_fail(run_thor, tmp_path, jenkins_fake, result: str) -> None:
    jenkins_fake.add_job(JOB, outcome=result)
    thor = make_thor(run_thor, tmp_path, jenkins_fake, "max_attempts = 1")
    assert thor.load_tests().exit_code == 1
    assert thor.step()["detail"] == f"build #1 of {JOB} ended {result}"


def test_the_next_attempt_after_a_failed_build_starts_a_new_one(run_thor, tmp_path, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, outcome="FAILURE")
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    assert thor.load_tests().exit_code == 1
    assert thor.step()["status"] == "pending"  # attempt 1 of 3 failed
    jenkins_fake.set_outcome(JOB, "SUCCESS")
    assert thor.load_tests().exit_code == 0
    assert (thor.step()["status"], thor.step()["detail"]) == ("succeeded", "build #2 succeeded")
    assert jenkins_fake.builds_triggered == 2


def test_a_build_triggered_by_a_dead_tick_is_adopted(run_thor, tmp_path, database_url, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, polls_until_done=5)
    thor = Thor(run_thor, tmp_path, database_url, jenkins_fake)
    trigger_by_hand(jenkins_fake)

    assert thor.load_tests().exit_code == 0
    assert thor.step()["detail"] == "build #1 running"
    assert jenkins_fake.builds_triggered == 1
    assert "build #1 of gen3-load-tests with this release's parameters exists" in thor("log", VERSION).stdout


def test_a_queued_item_of_a_dead_tick_is_adopted(run_thor, tmp_path, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, queue_polls=10)
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    queue_id = trigger_by_hand(jenkins_fake)

    assert thor.load_tests().exit_code == 0
    assert thor.step()["detail"] == f"queued in Jenkins (item {queue_id})"
    jenkins_fake.start_queued()
    assert thor.load_tests().exit_code == 0
    assert thor.step()["status"] == "succeeded"
    assert jenkins_fake.builds_triggered == len(jenkins_fake.triggers) == 1  # Thor never even asked


def test_a_build_of_another_release_is_not_adopted(run_thor, tmp_path, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB)
    JenkinsClient(jenkins_fake.url, jenkins_fake.user, jenkins_fake.token).trigger(
        JOB, {"RELEASE_VERSION": "2021.08", "INTEGRATION_BRANCH": "integration202108"}
    )
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    assert thor.load_tests().exit_code == 0
    assert thor.step()["detail"] == "build #2 succeeded"
    assert jenkins_fake.builds_triggered == 2


def test_a_forgotten_queue_item_is_found_again_by_its_parameters(run_thor, tmp_path, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, queue_polls=1, polls_until_done=3)
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    assert thor.load_tests().exit_code == 0
    queue_id = next(iter(jenkins_fake.queue))
    assert thor.step()["detail"] == f"queued in Jenkins (item {queue_id})"
    jenkins_fake.start_queued()
    jenkins_fake.forget_queue_item(queue_id)  # what Jenkins does ~5 minutes after the build started

    assert thor.load_tests().exit_code == 0
    assert thor.step()["detail"] == "build #1 running"
    assert jenkins_fake.builds_triggered == 1


def test_a_cancelled_queue_item_fails_the_attempt(run_thor, tmp_path, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, queue_polls=10)
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    assert thor.load_tests().exit_code == 0
    jenkins_fake.cancel_queue_item(next(iter(jenkins_fake.queue)))
    assert thor.load_tests().exit_code == 1
    assert "was cancelled" in thor.step()["detail"]
    jenkins_fake.set_outcome(JOB, "SUCCESS", queue_polls=0)
    assert thor.load_tests().exit_code == 0  # the next attempt triggers afresh
    assert (thor.step()["status"], jenkins_fake.builds_triggered) == ("succeeded", 2)


def test_an_outage_while_the_build_runs_costs_no_attempt(run_thor, tmp_path, database_url, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, polls_until_done=2)
    thor = Thor(run_thor, tmp_path, database_url, jenkins_fake)
    assert thor.load_tests().exit_code == 0
    jenkins_fake.down()
    assert thor.load_tests().exit_code == 0
    step = thor.step()
    assert step["status"] == "waiting"
    assert step["detail"].startswith(f"cannot reach Jenkins (Jenkins at {jenkins_fake.url} is unreachable")
    assert step["attempts"] == 1
    jenkins_fake.up()
    assert thor.load_tests().exit_code == 0
    assert thor.load_tests().exit_code == 0
    assert (thor.step()["status"], thor.step()["attempts"], jenkins_fake.builds_triggered) == (
        "succeeded",
        1,
        1,
    )


def test_an_outage_while_triggering_fails_the_attempt(run_thor, tmp_path, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB)
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    jenkins_fake.down()
    assert thor.load_tests().exit_code == 1
    step = thor.step()
    assert step["status"] == "pending"
    assert f"Jenkins at {jenkins_fake.url} is unreachable: connection refused" in step["detail"]
    jenkins_fake.up()
    assert thor.load_tests().exit_code == 0
    assert jenkins_fake.builds_triggered == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_while_triggering_fail_the_attempt(run_thor, tmp_path, jenkins_fake, status: int) -> None:
    jenkins_fake.add_job(JOB)
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    jenkins_fake.fail_next(1, status=status)
    assert thor.load_tests().exit_code == 1
    assert f"(HTTP {status})" in thor.step()["detail"]
    assert thor.load_tests().exit_code == 0
    assert jenkins_fake.builds_triggered == 1


def test_wrong_credentials_fail_clearly_and_never_show_the_token(
    run_thor, tmp_path, database_url, jenkins_fake, monkeypatch, db_dump
) -> None:
    jenkins_fake.add_job(JOB)
    thor = Thor(run_thor, tmp_path, database_url, jenkins_fake)
    monkeypatch.setenv("THOR_JENKINS_TOKEN", WRONG_TOKEN)
    result = thor.load_tests("--verbose")
    assert result.exit_code == 1
    assert "Jenkins rejected the credentials (HTTP 401)" in thor.step()["detail"]
    log = thor("log", VERSION, "--json").stdout
    assert "Jenkins rejected the credentials (HTTP 401)" in log
    for text in (result.stdout, result.stderr, log, db_dump(database_url)):
        assert WRONG_TOKEN not in text
    assert jenkins_fake.builds_triggered == 0


def test_force_runs_a_succeeded_step_with_a_new_build(run_thor, tmp_path, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB)
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    assert thor.load_tests().exit_code == 0
    assert "already succeeded" in thor.load_tests().stdout
    assert thor.load_tests("--force").exit_code == 0
    assert (thor.step()["detail"], jenkins_fake.builds_triggered) == ("build #2 succeeded", 2)


def test_params_must_identify_the_release(run_thor, tmp_path, jenkins_fake) -> None:
    config = write_config(tmp_path / "thor.toml", '[steps.load-tests]\nparams = { SUITE = "all" }\n')
    result = run_thor("--config", config, "steps")
    assert result.exit_code == 2
    assert "params must identify the release" in result.stderr


def test_dry_run_says_what_it_would_trigger(run_thor, tmp_path, jenkins_fake) -> None:
    thor = make_thor(run_thor, tmp_path, jenkins_fake)
    result = thor.load_tests("--dry-run")
    assert result.exit_code == 0
    assert "trigger Jenkins job gen3-load-tests (RELEASE_VERSION=2021.09, INTEGRATION_BRANCH=integration202109)" in (
        " ".join(result.stdout.split())
    )
    assert jenkins_fake.builds_triggered == 0
