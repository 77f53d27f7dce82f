"""One exit-code rule, checked against every command: 0 OK, 1 a step failed or a release is blocked, 2 a bad
request (bad input, bad configuration, or a request the state refuses), 3 unreachable. Refusals are one line."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from tests.support import command, disabled, steps_toml

STEPS = {
    "split-branch": command("true"),
    "load-tests": command("true"),
    "release-notes": command("true"),
    "merge-stable": command("true"),
    "qa-sign-off": 'uses = "gate"\nafter = ["merge-stable"]\n',
}
FAILING = {**STEPS, "load-tests": command("false", max_attempts=1)}


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps: dict[str, str]) -> None:
    (tmp_path / "thor.toml").write_text(disabled() + steps_toml(steps))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THOR_DATABASE_URL", f"sqlite:///{tmp_path / 'thor.db'}")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: 2021.09 released (its gate approved), 2021.10 cancelled before it began."""
    from thor_cli.cli import main

    root = tmp_path_factory.mktemp("states")
    config = root / "thor.toml"
    config.write_text(disabled() + steps_toml(STEPS) + f'\n[database]\nurl = "sqlite:///{root / "thor.db"}"\n')
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for args in (
            ["tick", "--now", "2021-09-10"],
            ["tick", "--now", "2021-09-24"],
            ["approve", "2021.09", "qa-sign-off", "--now", "2021-09-24"],
            ["release", "cancel", "2021.10", "--now", "2021-09-24"],
        ):
            assert main(["--config", str(config), *args]) == 0, args
    return root


@pytest.fixture
def states(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_thor):  # type: ignore[no-untyped-def]
    """A copy of the template's database for each test (tests may change it)."""
    shutil.copy(template / "thor.db", tmp_path / "thor.db")
    _project(tmp_path, monkeypatch, STEPS)
    return run_thor


# (command, expected exit code, a piece of the one-line message)
REFUSALS = [
    (["retry", "2021.09", "split-branch"], "already succeeded"),
    (["skip", "2021.09", "split-branch", "--reason", "x"], "already succeeded"),
    (["approve", "2021.09", "split-branch"], "not a gate"),
    (["release", "cancel", "2021.09"], "already released"),
    (["release", "reschedule", "2021.10", "--feature-freeze", "2021-10-01", "--code-freeze", "2021-10-15"], "2021.10"),
    (["step", "split-branch", "2021.10"], "cancelled"),
    (["step", "nope", "2021.09"], "unknown step"),
    (["status", "2021.9"], "did you mean 2021.09?"),
    (["calendar", "--json", "--ics"], "contradict"),
    (["-v", "-q", "status"], "contradict"),
    (["status", "-v", "-q"], "contradict"),
    (["skip", "2021.09", "load-tests"], "--reason"),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS, ids=[" ".join(a[:3]) for a, _ in REFUSALS])
def test_every_refusal_is_exit_2_with_one_line(states, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = states(*args, "--now", "2021-09-25")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thor: ") and "Traceback" not in result.stderr, result.stderr
    assert message in lines[0]


def test_a_missing_option_points_at_the_commands_own_help(states) -> None:  # type: ignore[no-untyped-def]
    result = states("skip", "2021.09", "load-tests")
    assert result.exit_code == 2
    assert "(see `thor skip --help`)" in result.stderr
    result = states("release", "reschedule", "2021.10", "--feature-freeze", "2021-10-01")
    assert result.exit_code == 2 and "(see `thor release reschedule --help`)" in result.stderr


OK = [
    ["calendar"],
    ["status"],
    ["status", "2021.09"],
    ["status", "2021.09", "split-branch"],
    ["log", "2021.09"],
    ["steps"],
    ["tick"],
    ["tick", "--dry-run"],
    ["step", "split-branch", "2021.09"],  # already succeeded: says so, runs nothing
    ["release", "start", "2021.10"],  # reopens the cancelled one
]


@pytest.mark.parametrize("args", OK, ids=[" ".join(a) for a in OK])
def test_what_succeeds_is_exit_0(states, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = states(*args, "--now", "2021-09-25")
    assert result.exit_code == 0, (result.stdout, result.stderr)


def test_a_failed_step_and_a_blocked_release_are_exit_1(tmp_path: Path, monkeypatch, run_thor) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path, monkeypatch, FAILING)
    tick = run_thor("tick", "--now", "2021-09-10")
    assert tick.exit_code == 1
    # The hint carries the real version, not a placeholder.
    assert "see `thor status 2021.09`" in tick.stderr and "VERSION" not in tick.stderr
    assert run_thor("step", "load-tests", "2021.09", "--now", "2021-09-10").exit_code == 1
    assert run_thor("tick", "--now", "2021-09-11").exit_code == 1  # still blocked
    # Retrying a failed step is allowed; the refusal rule does not touch it.
    assert run_thor("retry", "2021.09", "load-tests", "--now", "2021-09-11").exit_code == 0
