"""How much ``plan_merge`` and ``merge_and_tag`` fetch: counted in the scratch repository and in git's own trace.

The remotes have a history longer than ``HISTORY_WINDOW`` (built with ``git fast-import``, once per module)
so that the shallow window, its fallback to the whole history and the merge's tree fetch are all exercised.
Every git process (Thor's, the lazy fetches they start, and the remote's ``upload-pack``) writes a trace2
event file, from which the tests read which fetches ran with which filter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import gitrepos as g
from thor_cli.adapters import git
from thor_cli.adapters.git_merge import HISTORY_WINDOW, merge_workspace

RELEASE = "Gen3 Core Release 2021.09"
PRS = 400  # pull requests on master: 801 commits, several times the window
WHO = "Gen3 Developer <dev@example.org>"


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):
    for key, value in g.isolated_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    for key in ("THOR_GITHUB_TOKEN", "GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_COUNT", "GIT_ASKPASS"):
        monkeypatch.delenv(key, raising=False)


def _stream() -> bytes:
    """master: an initial commit of 40 files in nested folders, then ``PRS`` pull requests merged with a merge
    commit, each changing one file and appending to CHANGELOG.md."""
    out: list[bytes] = []
    when = 1_600_000_000

    def data(text: str) -> bytes:
        raw = text.encode()
        return b"data %d\n%s\n" % (len(raw), raw)

    def commit(ref: str, mark: int, message: str, parents: list[int], files: dict[str, str]) -> None:
        nonlocal when
        when += 60
        out.append(f"commit {ref}\nmark :{mark}\nauthor {WHO} {when} +0000\ncommitter {WHO} {when} +0000\n".encode())
        out.append(data(message))
        out.extend(f"{'from' if i == 0 else 'merge'} :{p}\n".encode() for i, p in enumerate(parents))
        out.extend(f"M 100644 inline {path}\n".encode() + data(text) for path, text in files.items())

    paths = [f"service/pkg{i % 4}/sub{i % 3}/module_{i}.py" for i in range(40)]
    changelog = ["# Changelog", "", "Newest last.", "", "- start"]
    initial = {p: f"# {p}\n" + "\n".join(f"line {n}" for n in range(30)) + "\n" for p in paths}
    commit("refs/heads/master", 1, "Initial commit", [], {**initial, "CHANGELOG.md": "\n".join(changelog) + "\n"})
    master = 1
    for number in range(1, PRS + 1):
        changelog.append(f"- change {number}")
        path = paths[number % len(paths)]
        files = {path: f"# {path}\nversion {number}\n", "CHANGELOG.md": "\n".join(changelog) + "\n"}
        commit("refs/heads/pr", 2 * number, f"Change {number}", [master], files)
        title = f"Merge pull request #{number} from uc-cdis/feat/change-{number}\n\nChange {number}"
        commit("refs/heads/master", 2 * number + 1, title, [master, 2 * number], files)
        master = 2 * number + 1
    return b"".join(out)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "service.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=master", path], check=True)
    subprocess.run(["git", "--git-dir", path, "fast-import", "--quiet"], input=_stream(), check=True)
    subprocess.run(["git", "--git-dir", path, "update-ref", "-d", "refs/heads/pr"], check=False)
    for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):
        subprocess.run(["git", "--git-dir", path, "config", key, "true"], check=True)
    return path


@pytest.fixture
def remote(template, tmp_path) -> Path:
    copy = tmp_path / "remotes" / "service.git"
    shutil.copytree(template, copy)
    return copy


@dataclass(frozen=True)
class Process:
    name: str  # git's command name: fetch, upload-pack, push, merge-tree, ...
    argv: list[str]
    parent: str  # the command that started it ("" for a top-level one)


class Trace:
    """Every git process run while tracing, read from its trace2 event file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def processes(self) -> list[Process]:
        found = []
        for path in sorted(self.directory.iterdir()):
            events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            names = [e for e in events if e["event"] == "cmd_name"]
            starts = [e for e in events if e["event"] == "start"]
            if names and starts:
                hierarchy = names[0]["hierarchy"].split("/")
                found.append(Process(names[0]["name"], starts[0]["argv"], "/".join(hierarchy[:-1])))
        return found

    def fetches(self) -> list[Process]:
        return [p for p in self.processes() if p.name == "fetch"]

    def lazy_fetches(self) -> list[Process]:
        """Fetches git started by itself for objects it found missing (a partial repository's promisor)."""
        return [p for p in self.fetches() if p.parent]

    def clear(self) -> None:
        for path in self.directory.iterdir():
            path.unlink()


