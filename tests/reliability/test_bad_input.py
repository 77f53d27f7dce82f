"""Bad input is one line on stderr, the documented exit code, no traceback, and nothing written anywhere.

Every case runs against a database holding a release in progress (on SQLite and on PostgreSQL), whose
every table is compared before and after; the default SQLite file must never appear. Exit codes: 2 for bad
input or configuration, 3 for a database that cannot be reached. tests/cli/test_cli.py checks the messages
of the common mistakes on an empty database; this adds the steering commands, both backends, and proof
that nothing was touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ADMIN_URL, create_database, drop_database
from tests.reliability.helpers import FEATURE_FREEZE, VERSION
from tests.support import STEP_NAMES, command, dump_tables, steps_toml

# Only the git steps run (command steps running `true`), and a gate waits after the release notes.
PIPELINE = steps_toml(
    dict.fromkeys(STEP_NAMES, "")
    | dict.fromkeys(("split-branch", "release-notes", "merge-stable"), command("true"))
    | {"sign-off": 'uses = "gate"\nafter = ["release-notes"]\n'}
)
CYCLE_HINT = "no release cycle has version"
RESCHEDULE = ("release", "reschedule", "2021.10", "--feature-freeze")

# (command line, what the one line must say)
BAD_INPUT = {
    "invalid version": (["status", "2021.9.x"], f"{CYCLE_HINT} '2021.9.x'"),
    "version with a space": (["step", "split-branch", "2021 09"], "invalid version '2021 09'"),
    "start a version with no cycle": (["release", "start", "2021.13"], f"{CYCLE_HINT} '2021.13'"),
    "cancel a version with no cycle": (["release", "cancel", "banana"], f"{CYCLE_HINT} 'banana'"),
    "notes of a version with no cycle": (["notes", "2021.13"], f"{CYCLE_HINT} '2021.13'"),
    "unknown step": (["step", "nope", VERSION], "unknown step 'nope'"),
    "unknown step in the log": (["log", VERSION, "nope"], "unknown step 'nope'"),
    "approve an unknown step": (["approve", VERSION, "nope"], "unknown step 'nope'"),
    "run a disabled step": (["step", "load-tests", VERSION], "step 'load-tests' is disabled"),
    "retry a disabled step": (["retry", VERSION, "load-tests"], "step 'load-tests' is disabled"),
    "skip a disabled step": (["skip", VERSION, "load-tests", "--reason", "x"], "step 'load-tests' is disabled"),
    "skip with an empty reason": (["skip", VERSION, "sign-off", "--reason", ""], "--reason is required"),
    "skip with a blank reason": (["skip", VERSION, "sign-off", "--reason", "  "], "--reason is required"),
    "approve a command step": (["approve", VERSION, "split-branch"], "split-branch is a command step, not a gate"),
    "approve a pending non-gate": (["approve", VERSION, "merge-stable"], "merge-stable is a command step"),
    "code freeze before feature freeze": (
        [*RESCHEDULE, "2021-10-22", "--code-freeze", "2021-10-08"], "--code-freeze must be after --feature-freeze",
    ),
    "code freeze on the feature freeze": (
        [*RESCHEDULE, "2021-10-08", "--code-freeze", "2021-10-08"], "--code-freeze must be after --feature-freeze",
    ),
    "started release rescheduled backwards": (
        ["release", "reschedule", VERSION, "--feature-freeze", "2021-09-24", "--code-freeze", "2021-09-10"],
        "--code-freeze must be after --feature-freeze",
    ),
    "reschedule to no date": (
        [*RESCHEDULE, "tomorrow", "--code-freeze", "2021-10-22"], "invalid --feature-freeze 'tomorrow'",
    ),
    "reschedule to an impossible date": (
        [*RESCHEDULE, "2021-10-08", "--code-freeze", "2021-02-30"], "invalid --code-freeze '2021-02-30'",
    ),
    "--now garbage": (["tick", "--now", "garbage"], "invalid --now 'garbage'"),
    "--now an impossible date": (["tick", "--now", "2021-09-31"], "invalid --now '2021-09-31'"),
    "--now before the command": (["--now", "2021-13-01", "status"], "invalid --now '2021-13-01'"),
    "--now words on a step": (["step", "split-branch", VERSION, "--now", "next friday"], "invalid --now"),
    "--wait 5x": (["tick", "--wait", "5x"], "--wait: invalid duration '5x'"),
    "--wait negative": (["tick", "--wait", "-1h"], "--wait: invalid duration '-1h'"),
    "calendar from a bad month": (["calendar", "--from", "2021-13"], "invalid month '2021-13'"),
}  # fmt: skip

# What the command-line parser itself rejects (missing or unknown options, bad option values).
PARSER_ERRORS = {
    "skip without --reason": ["skip", VERSION, "sign-off"],
    "an unknown option": ["tick", "--bogus"],
    "an unknown command": ["frobnicate"],
    "a month count of zero": ["calendar", "--months", "0"],
}

CONFIG_ERRORS = {
    "malformed TOML": ("[schedule\ntimezone = 1\n", "invalid TOML"),
    "bad RRULE": ('[schedule]\nfeature_freeze = "FREQ=SOMETIMES"\n', "schedule.feature_freeze"),
    "unknown timezone": ('[schedule]\ntimezone = "Mars/Olympus_Mons"\n', "unknown timezone 'Mars/Olympus_Mons'"),
    "unknown key": ("[jira]\nurll = 'http://x'\n", "unknown key 'jira.urll'"),
    "unknown step type": ('[steps.x]\nuses = "teleport"\n', "steps.x.uses"),
    "bad duration": ('[steps.split-branch]\ntimeout = "5 parsecs"\n', "steps.split-branch.timeout"),
    "dependency on no step": ('[steps.a]\nuses = "command"\nrun = ["true"]\nafter = ["nope"]\n', "steps.a.after"),
    "a build that cannot be recognised": (
        "[steps.load-tests]\nparams = { FOO = \"bar\" }\n", "params must identify the release",
    ),
    "a version template with spaces": ('[schedule]\nversion = "v {feature_freeze:%Y}"\n', "schedule.version"),
}  # fmt: skip

NEEDS_THE_DATABASE = {
    "tick": ["tick", "--now", FEATURE_FREEZE],
    "status": ["status", VERSION],
    "step": ["step", "split-branch", VERSION],
    "approve": ["approve", VERSION, "sign-off"],
    "skip": ["skip", VERSION, "sign-off", "--reason", "x"],
    "release start": ["release", "start", VERSION],
    "reschedule": [*RESCHEDULE, "2021-10-08", "--code-freeze", "2021-10-22"],
    "db upgrade": ["db", "upgrade"],
    "log": ["log", VERSION],
}


@dataclass(frozen=True)
class Populated:
    config: Path
    url: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def populated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """A database with release 2021.09 under way (its gate waiting), shared by the module's cases: none
    of them may change it, which each checks."""
    from thor_cli.cli import main

    root = tmp_path_factory.mktemp("populated")
    url = f"sqlite:///{root / 'thor.db'}" if request.param == "sqlite" else create_database()
    config = root / "thor.toml"
    config.write_text(f'[database]\nurl = "{url}"\n{PIPELINE}', encoding="utf-8")
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("HOME", str(root))
            env.setenv("XDG_DATA_HOME", str(root / "data"))
            for name in ("THOR_CONFIG", "THOR_NOW", "THOR_DATABASE_URL"):
                env.delenv(name, raising=False)
            assert main(["--config", str(config), "-q", "tick", "--now", FEATURE_FREEZE]) == 0
        yield Populated(config, url)
    finally:
        if request.param == "postgres":
            drop_database(url)


@pytest.fixture
def default_db(isolated_env: Path) -> Path:
    return isolated_env / ".local" / "share" / "thor" / "thor.db"


def check_nothing_written(run, populated: Populated, default_db: Path):  # type: ignore[no-untyped-def]
    before = dump_tables(populated.url)
    result = run()
    assert dump_tables(populated.url) == before
    assert not default_db.parent.exists()
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result


def one_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thor: "), result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_exit_2_in_one_line_and_changes_nothing(
    run_thor, populated: Populated, default_db: Path, case: str
) -> None:
    args, message = BAD_INPUT[case]
    result = check_nothing_written(lambda: run_thor("--config", populated.config, *args), populated, default_db)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in one_line(result)


@pytest.mark.parametrize("case", list(PARSER_ERRORS))
def test_what_the_parser_rejects_is_exit_2_and_changes_nothing(
    run_thor, populated: Populated, default_db: Path, case: str
) -> None:
    run = lambda: run_thor("--config", populated.config, *PARSER_ERRORS[case])  # noqa: E731
    result = check_nothing_written(run, populated, default_db)
    assert result.exit_code == 2, (result.stdout, result.stderr)


@pytest.mark.parametrize("case", list(PARSER_ERRORS))
def test_what_the_parser_rejects_is_one_line_too(run_thor, case: str) -> None:
    result = run_thor(*PARSER_ERRORS[case])
    assert result.exit_code == 2
    one_line(result)


@pytest.mark.parametrize("case", list(CONFIG_ERRORS))
def test_bad_configuration_is_exit_2_and_touches_no_database(
    run_thor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, populated: Populated, default_db: Path, case: str
) -> None:
    text, message = CONFIG_ERRORS[case]
    config = tmp_path / "thor.toml"
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("THOR_DATABASE_URL", populated.url)
    for args in (["tick", "--now", FEATURE_FREEZE], ["approve", VERSION, "sign-off"]):
        result = check_nothing_written(lambda a=args: run_thor("--config", config, *a), populated, default_db)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert message in one_line(result)


UNREACHABLE = {
    "postgres port closed": ("postgresql://thor:pw-5ecr3t@127.0.0.1:1/thor", "cannot reach the database at "
                             "postgresql://***@127.0.0.1:1/thor: connection to server at"),
    "postgres database missing": (ADMIN_URL.rsplit("/", 1)[0] + "/thor_no_such_database",
                                  'database "thor_no_such_database" does not exist'),
    "sqlite directory impossible": ("sqlite:////proc/thor-no-such-dir/thor.db",
                                    "cannot create the database directory for /proc/thor-no-such-dir/thor.db"),
    "sqlite path is a directory": ("sqlite:///{tmp}", "unable to open database file"),
    "sqlite file is not a database": ("sqlite:///{tmp}/notes.txt", "file is not a database"),
}  # fmt: skip
# Commands that only read never create the database, so they say it is missing instead.
READ_ONLY_UNREACHABLE = {
    ("sqlite directory impossible", "status"): "no database at sqlite:////proc/thor-no-such-dir/thor.db: "
    "`thor db upgrade` creates it",
    ("sqlite directory impossible", "log"): "no database at sqlite:////proc/thor-no-such-dir/thor.db: "
    "`thor db upgrade` creates it",
}


@pytest.mark.parametrize("command", list(NEEDS_THE_DATABASE))
@pytest.mark.parametrize("database", list(UNREACHABLE))
def test_an_unreachable_database_is_exit_3_in_one_line(
    run_thor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_db: Path, database: str, command: str
) -> None:
    url, message = UNREACHABLE[database]
    message = READ_ONLY_UNREACHABLE.get((database, command), message)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, and it must stay that way\n" * 200)
    (tmp_path / "thor.toml").write_text(PIPELINE, encoding="utf-8")
    monkeypatch.setenv("THOR_DATABASE_URL", url.format(tmp=tmp_path))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_thor("--config", tmp_path / "thor.toml", *NEEDS_THE_DATABASE[command])
    assert result.exit_code == 3, (result.stdout, result.stderr)
    line = one_line(result)
    assert message in line
    assert "pw-5ecr3t" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no -wal, -shm or journal files either
    assert notes.read_text() == "not a database, and it must stay that way\n" * 200
    assert not default_db.parent.exists()
