"""A month released the GitHub way: load tests as an Actions workflow, the notes as a pull request on the
manifest repository, and a hotfix after code freeze that reaches the notes, the tags and the thread.

Real git (bare repositories), PyGithub against the fake GitHub, ``thor tick --now`` through September 2021
on SQLite and PostgreSQL. JIRA is turned off; notifications go to a file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import serve_fake
from tests.fakes import gitrepos as g
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitrepos import DEFAULT_HISTORY, Tag
from tests.support import git_config, isolate_git

VERSION = "2021.09"
BRANCH = "integration202109"
NAMES = ("uc-cdis/fence", "uc-cdis/indexd")
VIGIL, WORKFLOW = "uc-cdis/gen3-code-vigil", "load_tests.yaml"
MANIFEST, NOTES = "uc-cdis/cdis-manifest", "releases/2021/09/gen3-release-notes.md"


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    fake = FakeGitHub()
    fake.add_workflow(
        VIGIL, WORKFLOW, inputs=["RELEASE_VERSION", "thor_correlation"], run_name="Load tests {thor_correlation}"
    )
    yield from serve_fake(fake, monkeypatch, THOR_GITHUB_TOKEN="token")


def test_a_month_with_a_workflow_a_notes_pull_request_and_a_hotfix(
    run_thor, tmp_path: Path, database_url, github, db_dump
) -> None:  # type: ignore[no-untyped-def]
    history = [*DEFAULT_HISTORY, Tag("2021.08", "Gen3 Core Release 2021.08")]
    remotes = {name: g.make_remote(tmp_path / "remotes", name, history=history) for name in NAMES}
    manifest = g.make_remote(tmp_path / "remotes", MANIFEST, history=[g.Change("init", {"README.md": "m\n"})])
    g.add_pr(remotes["uc-cdis/fence"], 10, "Add data upload endpoint")
    config = git_config(
        tmp_path,
        NAMES,
        f"""
[github]
api_url = "{github.url}"
allow_http = true
timeout = 5
write_interval = 0

[notify]
file = "messages.log"

[steps.create-jira-release]
enabled = false

[steps.mark-released]
enabled = false

[steps.load-tests]
uses = "github-workflow"
repo = "{VIGIL}"
workflow = "{WORKFLOW}"
inputs = {{ RELEASE_VERSION = "{{version}}" }}
poll_every = "5m"

[steps.publish-notes]
uses = "publish-notes"
after = ["release-notes"]
repo = "{MANIFEST}"
""",
        database_url,
    )

    def thor(*args: str, now: str):  # type: ignore[no-untyped-def]
        result = run_thor("--config", config, *args, "--now", now)
        assert result.exit_code == 0, (args, now, result.stdout, result.stderr)
        return result

    def steps() -> dict[str, str]:
        status = thor("status", VERSION, "--json", now="2021-09-30T09:00").json()
        return {s["name"]: s["status"] for s in status["steps"]}

    # Feature freeze: branches cut, the workflow dispatched, the notes written and proposed.
    thor("tick", now="2021-09-10T09:00")
    expected = {
        "split-branch": "succeeded", "load-tests": "waiting", "release-notes": "succeeded",
        "publish-notes": "succeeded", "merge-stable": "pending", "announce": "pending",
    }  # fmt: skip
    assert {name: status for name, status in steps().items() if name in expected} == expected
    (run,) = github.runs_of(VIGIL, WORKFLOW)
    assert github.dispatches[0]["ref"] == BRANCH and github.dispatches[0]["inputs"]["RELEASE_VERSION"] == VERSION
    (pull,) = github.pulls_of(MANIFEST)
    branch = pull["head"]["ref"]
    published = ["git", "--git-dir", manifest, "show", f"{branch}:{NOTES}"]
    assert "Add data upload endpoint (#10)" in subprocess.run(published, capture_output=True, text=True).stdout

    github.set_run(run["id"], "in_progress")
    thor("tick", now="2021-09-10T09:06")
    assert steps()["load-tests"] == "waiting"
    github.set_run(run["id"], "completed", "success")
    thor("tick", now="2021-09-10T09:12")
    assert steps()["load-tests"] == "succeeded"

    # Code freeze: merged, tagged and announced.
    thor("tick", now="2021-09-24T09:00")
    assert set(steps().values()) <= {"succeeded", "skipped"}  # skipped: steps of services not configured
    fence = remotes["uc-cdis/fence"]
    assert g.tags(fence)[VERSION] == g.heads(fence)["stable"]

    # A fix after code freeze: cherry-picked onto stable, tagged 2021.09.1, in the notes and their pull request.
    fix = g.add_pr(fence, 12, "Fix the logout loop", files={"service/logout.py": "ok = 1\n"})
    done = thor("hotfix", VERSION, "--repo", "uc-cdis/fence", fix, now="2021-09-27T09:00")
    assert "tagged 2021.09.1" in done.stdout
    assert g.tags(fence)["2021.09.1"] == g.heads(fence)["stable"]
    thor("step", "publish-notes", VERSION, "--force", now="2021-09-27T09:05")
    assert "## Hotfix 2021.09.1: uc-cdis/fence" in subprocess.run(published, capture_output=True, text=True).stdout
    assert "Fix the logout loop (#12)" in thor("notes", VERSION, now="2021-09-27T09:05").stdout
    assert "hotfix 2021.09.1 in uc-cdis/fence" in (tmp_path / "messages.log").read_text()

    # Every outside effect once.
    assert len(github.dispatches) == 1 and len(github.runs_of(VIGIL, WORKFLOW)) == 1
    assert len(github.pulls_of(MANIFEST)) == 1 and github.count("POST", "/pulls") == 1
    assert "2021.09.2" not in g.tags(fence)
    assert github.token not in db_dump(database_url)
