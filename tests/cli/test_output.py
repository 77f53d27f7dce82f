"""What people see: tables at 80 and 200 columns, piped lines, details, times in the schedule's timezone,
per-repository results in full, and summaries that stay one short line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fakes import gitrepos as g
from tests.support import command, disabled, git_config, isolate_git, steps_toml

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG = "word " * 400  # a 2,000-character detail
STEPS = {
    "split-branch": command("true"),
    "load-tests": command("sh", "-c", f"echo {LONG}; exit 1", max_attempts=1),
    "release-notes": command("true"),
    "merge-stable": command("true"),
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_thor):  # type: ignore[no-untyped-def]
    """Release 2021.09 on America/Chicago time, its load tests failed with a very long detail."""
    schedule = '[schedule]\ntimezone = "America/Chicago"\n'
    (tmp_path / "thor.toml").write_text(schedule + disabled() + steps_toml(STEPS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THOR_DATABASE_URL", f"sqlite:///{tmp_path / 'thor.db'}")
    assert run_thor("tick", "--now", "2021-09-10T09:00").exit_code == 1
    return run_thor


def terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich's switch: draw for a terminal although captured
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("NO_COLOR", "1")


def lines_of(text: str) -> list[str]:
    return ANSI.sub("", text).splitlines()


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("args", [["steps"], ["status"], ["status", "2021.09"], ["calendar"], ["doctor"]])
def test_tables_fit_the_terminal_and_never_cut_names(project, monkeypatch, width: int, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    terminal(monkeypatch, width)
    result = project(*args, "--now", "2021-09-10T10:00")
    lines = lines_of(result.stdout)
    assert lines and all(len(line) <= width for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    for name in ("split-branch", "load-tests", "release-notes", "merge-stable"):
        if args[0] in ("steps", "status") and args[1:]:
            assert re.search(rf"│ {name} +│", text), (name, text)
    for fragment in ("Timeou ", "Attempt ", "releas ", "│ s "):
        assert fragment not in text, text


def test_steps_at_80_columns_keeps_identifiers_whole(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    terminal(monkeypatch, 80)
    text = "\n".join(lines_of(project("steps").stdout))
    for line in ("load-tests", "split-branch", "create-jira-release", "feature freeze"):
        assert line in text
    assert "branc\n" not in text and "-jira-" not in text.replace("create-jira-release", "")
    wide = "\n".join(lines_of(project("steps", "--now", "2021-09-10").stdout))
    assert "Retry after" not in text  # dropped at 80 columns ...
    terminal(monkeypatch, 200)
    wide = "\n".join(lines_of(project("steps").stdout))
    assert "Retry after" in wide and "Attempts" in wide  # ... shown at 200


def test_an_always_empty_codename_column_is_not_shown(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert "Codename" not in project("status").stdout
    assert "Codename" not in project("calendar").stdout
    terminal(monkeypatch, 200)
    assert "Codename" not in project("calendar").stdout


def test_a_long_detail_is_capped_with_a_pointer_to_the_full_text(project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    piped = project("status", "2021.09", "--now", "2021-09-10T10:00")
    assert all(len(line) <= 160 for line in piped.stdout.splitlines()), piped.stdout
    assert "…" in piped.stdout and "`thor status 2021.09 STEP` or `--json`" in piped.stdout
    terminal(monkeypatch, 80)
    table = lines_of(project("status", "2021.09", "--now", "2021-09-10T10:00").stdout)
    assert len(table) < 30, "\n".join(table)  # capped: not 2,000 characters folded into a column
    assert not any(re.search(r"\bwor\b|\bord\b", line) for line in table)  # folds between words
    full = project("status", "2021.09", "load-tests", "--now", "2021-09-10T10:00")
    assert full.exit_code == 0 and full.stdout.count("word") >= 400
    step = project("status", "2021.09", "load-tests", "--json").json()["step"]
    assert step["detail"].count("word") >= 400


def test_times_are_in_the_schedules_timezone_and_json_stays_utc(project) -> None:  # type: ignore[no-untyped-def]
    table = project("status", "2021.09", "--now", "2021-09-10T10:00").stdout
    assert "times America/Chicago" in table.splitlines()[0]
    assert "2021-09-10 09:00" in table and "14:00" not in table
    log = project("log", "2021.09").stdout
    assert "times America/Chicago" in log.splitlines()[0] and "2021-09-10 09:00" in log
    steps = project("status", "2021.09", "--json").json()["steps"]
    assert steps[0]["started_at"] == "2021-09-10T14:00:00+00:00"


def test_a_step_with_no_events_says_so(project) -> None:  # type: ignore[no-untyped-def]
    result = project("log", "2021.09", "merge-stable")
    assert result.exit_code == 0 and result.stdout.strip() == "2021.09: no events for merge-stable yet"


def test_a_blocked_release_says_what_really_blocks_merge_stable(project) -> None:  # type: ignore[no-untyped-def]
    steps = project("status", "2021.09", "--json", "--now", "2021-09-11").json()["steps"]
    detail = next(s for s in steps if s["name"] == "merge-stable")["detail"]
    assert detail == "blocked: load-tests failed (then waits for code freeze)"


def test_missed_starts_are_shown_in_status(tmp_path: Path, monkeypatch, run_thor) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "thor.toml").write_text(disabled() + steps_toml(STEPS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THOR_DATABASE_URL", f"sqlite:///{tmp_path / 'thor.db'}")
    assert run_thor("tick", "--now", "2021-09-20").exit_code == 1  # more than the grace days after the freeze
    status = run_thor("status", "--now", "2021-09-20")
    assert "No releases yet" not in status.stdout
    assert re.search(r"2021\.09 +missed start .*thor release start 2021\.09", status.stdout), status.stdout
    missed = run_thor("status", "--json", "--now", "2021-09-20").json()["missed_starts"]
    assert [m["version"] for m in missed] == ["2021.09"]


def test_contradicting_calendar_range_says_there_is_no_cycle(run_thor) -> None:  # type: ignore[no-untyped-def]
    result = run_thor("calendar", "--from", "1999-01")
    assert result.exit_code == 0
    assert result.stdout.startswith("No release cycle in 1999-01 to 1999-06; the next is 2000.01")
    assert "Version" not in result.stdout
    as_json = run_thor("calendar", "--from", "1999-01", "--json")
    assert as_json.json() == [] and "no release cycle in 1999-01" in as_json.stderr


# -- per-repository results, in full ---------------------------------------------------------------

REAL = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/sheepdog")
MISSING = tuple(f"uc-cdis/missing-{n:02d}" for n in range(40))


def test_every_repository_is_listed_from_the_database(tmp_path: Path, monkeypatch, run_thor) -> None:  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)
    for name in REAL:
        g.make_remote(tmp_path / "remotes", name)
    steps = disabled() + steps_toml({"split-branch": 'max_attempts = 1\nretry_after = "1m"\n'})
    config = git_config(tmp_path, (*MISSING, *REAL), steps)
    now = ("--now", "2021-09-10T09:00")
    assert run_thor("--config", config, "release", "start", "2021.09", *now).exit_code == 0
    assert run_thor("--config", config, "step", "split-branch", "2021.09", *now).exit_code == 1

    status = run_thor("--config", config, "status", "2021.09", *now).stdout
    row = next(line for line in status.splitlines() if line.startswith("split-branch"))
    assert len(row) <= 160 and re.search(r"40 of 43 repos", row), row  # one short summary line
    detail = run_thor("--config", config, "status", "2021.09", "--json").json()["steps"][0]["detail"]
    # The same failure of 40 repositories is said once, with its count: not a 6 KB list of them.
    assert re.fullmatch(r"40 of 43 repos failed: ls-remote failed: .*\{repo\}.* \(40 repos: .* and 37 more\)", detail)
    assert len(detail) < 300

    log = run_thor("--config", config, "log", "2021.09", "split-branch", *now)
    assert log.exit_code == 0
    for name in (*MISSING, *REAL):  # the first repositories too, and every success
        assert re.search(rf"^{re.escape(name)} +(failed|succeeded)", log.stdout, re.M), name
    repos = run_thor("--config", config, "log", "2021.09", "split-branch", "--json").json()["repos"]
    assert len(repos["split-branch"]) == 43
    assert {r["status"] for r in repos["split-branch"] if r["repo"] in REAL} == {"succeeded"}
    one = run_thor("--config", config, "status", "2021.09", "split-branch", "--json").json()
    assert len(one["repos"]) == 43


def test_a_long_log_on_a_terminal_goes_through_the_pager(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    paged = tmp_path / "paged.txt"
    leader, follower = os.openpty()  # a real terminal for the child: the pager is for people, not pipes
    env = {**os.environ, "PAGER": f"cat > {paged}", "LINES": "5", "COLUMNS": "80"}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "thor_cli", "log", "2021.09"],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert child.returncode == 0
    text = paged.read_text()
    assert text.startswith("2021.09 event log (times America/Chicago)") and "load-tests [failed]" in text
    piped = project("log", "2021.09").stdout  # piped: printed as is, no pager
    assert piped == text
