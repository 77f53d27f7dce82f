"""The engine's promises at the edges, each interleaving forced: a step that kills its tick every time, a kill
inside and right after the claim, Ctrl-C and SIGTERM during `thor step`, a Slack message refused for good."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.engine.conftest import JIRA_OFF
from tests.reliability.helpers import Cli, services_toml, threads_of
from tests.support import alive, child_groups_recorded, query, spawn, steps_toml, wait_for

pytestmark = pytest.mark.slow
NOW = "2021-09-10T09:00"
VERSION = "2021.09"
OTHERS_OFF = {"load-tests": "", "release-notes": "", "merge-stable": ""}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'thor.db'}"


def _config(tmp_path: Path, database_url: str, split: str, extra: str = "") -> Path:
    steps = steps_toml(OTHERS_OFF | {"split-branch": split})
    return write_config(tmp_path / "thor.toml", JIRA_OFF + steps + extra, database_url)


def test_a_step_that_kills_its_tick_every_time_fails_after_max_attempts(
    run_thor, tmp_path: Path, database_url: str
) -> None:
    # The command kills the tick that runs it (SIGKILL, like the OOM killer): recovery must count attempts.
    config = _config(
        tmp_path,
        database_url,
        'uses = "command"\nmax_attempts = 2\nrun = ["sh", "-c", "echo try >> side.txt; kill -9 $PPID; sleep 5"]',
    )
    thor = Cli(run_thor, config)
    codes = []
    for _ in range(3):
        process = spawn(config, "tick", "--now", NOW)
        process.communicate(timeout=60)
        codes.append(process.returncode)
    assert codes[:2] == [-signal.SIGKILL, -signal.SIGKILL]
    assert codes[2] == 1  # the third tick records the second crash: no attempt is left, the release blocks
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("failed", 2), split
    assert "attempt 2 of 2" in split["detail"] and "took over from" in split["detail"]
    assert thor.status()["status"] == "blocked"
    assert (tmp_path / "side.txt").read_text().split() == ["try", "try"]
    assert thor.tick("2021-09-11T09:00").exit_code == 1  # and nothing runs it again by itself
    assert (tmp_path / "side.txt").read_text().split() == ["try", "try"]


@pytest.mark.parametrize(("point", "committed"), [("claim-uncommitted", False), ("step-claimed", True)])
def test_the_claim_its_event_and_its_message_commit_together(
    run_thor, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, point: str, committed: bool
) -> None:
    config = _config(tmp_path, database_url, 'uses = "command"\nrun = ["true"]', '[notify]\nfile = "slack.log"\n')
    thor = Cli(run_thor, config)
    monkeypatch.setenv("THOR_FAILPOINTS", f"{point}=kill")
    process = spawn(config, "tick", "--now", NOW)
    process.communicate(timeout=60)
    monkeypatch.delenv("THOR_FAILPOINTS")
    assert process.returncode == -signal.SIGKILL
    runs = query(database_url, "SELECT status, attempts FROM thor_step_run WHERE name = 'split-branch'")
    started = query(database_url, "SELECT count(*) FROM thor_event WHERE kind = 'started'")
    messages = query(database_url, "SELECT count(*) FROM thor_outbox WHERE text LIKE '%split-branch started%'")
    if committed:
        assert (runs, started, messages) == ([("running", 1)], [(1,)], [(1,)])
    else:
        assert (runs, started, messages) == ([("pending", 0)], [(0,)], [(0,)])
    # Either way the next tick finishes the step, once.
    assert thor.tick(NOW).exit_code == 0
    assert thor.steps()["split-branch"]["status"] == "succeeded"
    assert query(database_url, "SELECT count(*) FROM thor_event WHERE kind = 'succeeded'") == [(1,)]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_thor_step_records_the_interruption_and_frees_the_step(
    run_thor, tmp_path: Path, database_url: str, sig: signal.Signals, code: int
) -> None:
    config = _config(
        tmp_path,
        database_url,
        'uses = "command"\nrun = ["sh", "-c", "echo $$ >> pids; test -e fast || sleep 60"]',
    )
    thor = Cli(run_thor, config)
    process = spawn(config, "step", "split-branch", VERSION, "--now", NOW)
    # The named point: the child runs and its process group is recorded with the lease.
    wait_for(lambda: (tmp_path / "pids").exists() and child_groups_recorded(database_url, "split-branch"))
    child = int((tmp_path / "pids").read_text().split()[0])
    os.kill(process.pid, sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert stderr.strip() == f"thor: interrupted ({sig.name})"
    wait_for(lambda: not alive(child), "the step's child to be gone")
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("pending", 0), split
    assert "not counted as an attempt" in split["detail"]
    assert [e["kind"] for e in thor.events("split-branch")][-1] == "interrupted"
    assert query(database_url, "SELECT lease_owner FROM thor_step_run WHERE name = 'split-branch'") == [(None,)]
    # Nothing waits for a lease: running it again by hand works at once.
    (tmp_path / "fast").write_text("")
    again = thor("step", "split-branch", VERSION, "--now", NOW)
    assert again.exit_code == 0, again.stderr
    assert thor.steps()["split-branch"]["status"] == "succeeded"


def test_a_message_slack_refuses_for_good_is_set_aside_and_the_rest_go_on(
    run_thor, tmp_path: Path, sqlite_url: str, slack_fake
) -> None:
    slack_fake.refuse("split-branch started", "msg_too_long")
    config = _config(tmp_path, sqlite_url, 'uses = "command"\nrun = ["true"]', services_toml(slack=slack_fake))
    thor = Cli(run_thor, config)
    result = thor.tick(NOW)
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("thor:")]
    assert lines == [
        "thor: 1 Slack message(s) could not be delivered and were set aside: Slack could not post to C0RELEASES: "
        "msg_too_long (kept in the database; see `thor status`)"
    ]
    [thread] = threads_of(slack_fake)
    replies = [m["text"] for m in slack_fake.replies("releases", thread["ts"])]
    assert any("split-branch succeeded" in r for r in replies)  # later messages were not held back
    assert query(sqlite_url, "SELECT status FROM thor_outbox WHERE text LIKE '%split-branch started%'") == [
        ("undeliverable",)
    ]
    status = thor("status", VERSION)
    assert "1 Slack message could not be delivered" in status.stderr
    quiet = thor.tick("2021-09-10T09:30")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""  # said once, not every tick
