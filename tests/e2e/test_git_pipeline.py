"""The default pipeline's git steps driven by ``thor tick`` through a month, on SQLite and PostgreSQL.

JIRA steps and the announcement are disabled; the load tests are a ``command`` step running ``true``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import gitrepos as g
from tests.fakes.gitrepos import DEFAULT_HISTORY, Tag
from tests.support import command, disabled, git_config, isolate_git, steps_toml

VERSION = "2021.09"  # feature freeze Fri 2021-09-10, code freeze Fri 2021-09-24
BRANCH = "integration202109"
NAMES = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/sheepdog", "uc-cdis/peregrine")
# The JIRA and Slack steps are off; the load tests are a command step running `true`.
PIPELINE = disabled() + steps_toml({"load-tests": command("true")})


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


def test_a_month_of_git_steps(run_thor, tmp_path: Path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "remotes"
    remotes = {
        name: g.make_remote(root, name, history=[*DEFAULT_HISTORY, Tag("2021.08", "Gen3 Core Release 2021.08")])
        for name in NAMES
    }
    fence, peregrine = remotes["uc-cdis/fence"], remotes["uc-cdis/peregrine"]
    g.add_pr(fence, 10, "Add data upload endpoint")
    g.add_pr(fence, 11, "Fix pagination", squash=True)
    config = git_config(tmp_path, NAMES, PIPELINE, database_url)
    notes_file = tmp_path / "release-notes" / f"{VERSION}.md"

    def thor(*args: str):  # type: ignore[no-untyped-def]
        return run_thor("--config", config, *args)

    def steps() -> dict[str, dict]:
        return {s["name"]: s for s in thor("status", VERSION, "--json").json()["steps"]}

    # Feature freeze: one repository refuses pushes. Only it fails; the step will be retried.
    g.reject_pushes(peregrine, "pushes to uc-cdis/peregrine are frozen")
    first = thor("tick", "--now", "2021-09-10T06:00")
    assert first.exit_code == 0, (first.stdout, first.stderr)
    split = steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("pending", 1)
    assert "1 of 4 repos failed: uc-cdis/peregrine: push of integration202109 rejected" in split["detail"]
    assert BRANCH not in g.heads(peregrine)
    cut = {name: g.heads(remote).get(BRANCH) for name, remote in remotes.items() if remote != peregrine}
    assert cut == {name: g.heads(remotes[name])["master"] for name in cut}
    assert steps()["load-tests"]["status"] == steps()["release-notes"]["status"] == "pending"
    assert not notes_file.exists()

    # Pushes allowed again: `thor retry` and the next tick finish it without touching the others.
    g.allow_pushes(peregrine)
    others = {name: g.all_refs(remotes[name]) for name in cut}
    assert thor("retry", VERSION, "split-branch").exit_code == 0
    second = thor("tick", "--now", "2021-09-10T06:05")
    assert second.exit_code == 0, (second.stdout, second.stderr)
    after = steps()
    assert {name: s["status"] for name, s in after.items()} == {
        "split-branch": "succeeded", "load-tests": "succeeded", "release-notes": "succeeded",
        "merge-stable": "pending",
    }  # fmt: skip
    assert after["split-branch"]["detail"] == "4 repos: 1 created, 3 done on an earlier attempt"
    assert {name: g.all_refs(remotes[name]) for name in cut} == others
    assert g.heads(peregrine)[BRANCH] == g.heads(peregrine)["master"]
    notes = notes_file.read_text()
    assert "Pull requests merged into `integration202109` since the previous release (2021.08), in 4 " in notes
    assert "- Fix pagination (#11)\n- Add data upload endpoint (#10)\n" in notes
    assert after["release-notes"]["link"] == str(notes_file)
    assert thor("notes", VERSION).stdout == notes

    # A day in between: nothing is due, and tick says nothing.
    quiet = thor("tick", "--now", "2021-09-15T06:00")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")

    # Code freeze: merged into stable (created here) and tagged everywhere.
    last = thor("tick", "--now", "2021-09-24T06:00")
    assert last.exit_code == 0, (last.stdout, last.stderr)
    merge = steps()["merge-stable"]
    assert (merge["status"], merge["detail"]) == (
        "succeeded",
        "4 repos merged and tagged 2021.09: 4 stable created",
    )
    for name, remote in remotes.items():
        heads, tags = g.heads(remote), g.tags(remote)
        assert heads["stable"] == heads[BRANCH] == tags[VERSION], name
    status = thor("status", "--json").json()["releases"][0]
    assert (status["version"], status["status"]) == (VERSION, "released")
