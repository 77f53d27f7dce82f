"""``delete-branch`` through ``thor step`` against real bare repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import gitrepos as g
from tests.support import disabled, git_config, isolate_git

VERSION = "2021.09"
BRANCH = "integration202109"
NAMES = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/sheepdog")
STEPS = disabled() + '\n[steps.cleanup]\nuses = "delete-branch"\nafter = ["split-branch"]\n'


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


class Thor:
    def __init__(self, run_thor, tmp_path: Path, extra: str = "") -> None:  # type: ignore[no-untyped-def]
        self.run_thor = run_thor
        self.remotes = {name: g.make_remote(tmp_path / "remotes", name) for name in NAMES}
        self.config = git_config(tmp_path, NAMES, STEPS + extra)  # extra: more keys of [steps.cleanup]
        assert self("release", "start", VERSION).exit_code == 0
        assert self("step", "split-branch", VERSION).exit_code == 0

    def __call__(self, *args: str):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args, "--now", "2021-09-10T09:00")

    def detail(self) -> str:
        steps = self("status", VERSION, "--json").json()["steps"]
        return next(s for s in steps if s["name"] == "cleanup")["detail"]

    def has_branch(self, branch: str = BRANCH) -> dict[str, bool]:
        return {name: branch in g.heads(remote) for name, remote in self.remotes.items()}


def test_deletes_the_integration_branch_and_absent_counts_as_done(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path)
    assert all(thor.has_branch().values())
    g.git("-C", thor.remotes["uc-cdis/sheepdog"], "update-ref", "-d", f"refs/heads/{BRANCH}")

    result = thor("step", "cleanup", VERSION)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert thor.detail() == f"{BRANCH} in 3 repos: 2 deleted, 1 already absent"
    assert not any(thor.has_branch().values())
    assert all(g.heads(remote)["master"] for remote in thor.remotes.values())

    again = thor("step", "cleanup", VERSION, "--force")
    assert again.exit_code == 0
    assert thor.detail() == f"{BRANCH} in 3 repos: 3 already absent"


def test_a_branch_that_moved_since_the_cut_is_left_alone(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path)
    moved = g.commit_on(thor.remotes["uc-cdis/indexd"], BRANCH, {"fix.txt": "x\n"}, "Fix on the integration branch")

    result = thor("step", "cleanup", VERSION)
    assert result.exit_code == 1
    assert f"1 of 3 repos failed: uc-cdis/indexd: {BRANCH} is at {moved[:12]}, not " in thor.detail()
    assert thor.has_branch() == {"uc-cdis/fence": False, "uc-cdis/indexd": True, "uc-cdis/sheepdog": False}
    assert g.heads(thor.remotes["uc-cdis/indexd"])[BRANCH] == moved


def test_another_branch_by_template(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path, 'branch = "hotfix-{version}"\n')
    g.set_ref(thor.remotes["uc-cdis/fence"], "hotfix-2021.09", g.heads(thor.remotes["uc-cdis/fence"])["master"])
    assert thor("step", "cleanup", VERSION).exit_code == 0
    assert thor.detail() == "hotfix-2021.09 in 3 repos: 1 deleted, 2 already absent"
    assert not thor.has_branch("hotfix-2021.09")["uc-cdis/fence"]
    assert all(thor.has_branch().values())  # the integration branch stays