@pytest.fixture
def trace(tmp_path, monkeypatch) -> Trace:
    directory = tmp_path / "trace2"
    directory.mkdir()
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(directory))
    return Trace(directory)


def objects(scratch: Path) -> dict[str, int]:
    """How many objects of each type the scratch repository holds."""
    listed = g.git("--git-dir", scratch, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)")
    counts: dict[str, int] = {}
    for kind in listed.split():
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def filters(process: Process) -> list[str]:
    return [a for a in process.argv if a.startswith(("--filter=", "--depth=", "--unshallow"))]


def cut(remote: Path) -> str:
    master = g.heads(remote)["master"]
    g.set_ref(remote, "integration202109", master)
    return master


def test_a_fast_forward_fetches_commits_only_and_pushes_the_tag_alone(remote, trace):
    g.set_ref(remote, "stable", g.git("--git-dir", remote, "rev-parse", "master~45"))
    integration = cut(remote)
    url = g.file_url(remote)
    with merge_workspace() as workspace:
        plan = git.plan_merge(url, "integration202109", "stable", workspace=workspace)
        assert plan.kind == "fast-forward"
        [fetch] = trace.fetches()
        assert filters(fetch) == ["--filter=tree:0", f"--depth={HISTORY_WINDOW}"]
        assert plan.scratch is not None
        kept = plan.scratch.path
        held = objects(kept)
        assert set(held) == {"commit"} and held["commit"] < PRS  # a window of commits, no tree, no blob

        trace.clear()
        result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE, workspace=workspace)
        assert (result.status, result.tag_status, result.stable_sha) == ("fast-forward", "created", integration)
        assert trace.fetches() == []  # the merge fetched nothing, not even lazily for the push
        assert objects(kept) == {"commit": held["commit"], "tag": 1}
    assert not kept.exists()  # the workspace is removed with everything in it
    assert g.heads(remote)["stable"] == g.tags(remote)["2021.09"] == integration


def test_without_a_workspace_a_fast_forward_still_fetches_no_tree(remote, trace):
    g.set_ref(remote, "stable", g.git("--git-dir", remote, "rev-parse", "master~30"))
    integration = cut(remote)
    url = g.file_url(remote)
    plan = git.plan_merge(url, "integration202109", "stable")
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert (result.status, result.stable_sha) == ("fast-forward", integration)
    fetches = trace.fetches()
    assert [filters(f) for f in fetches] == [
        ["--filter=tree:0", f"--depth={HISTORY_WINDOW}"],  # the plan
        ["--filter=tree:0", "--depth=1"],  # the merge: the commits the tag and stable point at
    ]
    assert not any(p.name == "fetch" and p.parent for p in trace.processes())


def test_a_stable_further_behind_than_the_window_is_decided_on_the_whole_history(remote, trace):
    g.set_ref(remote, "stable", g.git("--git-dir", remote, "rev-parse", f"master~{HISTORY_WINDOW + 10}"))
    cut(remote)
    with merge_workspace() as workspace:
        plan = git.plan_merge(g.file_url(remote), "integration202109", "stable", workspace=workspace)
        assert plan.kind == "fast-forward"
        assert [filters(f) for f in trace.fetches()] == [
            ["--filter=tree:0", f"--depth={HISTORY_WINDOW}"],
            ["--filter=tree:0", "--unshallow"],
        ]
        assert plan.scratch is not None
        assert set(objects(plan.scratch.path)) == {"commit"}


