"""``publish-notes``: the release notes as one pull request on the manifest repository (real git, fake GitHub)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import serve_fake
from tests.fakes import gitrepos as g
from tests.fakes.github_server import FakeGitHub
from tests.support import git_config, isolate_git, only, steps_toml

VERSION = "2021.09"
FENCE = "uc-cdis/fence"
MANIFEST = "uc-cdis/cdis-manifest"
NOTES_PATH = "releases/2021/09/gen3-release-notes.md"
BRANCH = "thor/release-notes-2021.09"
FEATURE_FREEZE = "2021-09-10T09:00"


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeGitHub(), monkeypatch, THOR_GITHUB_TOKEN="token")


class Thor:
    def __init__(self, run_thor, tmp_path: Path, database_url: str, github: FakeGitHub, extra: str = "") -> None:  # type: ignore[no-untyped-def]
        self.run_thor = run_thor
        remotes = tmp_path / "remotes"
        self.fence = g.make_remote(remotes, FENCE)
        self.manifest = g.make_remote(remotes, MANIFEST, history=[g.Change("manifests", {"README.md": "m\n"})])
        publish = f'uses = "publish-notes"\nafter = ["release-notes"]\nrepo = "{MANIFEST}"\nlabels = ["gen3-release"]\n'
        steps = only("split-branch", "release-notes") | {"publish-notes": publish + extra}
        github_toml = f'\n[github]\napi_url = "{github.url}"\nallow_http = true\ntimeout = 5\nwrite_interval = 0\n'
        self.config = git_config(tmp_path, [FENCE], steps_toml(steps) + github_toml, database_url)
        assert self("release", "start", VERSION).exit_code == 0
        for step in ("split-branch", "release-notes"):
            result = self("step", step, VERSION)
            assert result.exit_code == 0, (step, result.stdout, result.stderr)

    def __call__(self, *args: str, now: str = FEATURE_FREEZE):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args, "--now", now)

    def publish(self, *flags: str):  # type: ignore[no-untyped-def]
        return self("step", "publish-notes", VERSION, *flags)

    def step(self) -> dict:
        return next(s for s in self("status", VERSION, "--json").json()["steps"] if s["name"] == "publish-notes")

    def published(self) -> str:
        return subprocess.run(
            ["git", "--git-dir", self.manifest, "show", f"{BRANCH}:{NOTES_PATH}"], capture_output=True, text=True
        ).stdout


def test_one_pull_request_with_the_notes_kept_up_to_date(run_thor, tmp_path, github) -> None:  # type: ignore[no-untyped-def]
    # SQLite only: tests/e2e/test_github_month.py runs the same on both backends.
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github)
    notes = (tmp_path / "release-notes" / f"{VERSION}.md").read_text()

    result = thor.publish()
    assert result.exit_code == 0, (result.stdout, result.stderr)
    step = thor.step()
    assert step["status"] == "succeeded"
    assert step["detail"] == f"{MANIFEST}#1 opened ({g.heads(thor.manifest)[BRANCH][:12]} pushed): {NOTES_PATH}"
    assert step["link"] == f"https://github.com/{MANIFEST}/pull/1"
    assert thor.published() == notes
    (pull,) = github.pulls_of(MANIFEST)
    assert pull["title"] == "Gen3 release notes 2021.09"
    assert [label["name"] for label in pull["labels"]] == ["gen3-release"]
    assert "feature freeze 2021-09-10" in pull["body"] and pull["head"]["label"] == f"uc-cdis:{BRANCH}"

    tip = g.heads(thor.manifest)[BRANCH]
    again = thor.publish("--force")
    assert again.exit_code == 0, again.stderr
    assert thor.step()["detail"] == f"{MANIFEST}#1 open: {NOTES_PATH}"
    assert g.heads(thor.manifest)[BRANCH] == tip and github.count("POST", "/pulls") == 1

    # A hotfix appends to the notes: publishing again updates the same branch and pull request.
    g.set_ref(thor.fence, "stable", g.heads(thor.fence)["master"])
    fix = g.add_pr(thor.fence, 7, "Fix the logout loop", files={"service/logout.py": "ok = 1\n"})
    hotfix = thor("hotfix", VERSION, "--repo", FENCE, fix, now="2021-09-27T09:00")
    assert hotfix.exit_code == 0, hotfix.stderr
    updated = thor.publish("--force")
    assert updated.exit_code == 0, updated.stderr
    assert "## Hotfix 2021.09.1: uc-cdis/fence" in thor.published()
    assert g.parents(thor.manifest, BRANCH) == [tip]
    assert len(github.pulls_of(MANIFEST)) == 1


def test_waiting_for_the_merge_and_a_declined_pull_request(run_thor, tmp_path, github) -> None:  # type: ignore[no-untyped-def]
    extra = 'wait_for_merge = true\npoll_every = "1m"\nmax_attempts = 1\n'
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github, extra)
    assert thor.publish().exit_code == 0
    step = thor.step()
    assert (step["status"], step["detail"]) == ("waiting", f"{MANIFEST}#1 open; waiting until it is merged")
    github.merge_pull(MANIFEST, 1)
    assert thor("tick", now="2021-09-10T09:05").exit_code == 0
    step = thor.step()
    assert (step["status"], step["detail"]) == ("succeeded", f"{MANIFEST}#1 merged")

    github.close_pull(MANIFEST, 1)  # as if declined: a forced re-run must not open another
    github.pulls[(MANIFEST, 1)]["merged_at"] = None
    declined = thor.publish("--force")
    assert declined.exit_code == 1
    assert "was closed without merging; reopen it" in thor.step()["detail"]
    assert len(github.pulls_of(MANIFEST)) == 1


def test_no_notes_yet_fails_clearly(run_thor, tmp_path, github) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github, "max_attempts = 1\n")
    (tmp_path / "release-notes" / f"{VERSION}.md").unlink()
    assert thor.publish().exit_code == 1
    assert "no release notes for 2021.09 yet" in thor.step()["detail"]
    assert github.count("POST", "/pulls") == 0


def test_doctor_reads_the_repository(run_thor, tmp_path, github) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github)
    result = thor("doctor", "--json")
    row = next(c for c in result.json()["checks"] if c["name"] == "github")
    assert (row["status"], row["detail"]) == ("ok", f"{github.url}: {MANIFEST} (publish-notes)")
    assert github.count("GET", f"/repos/{MANIFEST}") >= 1
