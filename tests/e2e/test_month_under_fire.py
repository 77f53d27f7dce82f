"""A whole month on PostgreSQL as production runs it, and worse: the default pipeline, one tick a day at 06:00,
a Jenkins load test that runs two hours, three ticks racing on both freeze days, and ticks SIGKILLed at
named points chosen by a seeded random generator (reproducible: the seed is in the test's id).

At the end every outside effect happened exactly once: one JIRA version created and released, one Jenkins
build, one branch and one tag per repository, one Slack thread with no message twice; the release is released.
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.reliability.helpers import (
    BRANCH,
    JOB,
    REPOS,
    VERSION,
    make_remotes,
    pushes,
    reply_texts,
    run_together,
    services_toml,
    threads_of,
)
from tests.support import isolate_git, spawn

pytestmark = pytest.mark.slow
# Where a tick may die: inside the claim's transaction, right after it, before and while deriving the
# release's status (holding its row lock).
KILL_POINTS = ("claim-uncommitted", "step-claimed", "before-release-status", "release-locked")


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


@pytest.mark.parametrize("seed", [2021])
def test_a_month_of_daily_ticks_with_races_and_kills_does_everything_once(  # type: ignore[no-untyped-def]
    run_thor, tmp_path: Path, postgres_url: str, jira_fake, jenkins_fake, slack_fake, monkeypatch, seed: int
) -> None:
    rng = random.Random(seed)
    remotes = make_remotes(tmp_path / "remotes")
    jenkins_fake.set_outcome(JOB, "SUCCESS", runs_for=2 * 3600.0)
    config = write_config(
        tmp_path / "thor.toml",
        services_toml(jira=jira_fake, jenkins=jenkins_fake, slack=slack_fake, remotes=tmp_path / "remotes"),
        postgres_url,
    )
    kills: list[tuple[str, str]] = []

    def at(day: datetime) -> str:
        jenkins_fake.clock = lambda: day.replace(tzinfo=UTC).timestamp()
        return day.isoformat(timespec="minutes")

    def killed_tick(now: str) -> None:
        point = rng.choice(KILL_POINTS)
        monkeypatch.setenv("THOR_FAILPOINTS", f"{point}=kill")
        process = spawn(config, "tick", "--now", now)
        process.communicate(timeout=120)
        monkeypatch.delenv("THOR_FAILPOINTS")
        # A tick that had nothing left to do at that point finished normally.
        assert process.returncode in (-signal.SIGKILL, 0), process.returncode
        if process.returncode == -signal.SIGKILL:
            kills.append((now, point))

    day = datetime(2021, 9, 10, 6, 0)
    while day <= datetime(2021, 9, 24, 6, 0):
        now = at(day)
        for _ in range(rng.randint(0, 2)):
            killed_tick(now)
        if day.day in (10, 24):  # feature and code freeze: racing ticks
            finished = run_together(config, "tick", "--now", now, count=3)
            assert all(f.code in (0, 1) for f in finished), finished
        tick = run_thor("--config", config, "tick", "--now", now)
        assert tick.exit_code == 0, (now, tick.stdout, tick.stderr)
        day += timedelta(days=1)
    assert kills, "the seed killed nothing: choose another"

    status = run_thor("--config", config, "status", VERSION, "--json").json()
    assert status["status"] == "released", (kills, status)
    assert (jira_fake.versions_created, jira_fake.versions_released) == (1, 1), kills
    assert jenkins_fake.builds_triggered == 1, kills
    for name in REPOS:
        assert Counter(pushes(remotes[name])) == {
            f"refs/heads/{BRANCH}": 1, "refs/heads/stable": 1, f"refs/tags/{VERSION}": 1,
        }, (name, kills)  # fmt: skip
    [thread] = threads_of(slack_fake)
    replies = reply_texts(slack_fake, thread)
    assert len(replies) == len(set(replies)), (kills, replies)
    assert any(text.startswith(f"Gen3 release {VERSION} is out") for text in replies)
