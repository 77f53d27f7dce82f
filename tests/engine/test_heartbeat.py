"""A slow but live step keeps its lease (a heartbeat renews it), and a step is bounded by its own timeout."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Thor
from tests.support import query_when_ready, wait_for

NOW = "2021-09-10T09:00"


def lease_expiries(thor: Thor) -> Any:
    rows = query_when_ready(thor.database_url, "SELECT lease_expires_at FROM thor_step_run WHERE name = 'split-branch'")
    return rows[0][0] if rows else None


def test_a_slow_live_step_is_never_taken_over(thor: Thor) -> None:
    # A 2-second lease, and a step that runs until the test lets it finish: far longer than the lease.
    thor.configure(
        {"split-branch": thor.sh("echo begin >> side.txt; while [ ! -e done ]; do sleep 0.05; done", timeout="5m")},
        extra='[engine]\nlease = "2s"\n',
    )
    first = threading.Thread(target=lambda: thor.tick(NOW))
    first.start()
    wait_for(lambda: "begin" in thor.side, "the step to start")
    seen: set[Any] = set()

    def renewed_three_times() -> bool:
        seen.add(lease_expiries(thor))
        return len(seen - {None}) >= 4

    # The named point: the lease has been renewed three times, so the first lease is long expired.
    wait_for(renewed_three_times, "the heartbeat to renew the lease", timeout=60)
    second = thor.tick(NOW)  # a tick now must see a live holder, not an expired lease
    assert second.exit_code == 0 and second.stdout == "", second.stdout
    (thor.dir / "done").write_text("")
    first.join(60)
    assert thor.side.count("begin") == 1
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("succeeded", 1)


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import isolate_git

    isolate_git(tmp_path, monkeypatch)


def test_a_git_step_is_bounded_by_its_timeout(tmp_path: Path, run_thor, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import write_config
    from tests.engine.conftest import JIRA_OFF
    from tests.reliability.helpers import hold_pushes, make_remotes
    from tests.support import repos_toml, steps_toml

    remotes = make_remotes(tmp_path / "remotes")
    held = [hold_pushes(remote, seconds=120) for remote in remotes.values()]
    steps = steps_toml(
        {"split-branch": 'timeout = "3s"\nmax_attempts = 1', "load-tests": "", "release-notes": "", "merge-stable": ""}
    )
    config = write_config(
        tmp_path / "thor.toml", repos_toml(tmp_path / "remotes", remotes) + JIRA_OFF + steps, database_url
    )
    started = datetime.now()
    result = run_thor("--config", config, "tick", "--now", NOW)
    took = (datetime.now() - started).total_seconds()
    assert result.exit_code == 1, result.stderr
    assert any(h.exists() for h in held)  # the pushes really were held
    status = run_thor("--config", config, "status", "2021.09", "--json").json()
    split = next(s for s in status["steps"] if s["name"] == "split-branch")
    assert split["status"] == "failed" and "timed out after 3s" in split["detail"], split
    assert took < 60, took  # not the hooks' 120 seconds
