"""Files on a branch and one pull request for them: real git (a bare repository) and the fake GitHub."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import serve_fake
from tests.fakes import gitrepos as g
from tests.fakes.github_server import FakeGitHub
from tests.support import isolate_git
from thor_cli.adapters.git_files import Snapshot
from thor_cli.adapters.github import GitHubUnavailable
from thor_cli.adapters.pull_requests import PullSpec, ensure_pull_request, pull_state
from thor_cli.config import Settings, parse_config

REPO = "uc-cdis/gen3-gitops"
VALUES = "qa/values/values.yaml"
ORIGINAL = "# QA commons\nfence:\n  image:\n    tag: 2021.08 # pinned\n"


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeGitHub(), monkeypatch, THOR_GITHUB_TOKEN="token")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    history = [g.Change("qa", {VALUES: ORIGINAL, "qa/README.md": "QA\n", "other/values/values.yaml": "a: 1\n"})]
    return g.make_remote(tmp_path / "remotes", REPO, history=history)


def settings_for(github: FakeGitHub) -> Settings:
    config = parse_config({"github": {"api_url": github.url, "write_interval": 0, "allow_http": True}})
    return Settings(config=config, path=None, database_url="sqlite://")


def spec_for(remote: Path, body: str = "fence 2021.09") -> PullSpec:
    return PullSpec(
        repo=REPO,
        url=g.file_url(remote),
        branch="thor/2021.09/qa",
        title="Gen3 Monthly Release 2021.09 qa",
        body=body,
        message="Gen3 Monthly Release 2021.09 qa",
        labels=("gen3-release", "automerge"),
    )


def set_tag(tag: str):  # type: ignore[no-untyped-def]
    def edit(files: Snapshot) -> dict[str, str]:
        text = files.read(VALUES) or ""
        return {VALUES: re.sub(r"tag: \S+", f"tag: {tag}", text)}

    return edit


def read(remote: Path, rev: str, path: str) -> str:
    """The exact bytes (g.git strips its output)."""
    return subprocess.run(["git", "--git-dir", remote, "show", f"{rev}:{path}"], capture_output=True, text=True).stdout


def test_one_commit_and_one_pull_request_however_often_it_runs(remote: Path, github: FakeGitHub) -> None:
    settings, spec = settings_for(github), spec_for(remote)
    base = g.heads(remote)["master"]
    first = ensure_pull_request(settings, spec, set_tag("2021.09"))
    assert (first.status, first.number, first.created, first.files) == ("opened", 1, True, (VALUES,))
    assert first.pushed == g.heads(remote)[spec.branch]
    assert g.parents(remote, spec.branch) == [base]
    assert read(remote, spec.branch, VALUES) == ORIGINAL.replace("2021.08", "2021.09")  # comments kept
    assert read(remote, spec.branch, "qa/README.md") == "QA\n"  # the rest of the tree is the base's

    again = ensure_pull_request(settings, spec, set_tag("2021.09"))
    assert (again.status, again.number, again.created, again.pushed) == ("opened", 1, False, None)
    assert github.count("POST", "/pulls") == 1
    pull = github.pulls_of(REPO)[0]
    assert [label["name"] for label in pull["labels"]] == ["gen3-release", "automerge"]
    assert pull["head"]["label"] == "uc-cdis:thor/2021.09/qa" and pull["base"]["ref"] == "master"


def test_changed_files_update_the_same_branch_and_pull_request(remote: Path, github: FakeGitHub) -> None:
    settings = settings_for(github)
    first = ensure_pull_request(settings, spec_for(remote), set_tag("2021.09"))
    second = ensure_pull_request(settings, spec_for(remote, body="fence 2021.09.1"), set_tag("2021.09.1"))
    assert (second.number, second.created) == (first.number, False)
    assert g.parents(remote, "thor/2021.09/qa") == [first.pushed]
    assert "tag: 2021.09.1 # pinned" in read(remote, "thor/2021.09/qa", VALUES)
    assert github.pulls_of(REPO)[0]["body"] == "fence 2021.09.1"
    assert len(github.pulls_of(REPO)) == 1


def test_nothing_to_change_is_up_to_date_without_branch_or_pull_request(remote: Path, github: FakeGitHub) -> None:
    outcome = ensure_pull_request(settings_for(github), spec_for(remote), set_tag("2021.08"))
    assert outcome.status == "up-to-date"
    assert "thor/2021.09/qa" not in g.heads(remote)
    assert github.count("POST", "/pulls") == 0


def test_github_down_fails_before_git_is_touched(remote: Path, github: FakeGitHub) -> None:
    github.down()
    with pytest.raises(GitHubUnavailable, match="unreachable"):
        ensure_pull_request(settings_for(github), spec_for(remote), set_tag("2021.09"))
    assert "thor/2021.09/qa" not in g.heads(remote)


def test_a_pushed_branch_without_its_pull_request_gets_one_and_no_second_push(remote: Path, github: FakeGitHub) -> None:
    settings, spec = settings_for(github), spec_for(remote)
    ensure_pull_request(settings, spec, set_tag("2021.09"))
    pushed = g.heads(remote)[spec.branch]
    github.pulls.clear()  # the crash: pushed, then GitHub never heard of the pull request
    outcome = ensure_pull_request(settings, spec, set_tag("2021.09"))
    assert (outcome.status, outcome.created, outcome.pushed) == ("opened", True, None)
    assert g.heads(remote)[spec.branch] == pushed


def test_a_racing_process_that_opened_it_first_is_reused(remote: Path, github: FakeGitHub) -> None:
    settings, spec = settings_for(github), spec_for(remote)

    def other_process_opens_it(repo: str, data: dict) -> None:
        github.before_create = None
        github.pulls[(repo, 7)] = {
            **github.pulls.get((repo, 7), {}),
            "number": 7,
            "state": "open",
            "title": data["title"],
            "body": data["body"],
            "merged": False,
            "merged_at": None,
            "created_at": "2021-09-24T15:00:00Z",
            "url": f"{github.url}/repos/{repo}/pulls/7",
            "issue_url": f"{github.url}/repos/{repo}/issues/7",
            "html_url": f"https://github.com/{repo}/pull/7",
            "head": {"label": f"uc-cdis:{data['head']}", "ref": data["head"]},
            "base": {"ref": data["base"]},
            "labels": [],
        }

    github.before_create = other_process_opens_it
    outcome = ensure_pull_request(settings, spec, set_tag("2021.09"))
    assert (outcome.number, outcome.created) == (7, False)
    assert len(github.pulls_of(REPO)) == 1


def test_merged_and_declined_pull_requests_are_final(remote: Path, github: FakeGitHub) -> None:
    settings, spec = settings_for(github), spec_for(remote)
    opened = ensure_pull_request(settings, spec, set_tag("2021.09"))
    github.add_review(REPO, opened.number, "pm-qa", "CHANGES_REQUESTED")
    github.add_review(REPO, opened.number, "pm-qa")
    github.add_review(REPO, opened.number, "someone", "COMMENTED")
    state = pull_state(settings, REPO, opened.number)
    assert (state.status, state.approvals, state.merged_at) == ("open", 1, None)

    github.merge_pull(REPO, opened.number)
    writes = github.count("POST") + github.count("PATCH")
    heads = g.heads(remote)
    merged = ensure_pull_request(settings, spec, set_tag("2021.09.1"))
    assert (merged.status, merged.number) == ("merged", opened.number)
    assert merged.merged_at is not None and merged.merged_at.tzinfo is not None
    assert pull_state(settings, REPO, opened.number).status == "merged"
    assert (github.count("POST") + github.count("PATCH"), g.heads(remote)) == (writes, heads)  # looked only

    other = PullSpec(**{**spec.__dict__, "branch": "thor/2021.09/other"})
    declined_edit = set_tag("2021.09")
    ensure_pull_request(settings, other, declined_edit)
    number = github.pulls_of(REPO)[-1]["number"]
    github.close_pull(REPO, number)
    again = ensure_pull_request(settings, other, declined_edit)
    assert (again.status, again.number) == ("declined", number)
    assert pull_state(settings, REPO, number).status == "declined"
    assert len(github.pulls_of(REPO)) == 2
