"""``split-branch`` (type ``git-branch``) through ``thor step`` against real bare repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.fakes import gitrepos as g
from tests.support import disabled, git_config, isolate_git, repo_results

VERSION = "2021.09"  # feature freeze Fri 2021-09-10
BRANCH = "integration202109"
NAMES = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/sheepdog")
QUIET = disabled()


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


class Thor:
    """A started release 2021.09 over bare repositories in ``tmp_path/remotes``."""

    def __init__(self, run_thor, tmp_path: Path, database_url: str, extra: str = "", **remotes: Any) -> None:  # type: ignore[no-untyped-def]
        self.run_thor, self.database_url = run_thor, database_url
        root = tmp_path / "remotes"
        self.remotes = {name: g.make_remote(root, name, **remotes.get(name.split("/")[1], {})) for name in NAMES}
        self.config = git_config(tmp_path, NAMES, f"{extra}\n{QUIET}", database_url)
        assert self("release", "start", VERSION).exit_code == 0

    def __call__(self, *args: str, now: str = "2021-09-10T09:00"):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args, "--now", now)

    def split(self, *flags: str):  # type: ignore[no-untyped-def]
        return self("step", "split-branch", VERSION, *flags)

    def step(self, name: str = "split-branch") -> dict[str, Any]:
        steps = self("status", VERSION, "--json").json()["steps"]
        return next(s for s in steps if s["name"] == name)

    def heads(self, name: str) -> dict[str, str]:
        return g.heads(self.remotes[name])

    def results(self, step: str = "split-branch") -> dict[str, dict[str, Any]]:
        return repo_results(self.database_url, step)


@pytest.fixture
def thor(run_thor, tmp_path):  # type: ignore[no-untyped-def]
    return Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}")


def test_cut_everywhere_then_a_rerun_changes_nothing(run_thor, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path, database_url)
    tips = {name: thor.heads(name)["master"] for name in NAMES}

    result = thor.split()
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert {name: thor.heads(name).get(BRANCH) for name in NAMES} == tips
    step = thor.step()
    assert (step["status"], step["detail"]) == ("succeeded", "3 repos: 3 created")
    results = thor.results()
    assert {name: (r["status"], r["sha"]) for name, r in results.items()} == {
        name: ("succeeded", sha) for name, sha in tips.items()
    }
    assert results["uc-cdis/fence"]["data"] == {"source_branch": "master", "cut_sha": tips["uc-cdis/fence"]}
    assert results["uc-cdis/fence"]["detail"] == f"{BRANCH} created at {tips['uc-cdis/fence'][:7]} (master)"

    again = thor.split()  # succeeded: the engine does not even run it
    assert (again.exit_code, "already succeeded" in again.stdout) == (0, True)

    refs = {name: g.all_refs(remote) for name, remote in thor.remotes.items()}
    g.add_pr(thor.remotes["uc-cdis/fence"], 7, "Merged after the cut")  # the source moves on: irrelevant
    for remote in thor.remotes.values():
        g.reject_pushes(remote)  # a re-run that pushed anything would fail
    forced = thor.split("--force")
    assert forced.exit_code == 0, (forced.stdout, forced.stderr)
    assert thor.step()["detail"] == "3 repos: 3 already there"
    after = {name: g.all_refs(remote) for name, remote in thor.remotes.items()}
    assert after["uc-cdis/fence"].pop("refs/heads/master") != refs["uc-cdis/fence"].pop("refs/heads/master")
    assert after == refs


def test_source_branch_is_the_override_else_the_remote_default(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    extra = '[repos.overrides."uc-cdis/sheepdog"]\nsource_branch = "develop"\n'
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", extra, indexd={"default_branch": "main"})
    develop = g.commit_on(thor.remotes["uc-cdis/sheepdog"], "develop", {"dev.txt": "x\n"}, "Work on develop")

    assert thor.split().exit_code == 0
    assert thor.heads("uc-cdis/indexd")[BRANCH] == thor.heads("uc-cdis/indexd")["main"]
    assert thor.heads("uc-cdis/sheepdog")[BRANCH] == develop != thor.heads("uc-cdis/sheepdog")["master"]
    sources = {name: r["data"]["source_branch"] for name, r in thor.results().items()}
    assert sources == {"uc-cdis/fence": "master", "uc-cdis/indexd": "main", "uc-cdis/sheepdog": "develop"}


def test_a_branch_found_elsewhere_is_a_conflict_until_forced(thor: Thor) -> None:
    fence = thor.remotes["uc-cdis/fence"]
    first_tip = g.heads(fence)["master"]
    older = g.parents(fence, "master")[0]
    g.set_ref(fence, BRANCH, older)  # someone cut it by hand from an older commit

    result = thor.split()
    assert result.exit_code == 1
    conflict = f"conflict ({BRANCH} is at {older[:7]}, source at {first_tip[:7]})"
    expected = f"1 of 3 repos failed: uc-cdis/fence: {conflict}"
    step = thor.step()
    assert step["status"] == "pending"  # the engine retries it later
    assert expected in step["detail"]
    assert thor.heads("uc-cdis/fence")[BRANCH] == older  # untouched
    assert thor.heads("uc-cdis/indexd")[BRANCH] == thor.heads("uc-cdis/indexd")["master"]
    results = thor.results()
    assert results["uc-cdis/fence"]["status"] == "failed"
    assert results["uc-cdis/fence"]["data"]["cut_sha"] == first_tip  # pinned for the next attempts

    g.add_pr(fence, 9, "Merged after feature freeze")
    assert thor.split().exit_code == 1  # still a conflict; the source is still the first attempt's commit
    assert expected in thor.step()["detail"]

    forced = thor.split("--force")
    assert forced.exit_code == 0, (forced.stdout, forced.stderr)
    assert thor.heads("uc-cdis/fence")[BRANCH] == first_tip  # moved, to where the others were cut
    assert thor.step()["detail"] == "3 repos: 1 moved, 2 already there"
    log = thor("log", VERSION, "split-branch", "--json").json()["events"]
    moved = f"uc-cdis/fence: {BRANCH} moved from {older[:7]} to {first_tip[:7]} (master) (forced)"
    assert moved in [e["message"] for e in log]


def test_a_forced_re_run_keeps_what_was_merged_into_the_integration_branch(thor: Thor) -> None:
    assert thor.split().exit_code == 0
    fence = thor.remotes["uc-cdis/fence"]
    cut = thor.heads("uc-cdis/fence")[BRANCH]
    backport = g.commit_on(fence, BRANCH, {"fix.txt": "fix\n"}, "Backport a fix (#99)")

    forced = thor.split("--force")
    assert forced.exit_code == 0, (forced.stdout, forced.stderr)
    assert thor.heads("uc-cdis/fence")[BRANCH] == backport  # not rewound to the cut
    assert thor.step()["detail"] == "3 repos: 1 already cut and moved on, 2 already there"
    fence_result = thor.results()["uc-cdis/fence"]
    assert (fence_result["sha"], fence_result["data"]["cut_sha"]) == (cut, cut)  # notes still end at the cut
    assert fence_result["detail"] == f"{BRANCH} cut at {cut[:7]} (master), since moved on to {backport[:7]}"


def test_force_option_moves_a_branch_found_elsewhere(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", "[steps.split-branch]\nforce = true\n")
    indexd = thor.remotes["uc-cdis/indexd"]
    g.set_ref(indexd, BRANCH, g.parents(indexd, "master")[0])
    assert thor.split().exit_code == 0
    assert thor.heads("uc-cdis/indexd")[BRANCH] == thor.heads("uc-cdis/indexd")["master"]
    assert thor.step()["detail"] == "3 repos: 2 created, 1 moved"


def test_a_rejected_push_fails_only_that_repo_and_the_rerun_retries_only_it(thor: Thor) -> None:
    indexd, fence = thor.remotes["uc-cdis/indexd"], thor.remotes["uc-cdis/fence"]
    first_tip = g.heads(indexd)["master"]
    g.reject_pushes(indexd, "pushes to uc-cdis/indexd are frozen")

    result = thor.split()
    assert result.exit_code == 1
    detail = thor.step()["detail"]
    assert "1 of 3 repos failed: uc-cdis/indexd: push of integration202109 rejected" in detail
    assert "pre-receive hook declined" in detail
    assert BRANCH not in g.heads(indexd)
    cut_fence = g.heads(fence)[BRANCH]
    assert cut_fence == g.heads(fence)["master"]
    before = thor.results()
    assert before["uc-cdis/indexd"]["status"] == "failed"

    g.allow_pushes(indexd)
    g.add_pr(indexd, 12, "Late change in indexd")  # not in the release: the retry cuts at the first tip
    g.add_pr(fence, 13, "Late change in fence")
    for name in ("uc-cdis/fence", "uc-cdis/sheepdog"):
        g.reject_pushes(thor.remotes[name])  # the retry must not push to the repositories that succeeded
    retried = thor.split()
    assert retried.exit_code == 0, (retried.stdout, retried.stderr)
    assert thor.step()["detail"] == "3 repos: 1 created, 2 done on an earlier attempt"
    assert g.heads(indexd)[BRANCH] == first_tip != g.heads(indexd)["master"]
    assert g.heads(fence)[BRANCH] == cut_fence
    after = thor.results()
    for name in ("uc-cdis/fence", "uc-cdis/sheepdog"):
        assert after[name] == before[name]


def test_no_repositories_configured_fails_clearly(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "thor.toml", QUIET, f"sqlite:///{tmp_path / 'thor.db'}")
    assert run_thor("--config", config, "release", "start", VERSION, "--now", "2021-09-10").exit_code == 0
    result = run_thor("--config", config, "step", "split-branch", VERSION, "--now", "2021-09-10")
    assert result.exit_code == 1
    status = run_thor("--config", config, "status", VERSION, "--json").json()
    split = next(s for s in status["steps"] if s["name"] == "split-branch")
    assert "no repositories configured: set [repos] names or file" in split["detail"]
