"""The release ships from the crontab.example's daily tick, with a Jenkins load test that runs two hours.

The default pipeline, every step real (git on bare repositories; JIRA, Jenkins and Slack clients against their
fakes). The fake Jenkins runs on the tests' clock: the build lasts two hours of the days the ticks travel to.
The load-tests step times out after 12 hours, so the next day's tick finds it past its timeout: it must ask
Jenkins once more, see the build succeeded, and go on: no retry, no failure, one build.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes import gitrepos as g
from tests.fakes.gitrepos import DEFAULT_HISTORY, Tag
from tests.support import git_config, isolate_git

VERSION = "2021.09"  # feature freeze Fri 2021-09-10, code freeze Fri 2021-09-24
NAMES = ("uc-cdis/fence", "uc-cdis/indexd")
JOB = "gen3-load-tests"
TWO_HOURS = 2 * 3600.0


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


def _setup(run_thor, tmp_path: Path, database_url: str, jira_fake, jenkins_fake, slack_fake, extra: str = ""):  # type: ignore[no-untyped-def]
    for name in NAMES:
        g.make_remote(
            tmp_path / "remotes", name, history=[*DEFAULT_HISTORY, Tag("2021.08", "Gen3 Core Release 2021.08")]
        )
    jenkins_fake.set_outcome(JOB, "SUCCESS", runs_for=TWO_HOURS)
    services = f"""
[jira]
url = "{jira_fake.url}"
project = "GEN3"
max_retries = 0

[jenkins]
url = "{jenkins_fake.url}"

[slack]
channel = "#releases"
base_url = "{slack_fake.url}/api/"
{extra}
"""
    config = git_config(tmp_path, NAMES, services, database_url)

    def tick(now: str, *args: str) -> None:
        moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
        jenkins_fake.clock = lambda: moment.timestamp()  # the build's two hours pass on the ticks' clock
        result = run_thor("--config", config, "tick", "--now", now, *args)
        assert result.exit_code == 0, (now, result.stdout, result.stderr)
        assert "fail" not in result.stdout and result.stderr == "", (now, result.stdout, result.stderr)

    def status() -> dict:  # type: ignore[type-arg]
        return run_thor("--config", config, "status", VERSION, "--json").json()

    return tick, status


def _shipped(status: Callable[[], dict], jira_fake, jenkins_fake, slack_fake, run_thor=None) -> None:  # type: ignore[no-untyped-def, type-arg]
    data = status()
    assert data["status"] == "released", data
    load = next(s for s in data["steps"] if s["name"] == "load-tests")
    assert (load["status"], load["attempts"]) == ("succeeded", 1), load
    assert load["detail"] == "build #1 succeeded in 2h", load
    assert jenkins_fake.builds_triggered == 1
    assert (jira_fake.versions_created, jira_fake.versions_released) == (1, 1)
    threads = [m for m in slack_fake.channel_messages("releases") if m.get("thread_ts") in (None, m["ts"])]
    assert len(threads) == 1
    replies = [m["text"] for m in slack_fake.replies("releases", threads[0]["ts"])]
    assert len(replies) == len(set(replies))
    assert not any("retry" in r or "failed" in r for r in replies), replies


def test_the_daily_crontab_line_ships_the_release(  # type: ignore[no-untyped-def]
    run_thor, tmp_path: Path, database_url: str, jira_fake, jenkins_fake, slack_fake
) -> None:
    tick, status = _setup(run_thor, tmp_path, database_url, jira_fake, jenkins_fake, slack_fake)
    day = datetime(2021, 9, 10, 6, 0)  # `0 6 * * * thor tick`
    while day <= datetime(2021, 9, 24, 6, 0):
        tick(day.isoformat(timespec="minutes"))
        day += timedelta(days=1)
    _shipped(status, jira_fake, jenkins_fake, slack_fake)
    events = run_thor("--config", tmp_path / "thor.toml", "log", VERSION, "load-tests", "--json").json()["events"]
    kinds = [e["kind"] for e in events if e["kind"] in ("started", "waiting", "retry", "failed", "succeeded")]
    assert kinds == ["started", "waiting", "succeeded"]


def test_ticks_every_fifteen_minutes_ship_the_release(  # type: ignore[no-untyped-def]
    run_thor, tmp_path: Path, database_url: str, jira_fake, jenkins_fake, slack_fake
) -> None:
    tick, status = _setup(run_thor, tmp_path, database_url, jira_fake, jenkins_fake, slack_fake)
    moment = datetime(2021, 9, 10, 6, 0)
    for _ in range(12):  # three hours of feature-freeze day
        tick(moment.isoformat(timespec="minutes"))
        moment += timedelta(minutes=15)
    load = next(s for s in status()["steps"] if s["name"] == "load-tests")
    assert load["status"] == "succeeded", load
    tick("2021-09-24T06:00")
    _shipped(status, jira_fake, jenkins_fake, slack_fake)


def test_tick_wait_follows_the_build_to_its_end(  # type: ignore[no-untyped-def]
    run_thor, tmp_path: Path, database_url: str, jira_fake, jenkins_fake, slack_fake
) -> None:
    _tick, status = _setup(
        run_thor, tmp_path, database_url, jira_fake, jenkins_fake, slack_fake, '[steps.load-tests]\npoll_every = "1s"'
    )
    # One tick that waits: the fake's clock runs an hour for each real second, so the build's two hours pass
    # while the tick polls every second.
    started = time.time()
    base = datetime(2021, 9, 10, 6, 0, tzinfo=UTC).timestamp()
    jenkins_fake.clock = lambda: base + (time.time() - started) * 3600
    result = run_thor("--config", tmp_path / "thor.toml", "tick", "--now", "2021-09-10T06:00", "--wait", "1h")
    assert result.exit_code == 0, result.stderr
    load = next(s for s in status()["steps"] if s["name"] == "load-tests")
    assert (load["status"], load["attempts"], load["detail"]) == ("succeeded", 1, "build #1 succeeded in 2h")
    assert jenkins_fake.builds_triggered == 1
