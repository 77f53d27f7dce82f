"""`thor demo`: a whole release cycle in a sandbox, kept with --dir or thrown away."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from tests.fakes.gitrepos import git, heads, parents, tags
from thor_cli.demo.sandbox import REPOS

VERSION = "2021.09"
NAMES = [f"uc-cdis/{plan.name}" for plan in REPOS]


def remote(root: Path, name: str) -> Path:
    return root / "remotes" / f"{name}.git"


def test_demo_releases_2021_09_in_a_kept_sandbox(run_thor, tmp_path, monkeypatch):
    elsewhere = tmp_path / "production.db"
    monkeypatch.setenv("THOR_DATABASE_URL", f"sqlite:///{elsewhere}")  # the demo must not write there
    root = tmp_path / "thor-demo"

    result = run_thor("demo", "--dir", root)

    assert result.exit_code == 0, result.stdout + result.stderr
    for header in ("Feature freeze: Fri 2021-09-10", "A day between", "Code freeze: Fri 2021-09-24"):
        assert header in result.stdout
    assert "(nothing printed: nothing was due)" in result.stdout
    assert f"thor --config {root / 'thor.toml'} status {VERSION}" in result.stdout
    assert not elsewhere.exists()
    assert (root / "thor.db").is_file()

    monkeypatch.delenv("THOR_DATABASE_URL")
    status = run_thor("--config", root / "thor.toml", "status", VERSION, "--json").json()
    assert status["status"] == "released"
    steps = {step["name"]: step["status"] for step in status["steps"]}
    assert "create-jira-release" not in steps and "mark-released" not in steps  # disabled: no JIRA here
    assert set(steps.values()) == {"succeeded"}

    for name in NAMES:
        repo = remote(root, name)
        branches = heads(repo)
        assert "integration202109" in branches, name
        assert tags(repo)[VERSION] == branches["stable"], name
        integration, stable = branches["integration202109"], branches["stable"]
        git("--git-dir", repo, "merge-base", "--is-ancestor", integration, stable)  # fails if not

    assert len(parents(remote(root, "uc-cdis/fence"), "stable")) == 2  # a hotfix on stable: a real merge

    notes = (root / "release-notes" / f"{VERSION}.md").read_text()
    for number in (944, 947, 952, 309, 312, 3527):  # merged since 2021.08, both ways
        assert str(number) in notes
    assert "923" not in notes  # released in 2021.08

    # The release board: written by the ticks ([report] dir) and, last, by `thor report`, which names it.
    board = root / "report" / "index.html"
    assert f"report written to {board}" in result.stdout
    assert "2021.09" in board.read_text() and "released" in (root / "report" / "releases" / "2021.09.html").read_text()

    messages = (root / "slack-messages.log").read_text()
    assert re.search(rf"^\[broadcast\] Gen3 release {VERSION} is out", messages, re.MULTILINE), messages

    # The environments: ci moved to the integration branch, qa merged, staging declined, on the GitOps repo.
    for header in ("The CI environment: Fri 2021-09-10, 10:00", "Release day: Fri 2021-09-24, 14:00"):
        assert header in result.stdout
    gitops = remote(root, "uc-cdis/gen3-gitops")
    assert {"thor/integration202109/ci", "thor/2021.09/qa", "thor/2021.09/staging"} <= set(heads(gitops))
    values = git("--git-dir", gitops, "show", "thor/2021.09/qa:qa/values/values.yaml")
    assert 'tag: "2021.09"   # moved by each release' in values and 'tag: "2021.06"' in values  # sheepdog is off
    envs = {e["name"]: e for e in run_thor("--config", root / "thor.toml", "envs", "--json").json()["environments"]}
    assert {name: env["release"] for name, env in envs.items()} == {"ci": VERSION, "qa": VERSION, "staging": None}
    assert [r["status"] for r in envs["staging"]["rollouts"]] == ["declined"]
    assert "qa is on 2021.09" in messages and "staging declined 2021.09" in messages


def test_setup_only_rebuilds_a_previous_sandbox_from_scratch(run_thor, tmp_path):
    root = tmp_path / "thor-demo"
    assert run_thor("demo", "--dir", root, "--setup-only").exit_code == 0
    first = {name: heads(remote(root, name)) for name in NAMES}
    assert all("integration202109" not in branches for branches in first.values())
    config = root / "thor.toml"
    assert run_thor("--config", config, "release", "start", VERSION, "--now", "2021-09-10").exit_code == 0
    assert run_thor("--config", config, "step", "split-branch", VERSION, "--now", "2021-09-10").exit_code == 0
    (root / "my-notes.txt").write_text("mine\n")
    assert run_thor("--config", config, "report").exit_code == 0  # the board, from [report] dir
    assert (root / "report").is_symlink()

    result = run_thor("demo", "--dir", root, "--setup-only")

    assert not (root / "report").exists() and not list(root.glob(".report.*"))  # the board went with the rest

    assert result.exit_code == 0, result.stderr
    assert "tick --now 2021-09-10T09:00 --dry-run" in result.stdout
    assert (root / "my-notes.txt").read_text() == "mine\n"  # only the sandbox's own files are replaced
    assert {name: heads(remote(root, name)) for name in NAMES} == first  # same history, same commit ids
    assert "No releases yet" in run_thor("--config", config, "status").stdout


@pytest.mark.parametrize("kind", ["not-a-sandbox", "a-file"])
def test_refuses_a_directory_that_is_not_a_sandbox(run_thor, tmp_path, kind):
    target = tmp_path / "target"
    if kind == "a-file":
        target.write_text("x")
    else:
        target.mkdir()
        (target / "thor.toml").write_text("# someone's real configuration\n")

    result = run_thor("demo", "--dir", target)

    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
    if kind == "not-a-sandbox":
        assert sorted(p.name for p in target.iterdir()) == ["thor.toml"]


def test_setup_only_needs_a_directory(run_thor):
    result = run_thor("demo", "--setup-only")
    assert result.exit_code == 2
    assert "--setup-only needs --dir" in result.stderr


def test_throwaway_sandbox_is_removed(run_thor, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)  # documented: None makes tempfile read $TMPDIR again

    done = run_thor("demo")

    assert done.exit_code == 0, done.stdout + done.stderr
    match = re.search(r"^Sandbox: (\S+) \(deleted at the end", done.stdout, re.MULTILINE)
    assert match, done.stdout
    assert Path(match[1]).parent == scratch
    assert not Path(match[1]).exists()
    assert list(scratch.iterdir()) == []
    assert "slack> Gen3 release 2021.09 is out" in done.stderr


def test_exits_1_when_the_release_is_not_released(run_thor, tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_LOAD_TESTS_FAIL", "1")  # the sandbox's load-test script then fails

    result = run_thor("demo", "--dir", tmp_path / "thor-demo")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert "thor exited 1: skipping to the release's status" in result.stdout
    assert "did not reach 'released' (it is blocked)" in result.stdout
    assert "load-tests failed" in result.stderr