def hotfix_on_stable(remote: Path, behind: int) -> str:
    """Stable ``behind`` merges behind master, plus a hotfix at the top of CHANGELOG.md (master appends at
    its end): a merge that needs the three versions of that one file."""
    base = g.git("--git-dir", remote, "rev-parse", f"master~{behind}")
    g.set_ref(remote, "stable", base)
    text = g.git("--git-dir", remote, "cat-file", "blob", f"{base}:CHANGELOG.md").splitlines()
    text[1:1] = ["- hotfix: a security fix"]
    return g.commit_on(remote, "stable", {"CHANGELOG.md": "\n".join(text) + "\n"}, "Hotfix on stable")


def test_a_merge_fetches_trees_once_and_only_the_blobs_it_merges(remote, trace):
    hotfix = hotfix_on_stable(remote, 40)
    integration = cut(remote)
    url = g.file_url(remote)
    with merge_workspace() as workspace:
        plan = git.plan_merge(url, "integration202109", "stable", workspace=workspace)
        assert (plan.kind, plan.conflicts) == ("merge", [])
        fetches = trace.fetches()
        assert [filters(f) for f in fetches] == [
            ["--filter=tree:0", f"--depth={HISTORY_WINDOW}"],  # the window holds the one merge base
            ["--filter=blob:none"],  # the trees of stable, integration and their merge base, in one fetch
            ["--filter=blob:none"],  # merge-tree's own batch: the blobs of its content merges
        ]
        assert [f.parent for f in fetches] == ["", "", "merge-tree"]
        assert plan.scratch is not None
        kept = plan.scratch.path
        held = objects(kept)
        blobs = g.git("--git-dir", kept, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectname)")
        base = g.git("--git-dir", remote, "merge-base", "stable", "integration202109")
        wanted = {g.git("--git-dir", remote, "rev-parse", f"{c}:CHANGELOG.md") for c in (base, hotfix, integration)}
        wanted.add(g.git("--git-dir", kept, "rev-parse", f"{plan.tree}:CHANGELOG.md"))  # the merged one it wrote
        assert {line.split()[1] for line in blobs.splitlines() if line.startswith("blob")} == wanted
        assert held["commit"] < PRS and held["tree"] < 3 * 20  # a window of commits; 3 trees and their folders

        trace.clear()
        result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE, workspace=workspace)
        assert (result.status, result.tag_status) == ("merged", "created")
        assert trace.fetches() == []  # the merge reuses the plan's tree: nothing fetched, nothing lazily
        merged = g.heads(remote)["stable"]
        assert g.parents(remote, merged) == [hotfix, integration]
        changelog = g.git("--git-dir", remote, "cat-file", "blob", f"{merged}:CHANGELOG.md")
        assert "- hotfix: a security fix" in changelog and f"- change {PRS}" in changelog
        assert g.tags(remote)["2021.09"] == merged


def test_without_a_workspace_the_merge_is_planned_again_in_the_same_bounded_fetches(remote, trace):
    hotfix_on_stable(remote, 35)
    cut(remote)
    url = g.file_url(remote)
    plan = git.plan_merge(url, "integration202109", "stable")
    planned = len(trace.fetches())
    trace.clear()
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert result.status == "merged"
    assert len(trace.fetches()) == planned == 3
    assert [f.parent for f in trace.lazy_fetches()] == ["merge-tree"]  # the push fetched nothing lazily


def test_a_merge_base_beyond_the_window_is_found_in_the_whole_history(remote, trace):
    hotfix = hotfix_on_stable(remote, HISTORY_WINDOW + 20)
    integration = cut(remote)
    url = g.file_url(remote)
    with merge_workspace() as workspace:
        plan = git.plan_merge(url, "integration202109", "stable", workspace=workspace)
        assert plan.kind == "merge"
        assert [filters(f) for f in trace.fetches()] == [
            ["--filter=tree:0", f"--depth={HISTORY_WINDOW}"],
            ["--filter=tree:0", "--unshallow"],  # commits only, still
            ["--filter=blob:none"],
            ["--filter=blob:none"],
        ]
        trace.clear()
        result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE, workspace=workspace)
        assert result.status == "merged" and trace.fetches() == []
    assert g.parents(remote, g.heads(remote)["stable"]) == [hotfix, integration]


