"""``thor hotfix``: cherry-picks onto stable and a new tag, against real bare repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import gitrepos as g
from tests.support import SERVICE_STEPS, disabled, git_config, isolate_git, query

VERSION = "2021.09"
NAME = "uc-cdis/fence"
AFTER = "2021-09-27T09:00"  # after code freeze
QUIET = disabled(*SERVICE_STEPS, "load-tests") + '\n[notify]\nfile = "messages.log"\n'


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


class Thor:
    """Release 2021.09 started and released: ``stable`` and tag ``2021.09`` at master; fixes merged after."""

    def __init__(self, run_thor, tmp_path: Path, database_url: str, extra: str = "") -> None:  # type: ignore[no-untyped-def]
        self.run_thor, self.database_url, self.tmp_path = run_thor, database_url, tmp_path
        self.remote = g.make_remote(tmp_path / "remotes", NAME)
        released = g.heads(self.remote)["master"]
        g.set_ref(self.remote, "stable", released)
        g.tag(self.remote, VERSION, released, "Gen3 2021.09")
        self.config = git_config(tmp_path, [NAME], f"{extra}\n{QUIET}", database_url)
        assert self("release", "start", VERSION).exit_code == 0
        self.merge_pr = g.add_pr(self.remote, 10, "Fix login redirect", files={"service/login.py": "fixed = True\n"})
        self.squash = g.add_pr(
            self.remote, 11, "Guard token expiry", squash=True, files={"service/auth.py": "def refresh(t):\n    ...\n"}
        )

    def __call__(self, *args: str, now: str = AFTER):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args, "--now", now)

    def hotfix(self, *commits: str, flags: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
        return self("hotfix", VERSION, "--repo", NAME, *commits, *flags)

    def events(self) -> list[str]:
        rows = query(self.database_url, "SELECT message FROM thor_event WHERE kind = 'hotfix' ORDER BY id")
        return [r.message for r in rows]

    def messages(self) -> str:
        path = self.tmp_path / "messages.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture
def thor(run_thor, tmp_path):  # type: ignore[no-untyped-def]
    return Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}")


def test_cherry_picks_tags_records_and_a_rerun_changes_nothing(run_thor, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path, database_url)
    remote = thor.remote
    before = g.heads(remote)["stable"]

    result = thor.hotfix(thor.merge_pr, thor.squash[:10])  # an abbreviated SHA is found on the branches
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.splitlines()[0] == f"{NAME} stable: cherry-picked 2 commits, tagged 2021.09.1"
    stable = g.heads(remote)["stable"]
    first = g.parents(remote, stable)[0]
    assert g.parents(remote, first) == [before]  # linear: one commit per pick, no merge commits
    assert g.message(remote, first).endswith(f"(cherry picked from commit {thor.merge_pr})")
    assert g.message(remote, stable).endswith(f"(cherry picked from commit {thor.squash})")
    assert g.git("-C", remote, "log", "-1", "--format=%an <%ae>", stable) == "Gen3 Developer <dev@example.org>"
    assert g.git("-C", remote, "show", f"{stable}:service/login.py") == "fixed = True"
    assert g.tags(remote)["2021.09.1"] == stable
    assert g.git("-C", remote, "cat-file", "-t", "2021.09.1") == "tag"  # annotated
    assert g.tags(remote)[VERSION] == before  # the release tag never moves

    assert thor.events() == [f"hotfix 2021.09.1 in {NAME}: 2 commits cherry-picked onto stable "
                             f"({before[:12]} → {stable[:12]})"]  # fmt: skip
    status = thor("status", VERSION, "--json").json()
    assert [h["message"] for h in status["hotfixes"]] == thor.events()
    assert "hotfix 2021.09.1" in thor("status", VERSION).stdout
    assert f"{VERSION} hotfix 2021.09.1 in {NAME}" in thor.messages()
    notes = (tmp_path / "release-notes" / f"{VERSION}.md").read_text()
    assert "## Hotfix 2021.09.1: uc-cdis/fence" in notes
    assert "- Fix login redirect (#10)" in notes and "- Guard token expiry (#11)" in notes
    assert "## Hotfix 2021.09.1" in thor("notes", VERSION).stdout

    refs = g.all_refs(remote)
    g.reject_pushes(remote)  # a re-run must not even try
    again = thor.hotfix(thor.merge_pr, thor.squash)
    assert again.exit_code == 0, (again.stdout, again.stderr)
    assert again.stdout.splitlines()[0] == f"{NAME} stable: every commit is already there; nothing changed"
    assert "already on stable (cherry-picked as" in again.stdout
    assert g.all_refs(remote) == refs
    assert len(thor.events()) == 1
    g.allow_pushes(remote)

    later = g.add_pr(remote, 12, "Fix upload size", files={"service/upload.py": "LIMIT = 10\n"})
    third = thor.hotfix(later)
    assert third.exit_code == 0, (third.stdout, third.stderr)
    assert g.tags(remote)["2021.09.2"] == g.heads(remote)["stable"]
    assert g.tags(remote)["2021.09.1"] == stable


def test_a_conflict_changes_nothing_and_names_the_files(thor: Thor) -> None:
    remote = thor.remote
    g.commit_on(remote, "stable", {"service/login.py": "emergency = True\n"}, "Emergency login patch")
    refs = g.all_refs(remote)

    result = thor.hotfix(thor.squash, thor.merge_pr)
    assert result.exit_code == 1
    assert "conflicts with stable in: service/login.py; nothing was changed" in result.stderr
    assert thor.merge_pr[:12] in result.stderr
    assert g.all_refs(remote) == refs
    assert thor.events() == []


def test_dry_run_shows_the_plan_and_writes_nothing(thor: Thor) -> None:
    refs = g.all_refs(thor.remote)
    result = thor.hotfix(thor.merge_pr, flags=("--dry-run",))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{NAME} stable: would cherry-pick 1 commit and tag 2021.09.1"
    assert "Merge pull request #10" in result.stdout
    assert g.all_refs(thor.remote) == refs
    assert thor.events() == []
    assert not (thor.tmp_path / "release-notes").exists()


def test_a_change_picked_by_hand_is_recognised_by_its_patch_id(thor: Thor) -> None:
    # Someone applied the squash commit's change to stable by hand, without the trailer.
    g.commit_on(thor.remote, "stable", {"service/auth.py": "def refresh(t):\n    ...\n"}, "Guard token expiry")
    refs = g.all_refs(thor.remote)
    result = thor.hotfix(thor.squash)
    assert result.exit_code == 0, result.stderr
    assert "already on stable (same change as" in result.stdout
    assert g.all_refs(thor.remote) == refs


def test_a_push_whose_recording_was_lost_is_recorded_by_the_rerun(thor: Thor) -> None:
    from thor_cli.adapters.git_cherry import cherry_pick

    # What a `thor hotfix` killed between its push and its database write leaves behind.
    url = g.file_url(thor.remote)
    pushed = cherry_pick(url, "stable", [thor.merge_pr], tag=lambda plan: ("2021.09.1", "Gen3 2021.09 hotfix 1"))
    assert pushed.pushed and thor.events() == []

    result = thor.hotfix(thor.merge_pr)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{NAME} stable: hotfix 2021.09.1 was already pushed; recorded it now"
    assert thor.events()[0].startswith(f"hotfix 2021.09.1 in {NAME}: 1 commit")
    again = thor.hotfix(thor.merge_pr)
    assert again.stdout.splitlines()[0] == f"{NAME} stable: every commit is already there; nothing changed"
    assert len(thor.events()) == 1


def test_the_next_number_skips_existing_tags_and_never_moves_one(thor: Thor) -> None:
    g.tag(thor.remote, "2021.09.1", g.heads(thor.remote)["stable"], "made by hand")
    g.tag(thor.remote, "2021.09.3", g.heads(thor.remote)["stable"], "made by hand")
    result = thor.hotfix(thor.merge_pr)
    assert result.exit_code == 0, result.stderr
    tags = g.tags(thor.remote)
    assert tags["2021.09.4"] == g.heads(thor.remote)["stable"]
    assert tags["2021.09.1"] == tags["2021.09.3"] == tags[VERSION]


def test_bad_input_is_one_line_and_exit_2(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", '[hotfix]\ntag = "{version}-hotfix"\n')
    refs = g.all_refs(thor.remote)
    for args, expected in (
        (("hotfix", VERSION, "--repo", "uc-cdis/nope", thor.merge_pr), "repository 'uc-cdis/nope' is not in [repos]"),
        (("hotfix", VERSION, "--repo", NAME, thor.merge_pr), "must contain {n}"),
        (("hotfix", "2021.13", "--repo", NAME, thor.merge_pr), "2021.13"),
    ):
        result = thor(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith("thor: ") and expected in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert g.all_refs(thor.remote) == refs


def test_stable_moving_during_the_push_changes_nothing_and_the_rerun_picks_onto_it(thor: Thor) -> None:
    remote = thor.remote
    stable = g.heads(remote)["stable"]
    other = g.commit_on(remote, "someone-else", {"NOTICE": "pushed by hand\n"}, "Notice", start="origin/stable")
    # The named point: our push has been received, and before git updates the refs someone moves stable.
    hook = remote / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(
        "#!/bin/sh\n"
        f'[ -e "{remote}/moved" ] && exit 0\ntouch "{remote}/moved"\n'
        f"env -u GIT_QUARANTINE_PATH git --git-dir={remote} update-ref refs/heads/stable {other} {stable}\n"
    )
    hook.chmod(0o755)

    result = thor.hotfix(thor.merge_pr)
    assert result.exit_code == 1
    assert f"stable moved from {stable[:12]} to {other[:12]} meanwhile; nothing was changed" in result.stderr
    assert g.heads(remote)["stable"] == other and "2021.09.1" not in g.tags(remote)  # atomic: no tag either
    assert thor.events() == []

    again = thor.hotfix(thor.merge_pr)
    assert again.exit_code == 0, again.stderr
    assert g.parents(remote, g.heads(remote)["stable"]) == [other]
    assert g.tags(remote)["2021.09.1"] == g.heads(remote)["stable"]
