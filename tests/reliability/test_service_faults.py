"""JIRA, Jenkins or Slack down, failing (500), rate limiting (429) or too slow for a while, on a real release.

The default pipeline runs with its built-in JIRA, Jenkins and Slack steps against the fakes; the git steps
are command steps (tests/reliability/test_crash_recovery.py has the real ones). Whatever misbehaves, the
release goes on where it can, says clearly what went wrong, and resumes when the service is back, without
losing state or doing anything twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.fakes.http import FakeServer
from tests.reliability.helpers import (
    CODE_FREEZE,
    FEATURE_FREEZE,
    JOB,
    VERSION,
    Cli,
    outbox,
    reply_texts,
    services_toml,
    threads_of,
)
from tests.support import STEP_NAMES, steps_toml

TIMEOUT = 0.5  # seconds: what thor.toml gives every service; a "slow" fake answers after twice that
GIT_STEPS = {
    "split-branch": 'uses = "command"\nrun = ["sh", "-c", "echo split {integration_branch} >> side.txt"]',
    "release-notes": 'uses = "command"\nrun = ["sh", "-c", "echo notes {version} >> side.txt"]',
    "merge-stable": 'uses = "command"\nrun = ["sh", "-c", "echo merge {version} >> side.txt"]',
}


@dataclass(frozen=True)
class Fault:
    """One way for a service to misbehave, and the words Thor must use for it."""

    start: Callable[[FakeServer], None]
    message: Callable[[FakeServer], str]

    @staticmethod
    def stop(fake: FakeServer) -> None:
        fake.clear_faults()
        fake.up()


def _down(fake: FakeServer) -> None:
    fake.down()


def _slow(fake: FakeServer) -> None:
    fake.delay = 2 * TIMEOUT


def _failing(status: int) -> Callable[[FakeServer], None]:
    return lambda fake: fake.fail_next(1000, status=status, retry_after=0 if status == 429 else None)


def _where(fake: FakeServer) -> str:
    """How Thor names a service in messages: "JIRA at http://127.0.0.1:PORT"."""
    service = {"jira": "JIRA", "jenkins": "Jenkins", "slack": "Slack"}[fake.name]
    return f"{service} at {fake.url}" + ("/api/" if fake.name == "slack" else "")


DOWN = Fault(_down, lambda f: f"{_where(f)} is unreachable: connection refused")
SLOW = Fault(_slow, lambda f: f"{_where(f)} did not answer within {TIMEOUT}s")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Each kind of fault is tried on SQLite; the test of all of them at once runs on both backends."""
    return f"sqlite:///{tmp_path / 'thor.db'}"


@pytest.fixture
def release(run_thor, tmp_path: Path, jira_fake, jenkins_fake, slack_fake):  # type: ignore[no-untyped-def]
    """The default pipeline against the three fakes, retries an hour apart."""

    def make(database_url: str, *, build_polls: int = 0, extra: dict[str, str] | None = None) -> Cli:
        jenkins_fake.add_job(JOB, polls_until_done=build_polls)
        tables = dict(GIT_STEPS)
        tables["create-jira-release"] = 'retry_after = "1h"'
        tables["load-tests"] = 'retry_after = "1h"\npoll_every = "10m"'
        text = services_toml(jira=jira_fake, jenkins=jenkins_fake, slack=slack_fake, timeout=TIMEOUT, extra=extra)
        config = write_config(tmp_path / "thor.toml", text + steps_toml(tables), database_url)
        return Cli(run_thor, config)

    return make


def at(time_of_day: str, day: str = FEATURE_FREEZE) -> str:
    return f"{day[:10]}T{time_of_day}"


def one_thread_without_repeats(slack_fake) -> list[str]:  # type: ignore[no-untyped-def]
    [thread] = threads_of(slack_fake)
    replies = reply_texts(slack_fake, thread)
    assert len(replies) == len(set(replies)), Counter(replies).most_common(2)
    assert len(slack_fake.posted) == 1 + len(replies)
    return replies


# -- JIRA ---------------------------------------------------------------------------------------------

JIRA_FAULTS = {
    "down": DOWN,
    "500": Fault(_failing(500), lambda f: f"JIRA at {f.url} failed to connect (HTTP 500)"),
    "429": Fault(_failing(429), lambda f: f"JIRA at {f.url} is rate limiting Thor (HTTP 429); try later"),
    "slow": SLOW,
}


