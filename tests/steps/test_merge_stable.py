"""``merge-stable`` (type ``git-merge``) through ``thor step`` against real bare repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes import gitrepos as g
from tests.support import SERVICE_STEPS, disabled, git_config, isolate_git, repo_results

VERSION = "2021.09"  # feature freeze Fri 2021-09-10, code freeze Fri 2021-09-24
BRANCH = "integration202109"
NAMES = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/sheepdog")
CODE_FREEZE = "2021-09-24T09:00"
QUIET = disabled(*SERVICE_STEPS, "load-tests")


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


class Thor:
    """Release 2021.09 started, with ``integration202109`` cut in every repository."""

    def __init__(self, run_thor, tmp_path: Path, database_url: str, extra: str = "") -> None:  # type: ignore[no-untyped-def]
        self.run_thor, self.database_url = run_thor, database_url
        self.remotes = {name: g.make_remote(tmp_path / "remotes", name) for name in NAMES}
        self.config = git_config(tmp_path, NAMES, f"{extra}\n{QUIET}", database_url)
        assert self("release", "start", VERSION).exit_code == 0

    def __call__(self, *args: str, now: str = CODE_FREEZE):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args, "--now", now)

    def cut(self) -> dict[str, str]:
        result = self("step", "split-branch", VERSION, now="2021-09-10T09:00")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return {name: g.heads(remote)[BRANCH] for name, remote in self.remotes.items()}

    def merge(self, *flags: str):  # type: ignore[no-untyped-def]
        return self("step", "merge-stable", VERSION, *flags)

    def detail(self) -> str:
        steps = self("status", VERSION, "--json").json()["steps"]
        return next(s for s in steps if s["name"] == "merge-stable")["detail"]

    def refs(self) -> dict[str, dict[str, str]]:
        return {name: g.all_refs(remote) for name, remote in self.remotes.items()}

    def results(self) -> dict[str, dict[str, Any]]:
        return repo_results(self.database_url, "merge-stable")


def tag_message(remote: Path, tag: str) -> str:
    return g.git("-C", remote, "tag", "-l", "--format=%(contents)", tag)


@pytest.fixture
def thor(run_thor, tmp_path):  # type: ignore[no-untyped-def]
    return Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}")


def test_fast_forward_merge_commit_and_new_stable(run_thor, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    extra = '[steps.merge-stable]\ntag_message = "Gen3 {version} from {integration_branch}"\n'
    thor = Thor(run_thor, tmp_path, database_url, extra)
    fence, indexd, sheepdog = (thor.remotes[n] for n in NAMES)
    g.set_ref(fence, "stable", g.parents(fence, "master")[0])  # behind master: fast-forward
    g.set_ref(indexd, "stable", g.parents(indexd, "master")[0])
    hotfix = g.commit_on(indexd, "stable", {"HOTFIX.md": "fixed on stable\n"}, "Hotfix on stable")  # diverged
    cut = thor.cut()  # sheepdog has no stable branch at all

    result = thor.merge()
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert thor.detail() == (
        "3 repos merged and tagged 2021.09: 1 fast-forwarded, 1 merged with a merge commit, 1 stable created"
    )
    assert g.heads(fence)["stable"] == cut["uc-cdis/fence"]
    merged = g.heads(indexd)["stable"]
    assert g.parents(indexd, merged) == [hotfix, cut["uc-cdis/indexd"]]
    assert g.message(indexd, merged).startswith(f"Merge branch '{BRANCH}' into stable")
    assert g.heads(sheepdog)["stable"] == cut["uc-cdis/sheepdog"]
    for name, remote in thor.remotes.items():
        assert g.tags(remote)[VERSION] == g.heads(remote)["stable"], name
        assert tag_message(remote, VERSION) == f"Gen3 2021.09 from {BRANCH}"
    results = thor.results()
    assert results["uc-cdis/indexd"]["status"] == "succeeded"
    assert results["uc-cdis/indexd"]["sha"] == merged
    assert results["uc-cdis/indexd"]["data"] == {
        "stable_branch": "stable", "tag": VERSION, "merge": "merged", "tag_status": "created",
    }  # fmt: skip

    refs = thor.refs()
    for remote in thor.remotes.values():
        g.reject_pushes(remote)  # nothing left to push
    again = thor.merge("--force")
    assert again.exit_code == 0, (again.stdout, again.stderr)
    assert thor.detail() == "3 repos merged and tagged 2021.09: 3 already merged"
    assert thor.refs() == refs


def test_a_conflict_in_one_repo_changes_no_repo(thor: Thor) -> None:
    fence, indexd, sheepdog = (thor.remotes[n] for n in NAMES)
    for remote in thor.remotes.values():
        g.set_ref(remote, "stable", g.parents(remote, "master")[0])
    thor.cut()
    g.make_conflict(indexd, "stable", BRANCH, "service/app.py")
    g.git("-C", sheepdog, "update-ref", "-d", f"refs/heads/{BRANCH}")  # lost its integration branch
    before = thor.refs()

    result = thor.merge()
    assert result.exit_code == 1
    detail = thor.detail()
    assert "2 of 3 repos cannot be merged: " in detail
    assert f"uc-cdis/indexd: merging {BRANCH} into stable conflicts in: service/app.py" in detail
    assert f"uc-cdis/sheepdog: {BRANCH} does not exist" in detail
    assert "service/app.py; uc-cdis/sheepdog" in detail and "; no repository was changed;" in detail
    assert "uc-cdis/fence" not in detail
    assert thor.refs() == before
    results = thor.results()
    assert {name: r["status"] for name, r in results.items()} == {
        "uc-cdis/fence": "pending", "uc-cdis/indexd": "failed", "uc-cdis/sheepdog": "failed",
    }  # fmt: skip

    # Resolved on the integration branch (both sides now agree) and the branch restored: the retry merges.
    g.commit_on(indexd, BRANCH, {"service/app.py": "hotfix made on stable\n"}, "Take the hotfix")
    g.set_ref(sheepdog, BRANCH, g.heads(sheepdog)["master"])
    retried = thor.merge()
    assert retried.exit_code == 0, (retried.stdout, retried.stderr)
    assert thor.detail() == "3 repos merged and tagged 2021.09: 2 fast-forwarded, 1 merged with a merge commit"
    assert {name: g.tags(remote).get(VERSION) for name, remote in thor.remotes.items()} == {
        name: g.heads(remote)["stable"] for name, remote in thor.remotes.items()
    }
    assert g.heads(fence)["stable"] == g.heads(fence)[BRANCH]


def test_an_existing_tag_is_accepted_on_the_release_commit_and_fails_elsewhere(thor: Thor) -> None:
    fence, indexd, sheepdog = (thor.remotes[n] for n in NAMES)
    for remote in thor.remotes.values():
        g.set_ref(remote, "stable", g.parents(remote, "master")[0])
    cut = thor.cut()
    g.tag(fence, VERSION, cut["uc-cdis/fence"], message="tagged by hand")  # the right commit
    wrong = g.parents(indexd, "master")[0]
    g.tag(indexd, VERSION, wrong, message="tagged by mistake")
    indexd_stable = g.heads(indexd)["stable"]

    result = thor.merge()
    assert result.exit_code == 1
    detail = thor.detail()
    assert detail.startswith("attempt 1/3 failed: 1 of 3 repos failed: uc-cdis/indexd: ")
    assert f"tag {VERSION} already exists on {wrong[:12]}, not on the release commit" in detail
    assert g.heads(indexd)["stable"] == indexd_stable  # untouched
    assert g.tags(indexd)[VERSION] == wrong
    assert g.heads(fence)["stable"] == g.tags(fence)[VERSION] == cut["uc-cdis/fence"]
    assert tag_message(fence, VERSION) == "tagged by hand"
    assert g.tags(sheepdog)[VERSION] == g.heads(sheepdog)["stable"] == cut["uc-cdis/sheepdog"]
    results = thor.results()
    assert results["uc-cdis/fence"]["data"]["tag_status"] == "exists"
    assert (results["uc-cdis/indexd"]["status"], results["uc-cdis/indexd"]["data"]["tag_status"]) == (
        "failed",
        "conflict",
    )


def test_a_rejected_push_fails_that_repo_only_and_the_rerun_finishes_it(thor: Thor) -> None:
    cut = thor.cut()
    fence = thor.remotes["uc-cdis/fence"]
    g.reject_pushes(fence)
    assert thor.merge().exit_code == 1
    assert "1 of 3 repos failed: uc-cdis/fence: push of stable rejected" in thor.detail()
    assert "stable" not in g.heads(fence) and VERSION not in g.tags(fence)
    done = {n: g.all_refs(thor.remotes[n]) for n in NAMES[1:]}

    g.allow_pushes(fence)
    for name in NAMES[1:]:
        g.reject_pushes(thor.remotes[name])
    assert thor.merge().exit_code == 0
    assert thor.detail() == "3 repos merged and tagged 2021.09: 1 stable created, 2 done on an earlier attempt"
    assert g.heads(fence)["stable"] == g.tags(fence)[VERSION] == cut["uc-cdis/fence"]
    assert {n: g.all_refs(thor.remotes[n]) for n in NAMES[1:]} == done


def test_the_step_fetches_no_tree_for_a_fast_forward_and_reuses_the_pre_check_for_the_merges(
    thor: Thor, tmp_path, monkeypatch
) -> None:
    from tests.adapters.test_git_merge_transfer import Trace, filters
    from thor_cli.adapters.git_merge import HISTORY_WINDOW

    window = f"--depth={HISTORY_WINDOW}"
    fence, indexd = thor.remotes["uc-cdis/fence"], thor.remotes["uc-cdis/indexd"]
    g.set_ref(fence, "stable", g.parents(fence, "master")[0])  # a fast-forward
    g.set_ref(indexd, "stable", g.parents(indexd, "master")[0])
    g.commit_on(indexd, "stable", {"HOTFIX.md": "fixed on stable\n"}, "Hotfix on stable")  # a merge
    thor.cut()  # sheepdog has no stable: created
    directory = tmp_path / "trace2"
    directory.mkdir()
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(directory))

    assert thor.merge().exit_code == 0
    by_repo: dict[str, list[list[str]]] = {}
    for fetch in Trace(directory).fetches():
        assert not fetch.parent, fetch  # nothing fetched lazily, by merge-tree or by a push
        url = next(a for a in fetch.argv if a.startswith("remote.origin.url="))
        by_repo.setdefault(url.rpartition("/")[2].removesuffix(".git"), []).append(filters(fetch))
    assert by_repo == {
        "fence": [["--filter=tree:0", window]],  # the pre-check; the merge reuses its commits
        "indexd": [["--filter=tree:0", window], ["--filter=blob:none"]],  # + the three trees
        "sheepdog": [["--filter=tree:0", "--depth=1"]],  # nothing to check; the commit to tag
    }
