"""The command line: exit codes, one-line errors, JSON shapes, the iCalendar feed, both database backends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import STEP_NAMES, command, disabled, steps_toml
from thor_cli import __version__
from thor_cli.store.schema import HEAD_REVISION

# The JIRA and Slack steps are off; the git steps are command steps, and the release notes fail once for all.
COMMAND_STEPS = {
    "split-branch": command("true"),
    "load-tests": command("true"),
    "release-notes": command("sh", "-c", "echo notes for {version}; exit 1", max_attempts=1),
    "merge-stable": command("true"),
}
COMMAND_PIPELINE = disabled() + steps_toml(COMMAND_STEPS)

CONFIG_ERRORS = {
    "unknown key": ("[schedule]\nbogus = 1\n", "schedule.bogus"),
    "bad rrule": ('[schedule]\nfeature_freeze = "FREQ=SOMETIMES"\n', "schedule.feature_freeze"),
    "unknown timezone": ('[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone"),
    "malformed toml": ("[schedule\ntimezone = 1\n", "invalid TOML"),
    "bad duration": ('[steps.split-branch]\ntimeout = "5 parsecs"\n', "steps.split-branch.timeout"),
    "unknown step type": ('[steps.x]\nuses = "teleport"\n', "steps.x.uses"),
    "cycle": (
        '[steps.a]\nuses = "command"\nrun = ["true"]\nafter = ["b"]\n'
        '[steps.b]\nuses = "command"\nrun = ["true"]\nafter = ["a"]\n',
        "dependency cycle a -> b -> a",
    ),
    "unknown dependency": (
        '[steps.a]\nuses = "command"\nrun = ["true"]\nafter = ["nope"]\n',
        "steps.a.after",
    ),
    "bad step option": ('[steps.a]\nuses = "command"\nrun = ["true"]\nshell = true\n', "steps.a.shell"),
    "bad placeholder": ('[steps.a]\nuses = "command"\nrun = ["echo {nope}"]\n', "{nope}"),
    "missing codenames": ('[schedule]\ncodenames = "missing.csv"\n', "schedule.codenames"),
}
COMMANDS = {
    "status": ["status"],
    "status-version": ["status", "2021.09", "--json"],
    "tick": ["tick", "--now", "2021-09-10"],
    "dry-run": ["tick", "--dry-run", "--now", "2021-09-10"],
    "release-start": ["release", "start", "2021.09"],
    "release-cancel": ["release", "cancel", "2021.09"],
    "step": ["step", "split-branch", "2021.09"],
    "db-upgrade": ["db", "upgrade"],
    # Every command checks the same configuration the same way (`steps` passed a missing codenames file).
    "steps": ["steps"],
    "calendar": ["calendar"],
    "log": ["log", "2021.09"],
    "notes": ["notes", "2021.09"],
}


@pytest.fixture
def default_db(isolated_env: Path) -> Path:
    return isolated_env / ".local" / "share" / "thor" / "thor.db"


def _in_project(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, run_thor):  # type: ignore[no-untyped-def]
    (tmp_path / "thor.toml").write_text(COMMAND_PIPELINE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THOR_DATABASE_URL", url)
    return run_thor


@pytest.fixture
def cli(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, run_thor):  # type: ignore[no-untyped-def]
    """run_thor in a directory whose thor.toml has command steps, on each backend."""
    return _in_project(tmp_path, database_url, monkeypatch, run_thor)


@pytest.fixture
def cli_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_thor):  # type: ignore[no-untyped-def]
    """The same on SQLite only, for checks that do not depend on the backend."""
    return _in_project(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", monkeypatch, run_thor)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("thor: ")
    return lines[0]


def test_version(run_thor) -> None:  # type: ignore[no-untyped-def]
    result = run_thor("--version")
    assert (result.exit_code, result.stdout.strip()) == (0, f"thor {__version__}")


# --- calendar ---------------------------------------------------------------------------------------------


def test_calendar_json(run_thor, default_db: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_thor("calendar", "--json", "--from", "2021-09", "--months", "3")
    assert result.exit_code == 0, result.stderr
    cycles = result.json()
    assert [(c["version"], c["codename"], c["feature_freeze"], c["code_freeze"]) for c in cycles] == [
        ("2021.09", None, "2021-09-10", "2021-09-24"),
        ("2021.10", None, "2021-10-08", "2021-10-22"),
        ("2021.11", None, "2021-11-12", "2021-11-26"),
    ]
    assert {"version", "codename", "feature_freeze", "code_freeze"} <= set(cycles[0])
    assert not default_db.exists()  # the calendar needs no database


def test_calendar_starts_with_the_current_month_of_the_clock(run_thor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    default = run_thor("calendar", "--json", "--now", "2021-12-20")
    assert [c["version"] for c in default.json()] == [
        "2021.12",
        "2022.01",
        "2022.02",
        "2022.03",
        "2022.04",
        "2022.05",
    ]
    monkeypatch.setenv("THOR_NOW", "2021-12-27T12:00")
    from_env = run_thor("calendar", "--json", "--months", "2")
    assert [(c["version"], c["next"]) for c in from_env.json()] == [("2021.12", False), ("2022.01", True)]
    assert [c["phase"] for c in from_env.json()] == ["past", "upcoming"]
    flag_first = run_thor("--now", "2021-09-15", "calendar", "--json", "--months", "1")
    assert flag_first.json()[0]["phase"] == "in progress"


def test_calendar_table_and_codenames(run_thor, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "names.csv").write_text("version,name\n# comment\n2021.09,Cobaltite\n\n2021.10, Dolomite \n")
    (tmp_path / "thor.toml").write_text('[schedule]\ncodenames = "names.csv"\ntimezone = "America/Chicago"\n')
    monkeypatch.chdir(tmp_path)
    table = run_thor("calendar", "--from", "2021-09", "--months", "2", "--now", "2021-09-01")
    assert table.exit_code == 0
    assert re.search(r"2021\.09\s+Cobaltite\s+Fri 2021-09-10\s+Fri 2021-09-24\s+integration202109", table.stdout)
    assert "America/Chicago" in table.stdout and "next" in table.stdout
    data = run_thor("calendar", "--json", "--from", "2021-09", "--months", "2").json()
    assert [c["codename"] for c in data] == ["Cobaltite", "Dolomite"]


def test_calendar_with_a_biweekly_cadence_from_the_config(run_thor, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "thor.toml").write_text(
        "[schedule]\n"
        'feature_freeze = "DTSTART:20210903T000000\\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"\n'
        'code_freeze = "DTSTART:20210909T000000\\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"\n'
        'version = "{feature_freeze:%Y.%m.%d}"\n'
        'integration_branch = "release-{feature_freeze:%Y%m%d}"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = run_thor("calendar", "--json", "--from", "2021-09", "--months", "1")
    assert result.exit_code == 0, result.stderr
    assert [(c["version"], c["feature_freeze"], c["code_freeze"], c["integration_branch"]) for c in result.json()] == [
        ("2021.09.03", "2021-09-03", "2021-09-09", "release-20210903"),
        ("2021.09.17", "2021-09-17", "2021-09-23", "release-20210917"),
    ]
    assert run_thor("db", "upgrade").exit_code == 0
    assert run_thor("status", "2021.09.17", "--json").exit_code == 2  # a real version, not started
    assert "no release cycle" in run_thor("status", "2021.09.10").stderr


def test_calendar_ics(run_thor) -> None:  # type: ignore[no-untyped-def]
    first = run_thor("calendar", "--ics", "--from", "2021-09", "--months", "2", "--now", "2021-08-01T12:00Z")
    second = run_thor("calendar", "--ics", "--from", "2021-09", "--months", "2", "--now", "2021-08-02")
    assert first.exit_code == second.exit_code == 0
    text = first.stdout
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every line ends in CRLF
    raw_lines = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in raw_lines)
    lines = "\r\n".join(raw_lines).replace("\r\n ", "").split("\r\n")  # unfold
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 4
    uids = [line for line in lines if line.startswith("UID:")]
    assert len(set(uids)) == 4
    assert uids == [line for line in second.stdout.replace("\r\n ", "").split("\r\n") if line.startswith("UID:")]
    assert "DTSTAMP:20210801T120000Z" in lines
    assert all(re.fullmatch(r"DTSTAMP:\d{8}T\d{6}Z", line) for line in lines if line.startswith("DTSTAMP"))
    assert [line for line in lines if line.startswith("DTSTART")] == [
        "DTSTART;VALUE=DATE:20210910",
        "DTSTART;VALUE=DATE:20210924",
        "DTSTART;VALUE=DATE:20211008",
        "DTSTART;VALUE=DATE:20211022",
    ]
    assert "DTEND;VALUE=DATE:20210911" in lines
    assert "SUMMARY:Feature freeze 2021.09" in lines
    assert "DESCRIPTION:Integration branch integration202109 is cut from each repository." in lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2021-13"], "invalid month '2021-13'"),
        (["--from", "September"], "invalid month"),
    ],
)
def test_calendar_bad_input(run_thor, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run_thor("calendar", *args)
    assert result.exit_code == 2
    assert message in one_line(result.stderr)


def test_calendar_months_must_be_positive(run_thor) -> None:  # type: ignore[no-untyped-def]
    assert run_thor("calendar", "--months", "0").exit_code == 2


# --- configuration and input errors -----------------------------------------------------------------------


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("error", list(CONFIG_ERRORS))
def test_bad_configuration_is_exit_2_and_writes_nothing(  # type: ignore[no-untyped-def]
    run_thor, tmp_path: Path, monkeypatch, default_db: Path, error: str, command: str
) -> None:
    text, names = CONFIG_ERRORS[error]
    (tmp_path / "thor.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = run_thor(*COMMANDS[command])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert names in one_line(result.stderr)
    assert result.stdout == ""
    assert not default_db.exists()
    assert not default_db.parent.exists()


def test_steps_command_rejects_a_bad_pipeline(run_thor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for error in ("unknown step type", "cycle", "unknown dependency"):
        text, names = CONFIG_ERRORS[error]
        config = tmp_path / f"{error.replace(' ', '-')}.toml"
        config.write_text(text)
        result = run_thor("steps", "--config", str(config))
        assert result.exit_code == 2 and names in one_line(result.stderr)


def test_a_missing_config_file(run_thor, tmp_path: Path, monkeypatch, default_db: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_thor("--config", str(tmp_path / "nope.toml"), "status")
    assert result.exit_code == 2 and "nope.toml" in one_line(result.stderr)
    monkeypatch.setenv("THOR_CONFIG", str(tmp_path / "gone.toml"))
    from_env = run_thor("tick")
    assert from_env.exit_code == 2 and "gone.toml" in one_line(from_env.stderr)
    assert not default_db.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["step", "split-branch", "2021.13"], "no release cycle has version '2021.13'"),
        (["step", "split-branch", "abc"], "no release cycle has version 'abc'"),
        (["step", "split-branch", "2021 09"], "invalid version"),
        (["step", "nope", "2021.09"], "unknown step 'nope'"),
        (["--now", "yesterday", "status"], "invalid --now 'yesterday'"),
        (["tick", "--now", "2021-02-30"], "invalid --now"),
        (["status", "2021.13"], "no release cycle has version"),
        (["status", "2021.09"], "has not started"),
        (["log", "2021.09", "nope"], "unknown step 'nope'"),
        (["retry", "2021.09", "split-branch"], "has not started"),
        (["approve", "2021.09", "nope"], "unknown step"),
        (["tick", "--wait", "forever"], "--wait"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(cli_sqlite, tmp_path: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    from tests.support import dump_tables

    assert cli_sqlite("db", "upgrade").exit_code == 0
    before = dump_tables(f"sqlite:///{tmp_path / 'thor.db'}")
    result = cli_sqlite(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in one_line(result.stderr)
    assert dump_tables(f"sqlite:///{tmp_path / 'thor.db'}") == before


def test_an_unreachable_database_is_exit_3_without_the_password(run_thor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("THOR_DATABASE_URL", "postgresql://nobody:Sup3rS3cretPw@127.0.0.1:1/x")
    for args in (
        ["status"],
        ["status", "--json"],
        ["tick"],
        ["db", "upgrade"],
        ["release", "start", "2021.09"],
    ):
        result = run_thor(*args)
        assert result.exit_code == 3, (args, result.stderr)
        line = one_line(result.stderr)
        assert "Sup3rS3cretPw" not in result.stderr + result.stdout
        assert "127.0.0.1:1" in line


def test_an_unsupported_database_url_is_a_config_error(run_thor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("THOR_DATABASE_URL", "mysql://u:pw-123@db/thor")
    result = run_thor("status")
    assert result.exit_code == 2 and "pw-123" not in one_line(result.stderr)


# --- status, steps, log -----------------------------------------------------------------------------------


def test_every_command_works_on_an_empty_database(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("db", "upgrade").exit_code == 0  # read-only commands never create it (tests/store/test_read_only.py)
    assert cli("status", "--json").json() == {"releases": []}
    empty = cli("status")
    assert empty.exit_code == 0 and "No releases yet" in empty.stdout
    assert cli("steps", "--json").exit_code == 0
    assert cli("calendar", "--json").exit_code == 0
    dry = cli("tick", "--dry-run", "--now", "2021-09-01")
    assert (dry.exit_code, dry.stdout) == (0, "")
    assert cli("status", "--json").json() == {"releases": []}
    assert cli("step", "split-branch", "2021.09", "--dry-run").exit_code == 0
    assert cli("tick", "--now", "2021-09-01").exit_code == 0
    assert cli("release", "start", "2021.09", "--now", "2021-09-01").exit_code == 0


def test_status_of_a_populated_database(cli) -> None:  # type: ignore[no-untyped-def]
    tick = cli("tick", "--now", "2021-09-10T09:00")
    assert tick.exit_code == 1  # release-notes fails: the release is blocked
    assert "blocked: 2021.09" in tick.stderr
    assert cli("release", "cancel", "2021.10", "--now", "2021-09-20").exit_code == 0
    overview = cli("status", "--json")
    assert overview.exit_code == 0
    assert overview.json() == {
        "releases": [
            {
                "version": "2021.09", "codename": None, "status": "blocked", "feature_freeze": "2021-09-10",
                "code_freeze": "2021-09-24", "steps_done": 2, "steps_total": 4, "next_step": "release-notes",
            },
            {
                "version": "2021.10", "codename": None, "status": "cancelled", "feature_freeze": "2021-10-08",
                "code_freeze": "2021-10-22", "steps_done": 0, "steps_total": 4, "next_step": None,
            },
        ]
    }  # fmt: skip
    detail = cli("status", "2021.09", "--json", "--now", "2021-09-10T10:00")
    assert detail.exit_code == 0
    data = detail.json()
    assert (data["version"], data["status"]) == ("2021.09", "blocked")
    assert [s["name"] for s in data["steps"]] == [
        "split-branch",
        "load-tests",
        "release-notes",
        "merge-stable",
    ]
    for step in data["steps"]:
        assert {"name", "status", "attempts", "started_at", "finished_at", "detail"} <= set(step)
    split, _, notes, merge = data["steps"]
    assert split == split | {"status": "succeeded", "attempts": 1, "detail": "true exited 0"}
    # The travelled clock runs on from --now: a busy machine may take a second or two.
    assert split["started_at"] <= split["finished_at"] < "2021-09-10T09:01"
    assert split["started_at"].startswith("2021-09-10T09:00:")
    assert (notes["status"], notes["attempts"]) == ("failed", 1)
    assert "exited 1" in notes["detail"]
    assert merge == merge | {"status": "pending", "attempts": 0, "started_at": None, "finished_at": None}
    assert merge["detail"] == "waits for code freeze"
    table = cli("status")
    assert re.search(r"2021\.09\s+blocked\s+2021-09-10\s+2021-09-24\s+2/4\s+release-notes", table.stdout)
    one = cli("status", "2021.09")
    assert one.exit_code == 0 and "2021.09 — blocked" in one.stdout and "release-notes" in one.stdout


def test_status_shows_codenames(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "names.csv").write_text("2021.09,Cobaltite\n")
    config = tmp_path / "thor.toml"
    config.write_text(config.read_text() + '\n[schedule]\ncodenames = "names.csv"\n')
    assert cli("tick", "--now", "2021-09-10").exit_code == 1
    assert cli("status", "--json").json()["releases"][0]["codename"] == "Cobaltite"
    assert "2021.09 Cobaltite" in cli("status", "2021.09").stdout
    assert re.search(r"2021\.09\s+Cobaltite\s+blocked", cli("status").stdout)


def test_steps_json(cli_sqlite) -> None:  # type: ignore[no-untyped-def]
    result = cli_sqlite("steps", "--json")
    assert result.exit_code == 0
    steps = result.json()["steps"]
    assert [s["name"] for s in steps] == list(STEP_NAMES)
    by_name = {s["name"]: s for s in steps}
    assert by_name["merge-stable"] == {
        "order": 7, "name": "merge-stable", "uses": "command", "on": "code_freeze", "after": ["load-tests"],
        "enabled": True, "timeout": "1h", "max_attempts": 3, "retry_after": "30m",
    }  # fmt: skip
    assert by_name["load-tests"]["timeout"] == "12h"
    assert by_name["announce"]["enabled"] is False
    table = cli_sqlite("steps")
    assert table.exit_code == 0 and "split-branch" in table.stdout and "code freeze" in table.stdout


def test_log_json_and_text(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("tick", "--now", "2021-09-10").exit_code == 1
    result = cli("log", "2021.09", "release-notes", "--json")
    assert result.exit_code == 0
    data = result.json()
    assert data["version"] == "2021.09"
    assert [e["kind"] for e in data["events"]] == ["started", "failed"]
    assert set(data["events"][0]) == {"at", "step", "actor", "kind", "message", "output"}
    assert data["events"][1]["output"] == "notes for 2021.09"
    text = cli("log", "2021.09")
    assert text.exit_code == 0
    assert "[release-started]" in text.stdout and "notes for 2021.09" in text.stdout


# --- database administration ------------------------------------------------------------------------------


def test_db_upgrade_is_idempotent(cli) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        result = cli("db", "upgrade")
        assert result.exit_code == 0, result.stderr
        assert f"schema revision {HEAD_REVISION}" in result.stdout
    assert cli("tick", "--now", "2021-09-10").exit_code == 1
    assert cli("db", "upgrade").exit_code == 0
    assert [r["version"] for r in cli("status", "--json").json()["releases"]] == ["2021.09"]


def test_db_upgrade_hides_the_password(run_thor, postgres_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("THOR_DATABASE_URL", postgres_url.replace("postgres@", "postgres:pw-hidden-1@", 1))
    result = run_thor("db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert "pw-hidden-1" not in result.stdout and "***@" in result.stdout


def test_the_default_database_lives_under_xdg_data_home(
    run_thor, tmp_path: Path, monkeypatch, default_db: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert run_thor("tick", "--now", "2021-09-01").exit_code == 0  # a command that writes creates it
    assert default_db.is_file()
    assert run_thor("status", "--json").json() == {"releases": []}


# --- global options ---------------------------------------------------------------------------------------


def test_global_options_may_follow_the_command(cli_sqlite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other.toml"
    other.write_text(disabled() + steps_toml(COMMAND_STEPS | {"split-branch": command("false")}))
    before = cli_sqlite("tick", "--now", "2021-09-10", "-q", "--config", str(other))
    assert before.exit_code == 0  # a first failed attempt waits for its retry
    assert before.stdout == ""  # -q: nothing on stdout
    split = {s["name"]: s for s in cli_sqlite("--config", str(other), "status", "2021.09", "--json").json()["steps"]}
    assert split["split-branch"]["detail"].startswith("attempt 1/3 failed")


def test_quiet_and_verbose(cli_sqlite) -> None:  # type: ignore[no-untyped-def]
    verbose = cli_sqlite("-v", "tick", "--now", "2021-09-10")
    assert "split-branch: run" in verbose.stderr
    assert "release started" in verbose.stdout
