"""The whole default pipeline, every step real: git against bare repositories and the real JIRA, Jenkins and
Slack clients against their fakes, driven by ``thor tick --now`` through September 2021, on SQLite and
PostgreSQL. One repository refuses pushes on feature-freeze day: only it fails, and the retry finishes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import gitrepos as g
from tests.fakes.gitrepos import DEFAULT_HISTORY, Tag
from tests.support import git_config, isolate_git
from thor_cli.adapters.slack import release_metadata

VERSION = "2021.09"  # feature freeze Fri 2021-09-10, code freeze Fri 2021-09-24
BRANCH = "integration202109"
NAMES = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/peregrine")
JOB = "gen3-load-tests"


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


def test_a_whole_month_with_every_step_real(  # type: ignore[no-untyped-def]
    run_thor, tmp_path: Path, database_url: str, jira_fake, jenkins_fake, slack_fake
) -> None:
    remotes = {
        name: g.make_remote(
            tmp_path / "remotes", name, history=[*DEFAULT_HISTORY, Tag("2021.08", "Gen3 Core Release 2021.08")]
        )
        for name in NAMES
    }
    g.add_pr(remotes["uc-cdis/fence"], 10, "Add data upload endpoint")
    g.add_pr(remotes["uc-cdis/indexd"], 11, "Fix pagination", squash=True)
    jenkins_fake.add_job(JOB, polls_until_done=1)
    services = f"""
[jira]
url = "{jira_fake.url}"
project = "GEN3"
max_retries = 0

[jenkins]
url = "{jenkins_fake.url}"

[slack]
channel = "releases"
base_url = "{slack_fake.url}/api/"

[steps.split-branch]
retry_after = "1h"

[steps.load-tests]
poll_every = "5m"
"""
    config = git_config(tmp_path, NAMES, services, database_url)

    def tick(now: str) -> None:
        result = run_thor("--config", config, "tick", "--now", now)
        assert result.exit_code == 0, (now, result.stdout, result.stderr)

    def steps() -> dict[str, str]:
        status = run_thor("--config", config, "status", VERSION, "--json").json()
        return {s["name"]: s["status"] for s in status["steps"]}

    # Feature freeze: peregrine refuses pushes, so only it fails and split-branch waits for its retry.
    peregrine = remotes["uc-cdis/peregrine"]
    g.reject_pushes(peregrine, "pushes are frozen")
    tick("2021-09-10T09:00")
    assert steps()["split-branch"] == "pending"
    assert BRANCH not in g.heads(peregrine)
    assert all(BRANCH in g.heads(remotes[name]) for name in NAMES if name != "uc-cdis/peregrine")
    assert jira_fake.versions_created == 1

    # An hour later pushes are allowed again: the retry cuts peregrine; the load tests start and finish.
    g.allow_pushes(peregrine)
    for now in ("2021-09-10T10:30", "2021-09-10T10:40", "2021-09-10T10:50"):
        tick(now)
    assert steps() == {
        "create-jira-release": "succeeded", "split-branch": "succeeded", "load-tests": "succeeded",
        "release-notes": "succeeded", "merge-stable": "pending", "mark-released": "pending", "announce": "pending",
        # No [environments]: the environment steps skip themselves (tests/environments has the real ones).
        "check-images": "succeeded", "rollout-ci": "succeeded", "check-release-images": "pending", "rollout": "pending",
    }  # fmt: skip
    notes = (tmp_path / "release-notes" / f"{VERSION}.md").read_text()
    assert "Add data upload endpoint (#10)" in notes and "Fix pagination (#11)" in notes

    # A quiet week, then code freeze: merged, tagged, released in JIRA, announced.
    tick("2021-09-17T09:00")
    tick("2021-09-24T09:00")
    assert set(steps().values()) == {"succeeded"}
    status = run_thor("--config", config, "status", "--json").json()["releases"]
    assert [(r["version"], r["status"]) for r in status] == [(VERSION, "released")]
    for name, remote in remotes.items():
        heads, tags = g.heads(remote), g.tags(remote)
        assert heads["stable"] == heads[BRANCH], name
        assert tags[VERSION] == heads[BRANCH], name

    # Every outside effect exactly once.
    assert (jira_fake.versions_created, jira_fake.versions_released) == (1, 1)
    assert jenkins_fake.builds_triggered == 1
    threads = [m for m in slack_fake.channel_messages("releases") if m.get("thread_ts") in (None, m["ts"])]
    assert [t["metadata"] for t in threads] == [release_metadata("thor_release", VERSION)]
    replies = [m["text"] for m in slack_fake.replies("releases", threads[0]["ts"])]
    assert len(replies) == len(set(replies))
    assert any(text.startswith(f"Gen3 release {VERSION} is out") for text in replies)
    split_events = run_thor("--config", config, "log", VERSION, "split-branch", "--json").json()["events"]
    assert [e["kind"] for e in split_events if e["kind"] in ("started", "retry", "succeeded")] == [
        "started", "retry", "started", "succeeded",
    ]  # fmt: skip
