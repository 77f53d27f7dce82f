"""Input at the edges of what Thor can represent, or that it must refuse: one line, exit 2, nothing written.

Dates beyond what the calendar can count with, durations too long (or negative, or zero where that means
nothing), names longer than the database columns, repository names that are not names, values of the wrong
type and RRULEs that are not RRULEs. None of them may reach ``internal error`` or the database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.reliability.helpers import FEATURE_FREEZE

# (thor.toml body, command line, what the one line must say)
COMMAND_LINE = {
    "--now in year 1": ("", ["--now", "0001-01-01", "tick"], "--now '0001-01-01' is out of range"),
    "--now in year 9999": ("", ["--now", "9999-12-31", "tick"], "--now '9999-12-31' is out of range"),
    "--now with an offset past year 9999": ("", ["--now", "9999-12-31T23:00-05:00", "tick"], "is out of range"),
    "--wait of 3,000,000 days": ("", ["tick", "--wait", "3000000d"], "--wait: duration '3000000d' is too long"),
    "--wait with digits beyond any int": ("", ["tick", "--wait", "9" * 40 + "s"], "is too long (at most 3650d)"),
    "calendar from 9999-12": ("", ["calendar", "--from", "9999-12"], "month '9999-12' is out of range"),
    "calendar from year 1": ("", ["calendar", "--from", "0001-01"], "month '0001-01' is out of range"),
    "reschedule to year 9999": (
        "", ["release", "reschedule", "2021.09", "--feature-freeze", "9999-12-30", "--code-freeze", "9999-12-31"],
        "--feature-freeze '9999-12-30' is out of range",
    ),
}  # fmt: skip

STEP = "[steps.split-branch]\n"
NAME = "invalid repository name"
TYPE = "Input should be a valid"
CONFIGURATION = {
    "timeout of 99999999999 days": (f'{STEP}timeout = "99999999999d"\n', "duration '99999999999d' is too long"),
    "timeout of 1e300 seconds": (f"{STEP}timeout = 1e300\n", "timeout: duration 1e+300 seconds is too long"),
    "timeout of infinity": (f"{STEP}timeout = inf\n", "timeout: invalid duration inf"),
    "negative timeout": (f"{STEP}timeout = -60\n", "steps.split-branch.timeout: duration -60 is negative"),
    "zero timeout": (f'{STEP}timeout = "0s"\n', "steps.split-branch.timeout: must be longer than 0s"),
    "negative retry_after": (f"{STEP}retry_after = -1\n", "steps.split-branch.retry_after: duration -1 is negative"),
    "a service timeout of infinity": ("[jira]\ntimeout = inf\n", "jira.timeout: Input should be a finite number"),
    "a service timeout of 1e300": ("[slack]\ntimeout = 1e300\n", "slack.timeout: Input should be less than or equal"),
    "grace days beyond a year": ("[schedule]\nstart_grace_days = 1000000000\n", "start_grace_days: Input should"),
    "a step name longer than the column": (
        f'[steps.{"a" * 149}]\nuses = "command"\nrun = ["true"]\n', "is 149 characters long (at most 128)"
    ),
    "a version longer than the column": (
        '[schedule]\nversion = "' + "v" * 70 + '{feature_freeze:%Y.%m}"\n', "schedule.version: the rendered template"
    ),
    "a stable branch longer than the column": ('[schedule]\nstable_branch = "' + "s" * 300 + '"\n', "at most 255"),
    "a path escape as a repository": ('[repos]\nnames = ["../../etc/passwd"]\n', f"names.0: {NAME} '../../etc/"),
    "an option as a repository": ('[repos]\nnames = ["uc-cdis/fence", "-oProxy=x"]\n', f"names.1: {NAME} '-oProxy=x'"),
    "a space in a repository name": ('[repos]\nnames = ["uc-cdis/a b"]\n', f"repos.names.0: {NAME} 'uc-cdis/a b'"),
    "an empty repository name": ('[repos]\nnames = ["uc-cdis/fence", ""]\n', "repos.names.1: empty repository name"),
    "an option as an override's url": (
        '[repos]\nnames = ["uc-cdis/fence"]\n[repos.overrides."uc-cdis/fence"]\nurl = "-oProxyCommand=x"\n',
        "repos.overrides.uc-cdis/fence.url: invalid repository url '-oProxyCommand=x'",
    ),
    "an option as a branch": ('[repos]\nsource_branch = "--upload-pack=x"\n', "invalid branch name '--upload-pack=x'"),
    "an option as the url template": ('[repos]\nurl = "-u{repo}"\n', "repos.url: invalid repository url '-u{repo}'"),
    "an override of an impossible name": ('[repos.overrides."../x"]\nenabled = false\n', f"{NAME} '../x'"),
    "concurrency as a string": ('[repos]\nconcurrency = "8"\n', f"repos.concurrency: {TYPE} integer (got '8')"),
    "enabled as a string": (f'{STEP}enabled = "no"\n', f"split-branch.enabled: {TYPE} boolean (got 'no')"),
    "grace days as a float": ("[schedule]\nstart_grace_days = 2.5\n", f"schedule.start_grace_days: {TYPE} integer"),
    "an RRULE with no '='": ('[schedule]\nfeature_freeze = "FREQ"\n', "invalid RRULE 'FREQ': 'FREQ' is not KEY=VALUE"),
    "an RRULE with no FREQ": ('[schedule]\nfeature_freeze = "BYDAY=+2FR"\n', "FREQ is missing"),
    "an RRULE with an unknown part": ('[schedule]\ncode_freeze = "FREQ=MONTHLY;FOO=1"\n', "unknown part FOO"),
    "an RRULE with an empty part": ('[schedule]\ncode_freeze = "FREQ=MONTHLY;;BYDAY=+4FR"\n', "an empty part"),
}  # fmt: skip


def one_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thor: "), result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("case", list(COMMAND_LINE))
def test_a_date_or_duration_beyond_the_bounds_is_one_line_and_exit_2(run_thor, tmp_path: Path, case: str) -> None:
    body, args, message = COMMAND_LINE[case]
    database = tmp_path / "state" / "thor.db"
    config = write_config(tmp_path / "thor.toml", body, f"sqlite:///{database}")
    result = run_thor("--config", config, *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in one_line(result)
    assert not database.parent.exists()


@pytest.mark.parametrize("case", list(CONFIGURATION))
def test_a_configuration_beyond_the_bounds_is_refused_before_any_write(run_thor, tmp_path: Path, case: str) -> None:
    body, message = CONFIGURATION[case]
    database = tmp_path / "state" / "thor.db"
    config = write_config(tmp_path / "thor.toml", body, f"sqlite:///{database}")
    for args in (["steps"], ["tick", "--now", FEATURE_FREEZE]):
        result = run_thor("--config", config, *args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert message in one_line(result)
    assert not database.parent.exists()


def test_durations_are_bounded_and_negative_ones_read_as_negative() -> None:
    from datetime import timedelta

    from thor_cli.durations import MAX_DURATION, format_duration, parse_duration

    assert format_duration(timedelta(seconds=-60)) == "-1m"  # was "-1d23h59m"
    assert parse_duration("3650d") == MAX_DURATION
    with pytest.raises(ValueError, match="too long"):
        parse_duration("3650d1s")


def test_the_widest_dates_thor_accepts_still_work(run_thor, tmp_path: Path) -> None:
    config = write_config(tmp_path / "thor.toml", "")
    for now in ("1970-01-01", "9000-12-31T23:59"):
        result = run_thor("--config", config, "--now", now, "calendar", "--months", "240", "--json")
        assert result.exit_code == 0, result.stderr
    assert run_thor("--config", config, "calendar", "--from", "9000-12", "--months", "240").exit_code == 0


def test_a_long_step_name_never_reaches_postgresql(run_thor, tmp_path: Path, postgres_url: str) -> None:
    """It used to pass the configuration, write the release row and then fail on PostgreSQL's varchar(128)."""
    from tests.support import dump_tables

    body = f'[steps.{"a" * 149}]\nuses = "command"\nrun = ["true"]\n'
    config = write_config(tmp_path / "thor.toml", body, postgres_url)
    result = run_thor("--config", config, "tick", "--now", FEATURE_FREEZE)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "is 149 characters long (at most 128)" in one_line(result)
    assert dump_tables(postgres_url) == {}