def test_a_window_that_cannot_prove_the_merge_base_falls_back_to_the_whole_history(remote, trace):
    """A long-lived branch merged into master: the window ends on it, below no merge base it holds."""
    hotfix = hotfix_on_stable(remote, 20)
    fork, master = (g.git("--git-dir", remote, "rev-parse", rev) for rev in ("master~30", "master"))
    stream = [f"reset refs/heads/long\nfrom {fork}\n\n"]
    for number in range(HISTORY_WINDOW + 10):
        text = f"{number}\n"
        stream.append(f"commit refs/heads/long\ncommitter {WHO} {1_700_000_000 + number} +0000\ndata 4\nLong\n")
        stream.append(f"M 100644 inline long.txt\ndata {len(text)}\n{text}\n")
    stream.append(f"commit refs/heads/master\ncommitter {WHO} 1800000000 +0000\ndata 11\nMerge long\n")
    stream.append(f"from {master}\nmerge refs/heads/long\n\n")
    subprocess.run(["git", "--git-dir", remote, "fast-import", "--quiet"], input="".join(stream).encode(), check=True)
    integration = cut(remote)
    url = g.file_url(remote)
    plan = git.plan_merge(url, "integration202109", "stable")
    assert plan.kind == "merge"
    assert ["--filter=tree:0", "--unshallow"] in [filters(f) for f in trace.fetches()]
    result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE)
    assert result.status == "merged"
    assert g.parents(remote, g.heads(remote)["stable"]) == [hotfix, integration]


def test_a_pull_request_merged_into_integration_after_the_plan_is_not_released_nor_fetched_whole(remote, trace):
    g.set_ref(remote, "stable", g.git("--git-dir", remote, "rev-parse", "master~40"))
    planned = cut(remote)
    url = g.file_url(remote)
    with merge_workspace() as workspace:
        plan = git.plan_merge(url, "integration202109", "stable", workspace=workspace)
        late = g.commit_on(remote, "integration202109", {"late.txt": "late\n"}, "Late fix")
        trace.clear()
        result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE, workspace=workspace)
        assert (result.status, result.stable_sha) == ("fast-forward", planned)
        assert [filters(f) for f in trace.fetches()] == [["--filter=tree:0", f"--depth={HISTORY_WINDOW}"]]
        assert plan.scratch is not None
        assert set(objects(plan.scratch.path)) == {"commit", "tag"}
    assert g.heads(remote)["stable"] == g.tags(remote)["2021.09"] == planned
    assert g.heads(remote)["integration202109"] == late


def test_a_plan_that_read_the_tag_lets_the_merge_push_without_looking_again(remote, trace):
    # The pre-check's one ls-remote reads stable, the branch and the tag; the merge that follows under the
    # same lease pushes at once, its leases standing in for a second look (tests/adapters/test_git.py has
    # the refs that move in between).
    g.set_ref(remote, "stable", g.git("--git-dir", remote, "rev-parse", "master~45"))
    integration = cut(remote)
    url = g.file_url(remote)
    with merge_workspace() as workspace:
        plan = git.plan_merge(url, "integration202109", "stable", tag="2021.09", workspace=workspace)
        assert (plan.kind, plan.tag, plan.tag_sha) == ("fast-forward", "2021.09", None)
        assert [p.name for p in trace.processes() if p.name == "ls-remote"] == ["ls-remote"]
        trace.clear()
        result = git.merge_and_tag(url, plan, tag="2021.09", message=RELEASE, workspace=workspace)
        assert (result.status, result.tag_status, result.stable_sha) == ("fast-forward", "created", integration)
        names = [p.name for p in trace.processes() if not p.parent]
        assert "ls-remote" not in names and "fetch" not in names, names
    assert g.heads(remote)["stable"] == g.tags(remote)["2021.09"] == integration
