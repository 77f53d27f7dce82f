"""A tick SIGKILLed at the worst moments; the next ticks finish the release without doing anything twice.

Each kill lands at a chosen point, not a lucky one: a git push is held in a pre-receive hook, an HTTP request
is held by the fake (before it is served, or after the outside world changed but before Thor hears back).
The whole process group goes, git and hooks included. tests/engine/test_concurrency.py covers the lease
mechanics with command steps; here the steps are the real ones and the outside world is counted.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.fakes import gitrepos as g
from tests.fakes.http import FakeServer, Request
from tests.reliability.helpers import (
    BRANCH,
    CODE_FREEZE,
    FEATURE_FREEZE,
    JOB,
    VERSION,
    Cli,
    Finished,
    Hold,
    hold_pushes,
    kill,
    make_remotes,
    one_step_config,
    pushes,
    release_pushes,
    reply_texts,
    services_toml,
    threads_of,
)
from tests.support import STEP_NAMES, isolate_git, spawn, steps_toml, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


def killed_when(config: Path, now: str, ready: Callable[[], object], what: str) -> Finished:
    """Run one tick in a process of its own and SIGKILL its process group as soon as ``ready()``."""
    process = spawn(config, "tick", "--now", now)
    try:
        wait_for(lambda: ready() or process.poll() is not None, what)
    finally:
        result = kill(process)
    assert result.code == -signal.SIGKILL, f"the tick ended before {what}: {result}"
    return result


def killed_while_held(
    config: Path, now: str, fake: FakeServer, matches: Callable[[Request], bool], *, after: bool, what: str
) -> Finished:
    """Kill the tick while ``fake`` holds the request that ``matches`` (see ``Hold``)."""
    with Hold(fake, matches, after=after) as hold:
        return killed_when(config, now, hold.reached.is_set, what)


def at(minutes: int, day: str = FEATURE_FREEZE) -> str:
    """``day`` plus some minutes (within the hour)."""
    return f"{day[:-2]}{minutes:02d}"


def test_a_tick_killed_while_cutting_branches_is_finished_without_a_second_push(
    run_thor, tmp_path: Path, database_url: str, jira_fake, jenkins_fake, slack_fake
) -> None:
    jenkins_fake.add_job(JOB)
    remotes = make_remotes(tmp_path / "remotes")
    fence, indexd, _ = remotes.values()
    config = write_config(
        tmp_path / "thor.toml",
        # One repository at a time, in order: fence is cut, then indexd's push hangs until the kill.
        services_toml(
            jira=jira_fake, jenkins=jenkins_fake, slack=slack_fake, remotes=tmp_path / "remotes", concurrency=1
        )
        + steps_toml({"split-branch": 'timeout = "1m"', "load-tests": 'poll_every = "1m"'}),
        database_url,
    )
    thor = Cli(run_thor, config)
    held = hold_pushes(indexd)

    killed_when(
        config,
        FEATURE_FREEZE,
        lambda: held.exists() and BRANCH in g.heads(fence),
        "fence cut and indexd's push held",
    )
    release_pushes(indexd)
    assert [pushes(r) for r in remotes.values()] == [[f"refs/heads/{BRANCH}"], [], []]
    assert BRANCH not in g.heads(indexd)
    steps = thor.steps()
    assert (steps["create-jira-release"]["status"], steps["split-branch"]["status"]) == ("succeeded", "running")

    # The dead tick ran on this host and its process is gone: the next tick takes over at once.
    recovered = thor.tick(at(3))
    assert recovered.exit_code == 0, recovered.stderr
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("succeeded", 2)
    assert split["detail"] == "3 repos: 2 created, 1 done on an earlier attempt"
    assert thor.transitions("split-branch") == ["started", "recovered", "started", "succeeded"]

    assert thor.tick(CODE_FREEZE).exit_code == 0
    status = thor.status()
    assert status["status"] == "released"
    assert {s["name"]: s["status"] for s in status["steps"]} == dict.fromkeys(STEP_NAMES, "succeeded")
    for name, remote in remotes.items():
        assert Counter(pushes(remote)) == {
            f"refs/heads/{BRANCH}": 1, "refs/heads/stable": 1, f"refs/tags/{VERSION}": 1,
        }, name  # fmt: skip
        heads = g.heads(remote)
        assert heads[BRANCH] == heads["master"] == heads["stable"] == g.tags(remote)[VERSION], name
    assert (jira_fake.versions_created, jira_fake.versions_released, jenkins_fake.builds_triggered) == (1, 1, 1)
    [thread] = threads_of(slack_fake)
    replies = reply_texts(slack_fake, thread)
    assert len(replies) == len(set(replies))
    assert f"▶️ {VERSION} split-branch started (attempt 2)" in replies


# -- killed after the outside world changed, before Thor heard back -------------------------------------


def test_killed_after_jira_created_the_version(run_thor, tmp_path: Path, database_url: str, jira_fake) -> None:
    config = one_step_config(
        tmp_path, database_url, services_toml(jira=jira_fake), "create-jira-release", 'timeout = "1m"'
    )
    thor = Cli(run_thor, config)
    killed_while_held(
        config,
        FEATURE_FREEZE,
        jira_fake,
        lambda r: r.method == "POST" and r.path == "/rest/api/2/version",
        after=True,
        what="JIRA creating the version",
    )
    assert jira_fake.versions_created == 1
    assert thor.steps()["create-jira-release"]["status"] == "running"

    assert thor.tick(at(3)).exit_code == 0  # the holder's process is gone: taken over at once
    step = thor.steps()["create-jira-release"]
    assert (step["status"], step["attempts"]) == ("succeeded", 2)
    assert step["detail"] == f"found existing JIRA version {VERSION} in GEN3"
    assert jira_fake.versions_created == 1
    assert thor.transitions("create-jira-release") == ["started", "recovered", "started", "succeeded"]


def test_killed_after_jenkins_queued_the_build(run_thor, tmp_path: Path, database_url: str, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, polls_until_done=1000)
    config = one_step_config(
        tmp_path,
        database_url,
        services_toml(jenkins=jenkins_fake),
        "load-tests",
        'after = []\ntimeout = "10m"\npoll_every = "1m"',
    )
    thor = Cli(run_thor, config)
    killed_while_held(
        config,
        FEATURE_FREEZE,
        jenkins_fake,
        lambda r: r.method == "POST" and r.path.endswith(f"/job/{JOB}/buildWithParameters"),
        after=True,
        what="Jenkins queueing the build",
    )
    assert jenkins_fake.builds_triggered == 1
    assert thor.steps()["load-tests"]["status"] == "running"

    # Taken over at once (the holder is gone); the next attempt finds the build by its parameters and follows it.
    assert thor.tick(at(3)).exit_code == 0
    step = thor.steps()["load-tests"]
    assert (step["status"], step["attempts"], step["detail"]) == ("waiting", 2, "build #1 running")
    jenkins_fake.finish(JOB, 1)
    assert thor.tick(at(18)).exit_code == 0
    step = thor.steps()["load-tests"]
    assert (step["status"], step["detail"]) == ("succeeded", "build #1 succeeded")
    assert jenkins_fake.builds_triggered == 1
    assert thor.transitions("load-tests") == ["started", "recovered", "started", "waiting", "succeeded"]


def test_killed_while_following_the_build(run_thor, tmp_path: Path, database_url: str, jenkins_fake) -> None:
    jenkins_fake.add_job(JOB, polls_until_done=1000)
    config = one_step_config(
        tmp_path,
        database_url,
        services_toml(jenkins=jenkins_fake),
        "load-tests",
        'after = []\ntimeout = "1h"\npoll_every = "1m"',
    )
    thor = Cli(run_thor, config)
    assert thor.tick(FEATURE_FREEZE).exit_code == 0
    assert thor.steps()["load-tests"]["status"] == "waiting"

    killed_while_held(
        config,
        at(2),
        jenkins_fake,
        lambda r: r.method == "GET" and r.path == f"/job/{JOB}/1/api/json",
        after=False,
        what="the tick polling build #1",
    )
    assert thor.steps()["load-tests"]["status"] == "running"
    assert thor.tick(at(5)).exit_code == 0  # the holder is gone: taken over at once, and polled again
    step = thor.steps()["load-tests"]
    assert (step["status"], step["attempts"], step["detail"]) == ("waiting", 1, "build #1 running")
    jenkins_fake.finish(JOB, 1)
    assert thor.tick(at(15)).exit_code == 0
    step = thor.steps()["load-tests"]
    # Following a build after a crash is not a new attempt, and never a new build.
    assert (step["status"], step["attempts"]) == ("succeeded", 1)
    assert jenkins_fake.builds_triggered == 1
    assert thor.transitions("load-tests") == ["started", "waiting", "recovered", "waiting", "succeeded"]


def test_killed_after_slack_opened_the_thread(run_thor, tmp_path: Path, database_url: str, slack_fake) -> None:
    config = one_step_config(
        tmp_path, database_url, services_toml(slack=slack_fake), "check", 'uses = "command"\nrun = ["true"]'
    )
    thor = Cli(run_thor, config)
    killed_while_held(
        config,
        FEATURE_FREEZE,
        slack_fake,
        lambda r: r.path == "/api/chat.postMessage" and b"metadata" in r.body,
        after=True,
        what="Slack posting the thread's first message",
    )
    assert len(threads_of(slack_fake)) == 1
    assert thor.status()["status"] == "released"  # the release itself was done before the flush

    assert thor.tick(at(1)).exit_code == 0  # the message's send lease (2m) still holds
    assert len(slack_fake.posted) == 1
    assert thor.tick(at(3)).exit_code == 0
    [thread] = threads_of(slack_fake)
    assert reply_texts(slack_fake, thread) == [
        f"▶️ {VERSION} check started",
        f"✅ {VERSION} check succeeded: true exited 0",
        f"Release {VERSION} is now released",
    ]
    assert thread["text"].startswith(f"*Gen3 release {VERSION}* — released")
    assert thor.tick(at(5)).exit_code == 0
    assert len(slack_fake.posted) == 4
