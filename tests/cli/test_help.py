"""Help that teaches: whole summaries, real metavars, examples, the global options, ``-h``; and the two
argument orders of the steering commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import command, disabled, steps_toml


def _commands() -> list[list[str]]:
    import typer.main

    from thor_cli.cli import app

    root = typer.main.get_command(app)
    found: list[list[str]] = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(cmd, "commands", None)
        if subcommands:
            found.extend([name, sub] for sub in subcommands)
        else:
            found.append([name])
    return found


COMMANDS = _commands()


def test_every_command_is_covered() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {"status", "step", "retry", "release cancel", "db upgrade", "demo", "notes"} <= names


@pytest.mark.parametrize("width", ["80", "200"])
def test_the_command_list_shows_whole_summaries(run_thor, monkeypatch, width: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", width)
    text = run_thor("--help").stdout
    listing = text.split("Commands:")[1].split("Examples:")[0]
    rows = [line for line in listing.splitlines() if line.strip()]
    assert "..." not in listing
    assert len(rows) == len({c[0] for c in COMMANDS}), listing  # one line each: nothing folded
    assert all(len(line) <= int(width) for line in text.splitlines())


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_each_command_help_teaches(run_thor, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = run_thor(*args, "-h")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "Examples:" in text and f"thor {' '.join(args)}" in text.split("Examples:")[1]
    assert "Global options" in text
    for option in ("--config PATH", "--now ISO8601", "-v, --verbose", "-q, --quiet"):
        assert option in text, (option, text)
    assert "-h, --help" in text
    for placeholder in ("<str>", "<int", "{name}", "{version}", "range>"):
        assert placeholder not in text, (placeholder, text)
    assert run_thor(*args, "--help").stdout == text


def test_metavars_are_real_words(run_thor) -> None:  # type: ignore[no-untyped-def]
    assert "Usage: thor step [OPTIONS] STEP VERSION" in run_thor("step", "-h").stdout
    assert "Usage: thor retry [OPTIONS] VERSION STEP" in run_thor("retry", "-h").stdout
    assert "Usage: thor status [OPTIONS] [VERSION] [STEP]" in run_thor("status", "-h").stdout
    assert "--wait DURATION" in run_thor("tick", "-h").stdout
    assert "--months N" in run_thor("calendar", "-h").stdout


def test_step_force_says_it_runs_again(run_thor) -> None:  # type: ignore[no-untyped-def]
    force = run_thor("step", "-h").stdout.split("--force", 1)[1]
    assert re.search(r"Run it again", force)


# -- both argument orders ------------------------------------------------------------------------

STEPS = {name: command("true") for name in ("split-branch", "load-tests", "release-notes", "merge-stable")}
STEPS["load-tests"] = command("false", max_attempts=1)


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_thor):  # type: ignore[no-untyped-def]
    (tmp_path / "thor.toml").write_text(disabled() + steps_toml(STEPS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THOR_DATABASE_URL", f"sqlite:///{tmp_path / 'thor.db'}")
    monkeypatch.setenv("THOR_NOW", "2021-09-10T09:00")
    assert run_thor("tick").exit_code == 1  # load-tests failed
    return run_thor


def test_swapped_arguments_work_when_unambiguous(started) -> None:  # type: ignore[no-untyped-def]
    assert started("retry", "load-tests", "2021.09").exit_code == 0  # documented: VERSION STEP
    assert started("step", "2021.09", "load-tests").exit_code == 1  # documented: STEP VERSION; it runs, fails
    events = started("log", "2021.09", "load-tests", "--json").json()["events"]
    assert sum(1 for e in events if e["kind"] == "rearmed") == 1
    skip = started("skip", "load-tests", "2021.09", "--reason", "tested by hand")
    assert skip.exit_code == 0, skip.stderr
    steps = started("status", "2021.09", "--json").json()["steps"]
    assert next(s for s in steps if s["name"] == "load-tests")["status"] == "skipped"


def test_an_unknown_step_is_still_an_unknown_step(started) -> None:  # type: ignore[no-untyped-def]
    result = started("step", "2021.09", "nope")
    assert result.exit_code == 2 and "unknown step '2021.09'" in result.stderr