@pytest.mark.parametrize("fault", list(JIRA_FAULTS))
def test_jira_failing_on_feature_freeze_day_is_retried_once_it_is_back(
    release, sqlite_url: str, jira_fake, slack_fake, fault: str
) -> None:
    thor = release(sqlite_url)
    JIRA_FAULTS[fault].start(jira_fake)
    first = thor.tick(FEATURE_FREEZE)
    assert first.exit_code == 0, first.stderr
    message = JIRA_FAULTS[fault].message(jira_fake)
    retry = f"attempt 1/3 failed: {message}; retry after 2021-09-10 10:00 UTC"
    assert f"{VERSION} create-jira-release: retry — {retry}\n" in first.stdout
    steps = thor.steps()
    assert (steps["create-jira-release"]["status"], steps["create-jira-release"]["detail"]) == ("pending", retry)
    # The rest of the feature-freeze work went on without JIRA.
    assert {n: steps[n]["status"] for n in ("split-branch", "load-tests", "release-notes")} == dict.fromkeys(
        ("split-branch", "load-tests", "release-notes"), "succeeded"
    )

    Fault.stop(jira_fake)
    asked = jira_fake.count()
    assert thor.tick(at("09:30")).exit_code == 0  # before retry_after: JIRA is left alone
    assert (jira_fake.count(), thor.steps()["create-jira-release"]["status"]) == (asked, "pending")

    later = thor.tick(at("11:00"))
    assert later.exit_code == 0, later.stderr
    step = thor.steps()["create-jira-release"]
    assert (step["status"], step["attempts"]) == ("succeeded", 2)
    assert step["detail"] == f"created JIRA version {VERSION} in GEN3"
    assert jira_fake.versions_created == 1
    assert thor.transitions("create-jira-release") == ["started", "retry", "started", "succeeded"]
    replies = one_thread_without_repeats(slack_fake)
    assert f"🔁 {VERSION} create-jira-release retry: {retry}" in replies


# -- Jenkins ------------------------------------------------------------------------------------------

JENKINS_FAULTS = {
    "down": DOWN,
    "500": Fault(_failing(500), lambda f: f"Jenkins at {f.url} failed to read build {JOB} #1 (HTTP 500)"),
    "429": Fault(_failing(429), lambda f: f"Jenkins at {f.url} failed to read build {JOB} #1 (HTTP 429)"),
    "slow": SLOW,
}


@pytest.mark.parametrize("fault", list(JENKINS_FAULTS))
def test_jenkins_failing_while_the_build_runs_keeps_the_step_waiting(
    release, sqlite_url: str, jenkins_fake, slack_fake, fault: str
) -> None:
    thor = release(sqlite_url, build_polls=1)
    assert thor.tick(FEATURE_FREEZE).exit_code == 0
    assert thor.steps()["load-tests"]["detail"] == "build #1 running"

    JENKINS_FAULTS[fault].start(jenkins_fake)
    for now in (at("09:11"), at("09:22")):
        result = thor.tick(now)
        assert result.exit_code == 0, result.stderr
        step = thor.steps()["load-tests"]
        assert (step["status"], step["attempts"]) == ("waiting", 1), now
        message = JENKINS_FAULTS[fault].message(jenkins_fake)
        assert step["detail"] == f"cannot reach Jenkins ({message}); looking again in 10m"
    assert thor.status()["status"] == "active"

    Fault.stop(jenkins_fake)
    assert thor.tick(at("09:33")).exit_code == 0
    step = thor.steps()["load-tests"]
    assert (step["status"], step["attempts"], step["detail"]) == ("succeeded", 1, "build #1 succeeded")
    assert jenkins_fake.builds_triggered == 1
    assert not {"retry", "failed"} & set(thor.transitions("load-tests"))
    one_thread_without_repeats(slack_fake)


# -- Slack --------------------------------------------------------------------------------------------

SLACK_FAULTS = {
    "down": DOWN,
    "500": Fault(_failing(500), lambda f: f"Slack at {f.url}/api/ failed to list the channels (HTTP 500)"),
    "429": Fault(_failing(429), lambda _: "Slack is rate limiting Thor (still ratelimited after 0 retries)"),
    "slow": SLOW,
}


