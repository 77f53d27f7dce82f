"""Several `thor tick` processes at the same instant, all steps real: every side effect happens once.

The default pipeline runs against the fake JIRA, Jenkins and Slack (which count what they are asked) and
real bare git repositories (whose post-receive hooks log every ref a push updates). Four ticks start together
on the feature-freeze day, then four more on the code-freeze day, on SQLite and on PostgreSQL.
tests/engine/test_concurrency.py proves the claims with command steps; this proves the outside world sees
each effect exactly once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.fakes import gitrepos as g
from tests.reliability.helpers import (
    BRANCH,
    CODE_FREEZE,
    FEATURE_FREEZE,
    JOB,
    VERSION,
    Cli,
    Hold,
    finish,
    make_remotes,
    pushes,
    reply_texts,
    run_together,
    services_toml,
    threads_of,
)
from tests.support import STEP_NAMES, isolate_git, only, spawn, steps_toml
from thor_cli.adapters.slack import release_metadata

pytestmark = pytest.mark.slow

TICKS = 4


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


def test_simultaneous_ticks_cause_every_side_effect_once(
    run_thor, tmp_path: Path, database_url: str, jira_fake, jenkins_fake, slack_fake
) -> None:
    # One poll of the running build is left for the code-freeze ticks to race for.
    jenkins_fake.add_job(JOB, polls_until_done=1)
    remotes = make_remotes(tmp_path / "remotes")
    config = write_config(
        tmp_path / "thor.toml",
        services_toml(jira=jira_fake, jenkins=jenkins_fake, slack=slack_fake, remotes=tmp_path / "remotes")
        + steps_toml({"load-tests": 'timeout = "20d"\npoll_every = "1m"'}),
        database_url,
    )
    thor = Cli(run_thor, config)

    feature_freeze = run_together(config, "tick", "--now", FEATURE_FREEZE, count=TICKS)
    assert [r.code for r in feature_freeze] == [0] * TICKS, feature_freeze
    assert jira_fake.versions_created == 1
    assert jenkins_fake.builds_triggered == 1
    for name, remote in remotes.items():
        assert pushes(remote) == [f"refs/heads/{BRANCH}"], name
        assert g.heads(remote)[BRANCH] == g.heads(remote)["master"], name
    done = {name: s["status"] for name, s in thor.steps().items()}
    assert done == {
        "create-jira-release": "succeeded", "split-branch": "succeeded", "load-tests": "waiting",
        "release-notes": "succeeded", "merge-stable": "pending", "mark-released": "pending",
        "announce": "pending",
        # no [environments]: skipped at once (they succeed), once
        "check-images": "succeeded", "rollout-ci": "succeeded", "check-release-images": "pending", "rollout": "pending",
    }  # fmt: skip

    code_freeze = run_together(config, "tick", "--now", CODE_FREEZE, count=TICKS)
    assert [r.code for r in code_freeze] == [0] * TICKS, code_freeze
    results = feature_freeze + code_freeze
    assert all("Traceback" not in r.stderr and "internal error" not in r.stderr for r in results), results

    # JIRA: one version, released once. Jenkins: one build.
    assert (jira_fake.versions_created, jira_fake.versions_released) == (1, 1)
    assert jenkins_fake.builds_triggered == 1
    assert [b.params["RELEASE_VERSION"] for b in jenkins_fake.builds(JOB)] == [VERSION]
    # git: each ref pushed once per repository; the branch, stable and the tag all where they belong.
    for name, remote in remotes.items():
        assert Counter(pushes(remote)) == {
            f"refs/heads/{BRANCH}": 1, "refs/heads/stable": 1, f"refs/tags/{VERSION}": 1,
        }, name  # fmt: skip
        heads, tags = g.heads(remote), g.tags(remote)
        assert heads["stable"] == heads[BRANCH] == tags[VERSION], name

    # The state: every step succeeded on its first attempt, each "started" exactly once.
    status = thor.status()
    assert status["status"] == "released"
    assert {s["name"]: (s["status"], s["attempts"]) for s in status["steps"]} == {
        name: ("succeeded", 1) for name in STEP_NAMES
    }
    events = thor.events()
    started = Counter(e["step"] for e in events if e["kind"] == "started")
    assert started == dict.fromkeys(STEP_NAMES, 1)
    release_events = Counter(e["kind"] for e in events if e["step"] is None)
    assert (release_events["release-started"], release_events["release-released"]) == (1, 1)
    # What the ticks said: each change reported by exactly one of them.
    said = "".join(r.stdout for r in results)
    assert said.count("release started") == 1
    for name in STEP_NAMES:
        assert said.count(f"{VERSION} {name}: succeeded") == 1, name

    # Slack: one thread for the release, no reply delivered twice, none lost. A message queued after the
    # sending tick's last look at the outbox waits for the next tick: deliver it, then compare.
    assert thor.tick(CODE_FREEZE).exit_code == 0
    [thread] = threads_of(slack_fake)
    assert thread["metadata"] == release_metadata("thor_release", VERSION)
    assert thread["text"].startswith(f"*Gen3 release {VERSION}* — released")
    replies = reply_texts(slack_fake, thread)
    assert len(replies) == len(set(replies)), Counter(replies).most_common(3)
    for name in STEP_NAMES:
        assert f"▶️ {VERSION} {name} started" in replies, name
    announcements = [r for r in replies if r.startswith(f"Gen3 release {VERSION} is out")]
    assert len(announcements) == 1
    assert len(slack_fake.posted) == 1 + len(replies)


def test_messages_queued_while_another_process_sends_are_not_left_behind(run_thor, tmp_path: Path, slack_fake) -> None:
    config = write_config(
        tmp_path / "thor.toml",
        services_toml(slack=slack_fake) + steps_toml(only() | {"sign-off": 'uses = "gate"'}),
        f"sqlite:///{tmp_path / 'thor.db'}",  # the same on PostgreSQL: the outbox logic is not the backend's
    )
    thor = Cli(run_thor, config)
    # A tick opens the release and, while it posts the thread's first message, someone approves the gate.
    with Hold(slack_fake, lambda r: r.path == "/api/chat.postMessage", after=False) as hold:
        tick = spawn(config, "tick", "--now", FEATURE_FREEZE)
        try:
            hold.wait("the tick posting the thread")
            # `approve` finds the tick sending this release's messages and leaves its own to it.
            approved = thor("approve", VERSION, "sign-off", "--now", FEATURE_FREEZE)
            assert approved.exit_code == 0, approved.stderr
        finally:
            hold.release()
            ticked = finish(tick)
    assert ticked.code == 0, ticked
    approval = thor.steps()["sign-off"]["detail"]
    assert approval.startswith("approved by ")
    [thread] = threads_of(slack_fake)
    replies = reply_texts(slack_fake, thread)
    assert replies[:2] == [
        f"▶️ {VERSION} sign-off started",
        f"⏳ {VERSION} sign-off waiting: waiting for `thor approve {VERSION} sign-off`",
    ]
    assert [r.endswith(f"{VERSION} sign-off approved: {approval}") for r in replies[2:3]] == [True]
    assert replies[3:] == [f"Release {VERSION} is now released"]
