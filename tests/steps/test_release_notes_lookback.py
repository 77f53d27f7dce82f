"""Which release the notes start from, when the month before was cancelled; and what a forced run says when
the integration branch was never pushed.

The previous release is the last one that shipped: the newest earlier calendar version whose tag the remote
has (``thor_cli.releases.previous_release``), so a cancelled or never-started month is passed over.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import gitrepos as g
from tests.fakes.gitrepos import DEFAULT_HISTORY, Tag
from tests.support import SERVICE_STEPS, disabled, git_config, isolate_git

QUIET = disabled(*SERVICE_STEPS, "load-tests") + '\n[notify]\nfile = "messages.log"\n'
OCTOBER = "2021.10"  # feature freeze Fri 2021-10-08; 2021.09 (2021-09-10) was cancelled
NOW = "2021-10-08T09:00"


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


def thor(run_thor, config: Path):  # type: ignore[no-untyped-def]
    def run(*args: str):  # type: ignore[no-untyped-def]
        return run_thor("--config", config, *args, "--now", NOW)

    return run


def test_after_a_cancelled_month_the_notes_start_from_the_last_release_that_shipped(
    run_thor, tmp_path: Path, database_url: str
) -> None:
    # #1 and #2 shipped in 2021.08 (its tag exists); 2021.09 was cancelled, so #3 and #4 are October's.
    fence = g.make_remote(tmp_path / "remotes", "uc-cdis/fence", history=[*DEFAULT_HISTORY, Tag("2021.08")])
    g.add_pr(fence, 3, "Add data upload endpoint")
    g.add_pr(fence, 4, "Fix pagination of the index", squash=True)
    config = git_config(tmp_path, ["uc-cdis/fence"], QUIET, database_url)
    run = thor(run_thor, config)
    assert run("release", "cancel", "2021.09").exit_code == 0
    assert run("release", "start", OCTOBER).exit_code == 0
    assert run("step", "split-branch", OCTOBER).exit_code == 0

    result = run("step", "release-notes", OCTOBER)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    markdown = (tmp_path / "release-notes" / f"{OCTOBER}.md").read_text()
    assert "since the previous release (2021.08)" in markdown
    assert "From `2021.08` (" in markdown
    assert "_no tag 2021.09 (cancelled or never shipped): starting from 2021.08, the last tagged_" in markdown
    assert "(#3)" in markdown and "(#4)" in markdown
    assert "Add health check endpoint" not in markdown and "(#1)" not in markdown  # shipped in 2021.08
    assert "no previous release found" not in markdown


def test_the_rule_skips_every_untagged_month_and_falls_back_to_the_nearest_branch(tmp_path: Path) -> None:
    from thor_cli.config import Settings, parse_config
    from thor_cli.releases import PreviousRelease, earlier_cycles, previous_release

    settings = Settings(parse_config({}), None, "sqlite://")
    candidates = earlier_cycles(settings, _info("2021.12"))
    assert [c.version for c in candidates[:3]] == ["2021.11", "2021.10", "2021.09"] and len(candidates) == 12

    g.make_remote(tmp_path, "o/tagged", history=[*DEFAULT_HISTORY, Tag("2021.09")])
    found = previous_release(g.file_url(tmp_path) + "/o/tagged.git", candidates)
    assert found == PreviousRelease("2021.09", "2021.09", ("2021.11", "2021.10"), found.looked_at, "integration202111")
    assert found.is_tag

    branch_only = g.make_remote(tmp_path, "o/branch")
    g.set_ref(branch_only, "integration202111", g.heads(branch_only)["master"])
    found = previous_release(g.file_url(tmp_path) + "/o/branch.git", candidates)
    assert (found.version, found.ref, found.explain()) == ("2021.11", "integration202111", None)

    g.make_remote(tmp_path, "o/nothing")
    found = previous_release(g.file_url(tmp_path) + "/o/nothing.git", candidates)
    assert found.ref is None
    assert found.explain() == "no tag from 2021.11 back to 2020.12, and no branch integration202111"


def _info(version: str):  # type: ignore[no-untyped-def]
    from thor_cli.calendar import ReleaseCalendar
    from thor_cli.steps.base import ReleaseInfo

    cycle = ReleaseCalendar(feature_freeze="FREQ=MONTHLY;BYDAY=+2FR", code_freeze="FREQ=MONTHLY;BYDAY=+4FR").find(
        version
    )
    assert cycle is not None
    return ReleaseInfo(
        version=cycle.version,
        codename=None,
        feature_freeze=cycle.feature_freeze,
        code_freeze=cycle.code_freeze,
        integration_branch=cycle.integration_branch,
        stable_branch="stable",
        timezone="UTC",
    )


def test_a_forced_run_after_a_failed_push_says_the_cut_was_recorded_but_not_pushed(
    run_thor, tmp_path: Path, database_url: str
) -> None:
    fence = g.make_remote(tmp_path / "remotes", "uc-cdis/fence", history=[*DEFAULT_HISTORY, Tag("2021.09")])
    hook = fence / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'pushes are closed today' >&2\nexit 1\n")
    hook.chmod(0o755)
    config = git_config(tmp_path, ["uc-cdis/fence"], QUIET + "\n[steps.split-branch]\nmax_attempts = 1\n", database_url)
    run = thor(run_thor, config)
    assert run("release", "start", OCTOBER).exit_code == 0
    assert run("step", "split-branch", OCTOBER).exit_code == 1
    cut = g.heads(fence)["master"]
    assert "integration202110" not in g.heads(fence)

    result = run("step", "release-notes", OCTOBER, "--force")
    assert result.exit_code == 1
    step = {s["name"]: s for s in run("status", OCTOBER, "--json").json()["steps"]}["release-notes"]
    # The full per-repository text (a terminal table caps long details).
    shown = run("log", OCTOBER, "release-notes", "--json").stdout
    said = step["detail"] + shown
    assert f"integration202110 does not exist: the cut at {cut[:7]} was recorded but its push did not succeed" in said
    assert "run `thor step split-branch 2021.10` again" in said
    assert "no cut was recorded" not in said