@pytest.mark.parametrize("fault", list(SLACK_FAULTS))
def test_slack_failing_for_a_tick_delays_messages_and_fails_nothing(
    release, sqlite_url: str, slack_fake, fault: str
) -> None:
    thor = release(sqlite_url, extra={"slack": "max_rate_limit_retries = 0"})
    SLACK_FAULTS[fault].start(slack_fake)
    result = thor.tick(FEATURE_FREEZE, "--verbose")
    assert result.exit_code == 0, result.stderr
    message = SLACK_FAULTS[fault].message(slack_fake)
    assert f"notifications delayed: {message}\n" in result.stderr
    steps = thor.steps()
    assert {n: steps[n]["status"] for n in STEP_NAMES[:4]} == dict.fromkeys(STEP_NAMES[:4], "succeeded")
    assert slack_fake.posted == []
    rows = outbox(sqlite_url)
    assert rows and {status for status, _ in rows} == {"pending"}
    assert rows[0] == ("pending", message)  # the error is kept with the first message, which stopped the flush

    Fault.stop(slack_fake)
    assert thor.tick(at("09:10")).exit_code == 0
    replies = one_thread_without_repeats(slack_fake)
    assert replies[0] == f"▶️ {VERSION} create-jira-release started"
    assert replies[1].startswith(f"✅ {VERSION} create-jira-release succeeded: created JIRA version {VERSION}")
    assert {status for status, _ in outbox(sqlite_url)} == {"sent"}
    posted = len(slack_fake.posted)
    assert thor.tick(at("09:20")).exit_code == 0
    assert len(slack_fake.posted) == posted


def test_a_slack_rate_limit_is_waited_out_as_slack_asks(release, sqlite_url: str, slack_fake) -> None:
    thor = release(sqlite_url)
    slack_fake.fail_next(1, status=429, retry_after=1)
    started = time.monotonic()
    assert thor.tick(FEATURE_FREEZE).exit_code == 0
    assert time.monotonic() - started >= 1
    assert len(slack_fake.requests) == len(slack_fake.calls) + 1  # the refused call, made again
    replies = one_thread_without_repeats(slack_fake)
    assert f"▶️ {VERSION} create-jira-release started" in replies


# -- all of them at once ------------------------------------------------------------------------------


def test_everything_down_on_feature_freeze_day_then_back(
    release, database_url: str, jira_fake, jenkins_fake, slack_fake, tmp_path: Path
) -> None:
    thor = release(database_url)
    for fake in (jira_fake, jenkins_fake, slack_fake):
        fake.down()
    first = thor.tick(FEATURE_FREEZE)
    assert first.exit_code == 0, first.stderr
    steps = thor.steps()
    assert {n: (s["status"], s["attempts"]) for n, s in steps.items()} == {
        "create-jira-release": ("pending", 1), "split-branch": ("succeeded", 1), "load-tests": ("pending", 1),
        "release-notes": ("succeeded", 1), "merge-stable": ("pending", 0), "mark-released": ("pending", 0),
        "announce": ("pending", 0), "check-images": ("succeeded", 1), "rollout-ci": ("succeeded", 1),
        "check-release-images": ("pending", 0), "rollout": ("pending", 0),
    }  # fmt: skip
    assert f"JIRA at {jira_fake.url} is unreachable" in steps["create-jira-release"]["detail"]
    assert f"Jenkins at {jenkins_fake.url} is unreachable" in steps["load-tests"]["detail"]

    for fake in (jira_fake, jenkins_fake, slack_fake):
        fake.up()
    assert thor.tick(at("11:00")).exit_code == 0
    assert thor.tick(CODE_FREEZE).exit_code == 0
    status = thor.status()
    assert status["status"] == "released"
    assert {s["name"]: s["attempts"] for s in status["steps"]} == {
        "create-jira-release": 2, "split-branch": 1, "load-tests": 2, "release-notes": 1, "merge-stable": 1,
        "mark-released": 1, "announce": 1, "check-images": 1, "rollout-ci": 1, "check-release-images": 1, "rollout": 1,
    }  # fmt: skip
    assert (jira_fake.versions_created, jira_fake.versions_released, jenkins_fake.builds_triggered) == (1, 1, 1)
    assert (tmp_path / "side.txt").read_text().splitlines() == [
        "split integration202109",
        f"notes {VERSION}",
        f"merge {VERSION}",
    ]
    replies = one_thread_without_repeats(slack_fake)
    # What happened during the outage was kept and told once Slack was back.
    assert any(r.startswith(f"🔁 {VERSION} create-jira-release retry: ") for r in replies)
    assert any(r.startswith(f"🔁 {VERSION} load-tests retry: ") for r in replies)
    assert replies[-1] == f"Release {VERSION} is now released"
