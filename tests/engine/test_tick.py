"""``thor tick`` driven by --now through a release, with command steps that leave marks in side.txt."""

from __future__ import annotations

import time

import pytest

from thor_cli.store.models import StepStatus

FAILING_SPLIT = (
    'uses = "command"\nrun = ["sh", "-c", "echo split-branch attempt >> side.txt; test -e fixed"]\n'
    'max_attempts = 2\nretry_after = "1h"\n'
)


def test_a_whole_month_day_by_day(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"merge-stable": thor.sh("echo merge-stable {code_freeze} >> side.txt")})
    seen: dict[int, list[str]] = {}
    for day in range(1, 31):
        before = len(thor.side)
        result = thor.tick(f"2021-09-{day:02d}")
        assert result.exit_code == 0, (day, result.stdout, result.stderr)
        seen[day] = thor.side[before:]
        if not seen[day]:
            assert (result.stdout, result.stderr) == ("", ""), day  # nothing to do: silent, for cron
    assert {day: marks for day, marks in seen.items() if marks} == {
        10: ["split-branch 2021.09", "load-tests 2021.09", "release-notes 2021.09"],
        24: ["merge-stable 2021-09-24"],
    }
    assert thor.status() == {
        "releases": [
            {
                "version": "2021.09", "codename": None, "status": "released", "feature_freeze": "2021-09-10",
                "code_freeze": "2021-09-24", "steps_done": 4, "steps_total": 4, "next_step": None,
            }
        ]
    }  # fmt: skip
    steps = thor.steps()
    assert [(s["name"], s["status"], s["attempts"]) for s in steps.values()] == [
        ("split-branch", "succeeded", 1),
        ("load-tests", "succeeded", 1),
        ("release-notes", "succeeded", 1),
        ("merge-stable", "succeeded", 1),
    ]
    assert steps["merge-stable"]["started_at"] == "2021-09-24T00:00:00+00:00"
    # October's release starts on its own feature freeze.
    assert thor.tick("2021-10-08").exit_code == 0
    assert thor.side[-3:] == ["split-branch 2021.10", "load-tests 2021.10", "release-notes 2021.10"]


def test_the_first_tick_says_what_it_did(thor) -> None:  # type: ignore[no-untyped-def]
    result = thor.tick("2021-09-10T09:00")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "2021.09: release started (feature freeze 2021-09-10)"
    assert lines[1].startswith("2021.09 split-branch: succeeded")
    assert len(lines) == 4
    again = thor.tick("2021-09-10T09:05")
    assert (again.exit_code, again.stdout, again.stderr) == (0, "", "")
    assert len(thor.side) == 3


def test_a_failing_step_is_retried_after_backoff_then_blocks_the_release(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"split-branch": FAILING_SPLIT})
    first = thor.tick("2021-09-10T09:00")
    assert first.exit_code == 0
    assert "retry" in first.stdout
    assert thor.side == ["split-branch attempt"]
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("pending", 1)
    assert split["next_attempt_at"] == "2021-09-10T10:00:00+00:00"
    assert thor.status()["releases"][0]["status"] == "active"

    early = thor.tick("2021-09-10T09:59")  # backoff not over
    assert (early.exit_code, early.stdout) == (0, "")
    assert thor.side == ["split-branch attempt"]

    last = thor.tick("2021-09-10T10:01")
    assert last.exit_code == 1
    assert "split-branch: failed" in last.stdout
    assert "blocked: 2021.09" in last.stderr
    assert thor.side == ["split-branch attempt"] * 2
    steps = thor.steps()
    assert (steps["split-branch"]["status"], steps["split-branch"]["attempts"]) == ("failed", 2)
    assert "exited 1" in steps["split-branch"]["detail"]
    assert steps["load-tests"]["status"] == steps["release-notes"]["status"] == "pending"
    assert thor.status()["releases"][0]["status"] == "blocked"

    later = thor.tick("2021-09-12")
    assert later.exit_code == 1  # still blocked, and nothing more was tried
    assert thor.side == ["split-branch attempt"] * 2
    kinds = [e["kind"] for e in thor.events(step="split-branch")]
    assert kinds == ["started", "retry", "started", "failed"]
    assert "release-blocked" in [e["kind"] for e in thor.events()]


def test_retry_rearms_a_failed_step_and_the_next_tick_runs_it(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"split-branch": FAILING_SPLIT.replace("max_attempts = 2", "max_attempts = 1")})
    assert thor.tick("2021-09-10").exit_code == 1
    (thor.dir / "fixed").touch()
    result = thor("retry", "2021.09", "split-branch")
    assert result.exit_code == 0
    assert "re-armed" in result.stdout
    assert thor.status()["releases"][0]["status"] == "active"
    assert thor.side == ["split-branch attempt"]  # retry itself runs nothing
    after = thor.tick("2021-09-10T01:00")
    assert after.exit_code == 0
    assert thor.side == ["split-branch attempt"] * 2 + ["load-tests 2021.09", "release-notes 2021.09"]
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("succeeded", 1)


def test_skip_unblocks_the_dependants(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"split-branch": 'uses = "command"\nrun = ["false"]\nmax_attempts = 1\n'})
    assert thor.tick("2021-09-10").exit_code == 1
    assert thor("skip", "2021.09", "split-branch").exit_code == 2  # --reason is required
    blank = thor("skip", "2021.09", "split-branch", "--reason", " ")
    assert blank.exit_code == 2 and "--reason" in blank.stderr
    skipped = thor("skip", "2021.09", "split-branch", "--reason", "branches cut by hand")
    assert skipped.exit_code == 0
    assert thor.status()["releases"][0]["status"] == "active"
    assert thor.tick("2021-09-10T00:10").exit_code == 0
    assert thor.side == ["load-tests 2021.09", "release-notes 2021.09"]
    steps = thor.steps()
    assert steps["split-branch"]["status"] == "skipped"
    assert "branches cut by hand" in steps["split-branch"]["detail"]
    assert thor.status()["releases"][0]["steps_done"] == 3


def test_a_gate_waits_for_approval(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"load-tests": 'uses = "gate"\ntimeout = "30d"\n'})  # not load-tests' 12h
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor.steps()["load-tests"]["status"] == "waiting"
    assert thor.tick("2021-09-24").exit_code == 0  # code freeze, but merge-stable waits for the gate
    assert "merge-stable 2021.09" not in thor.side
    assert "waits for load-tests" in thor.steps()["merge-stable"]["detail"]
    wrong = thor("approve", "2021.09", "split-branch")
    assert wrong.exit_code == 2 and "not a gate" in wrong.stderr
    approved = thor("approve", "2021.09", "load-tests", "--note", "numbers look fine")
    assert approved.exit_code == 0
    gate = thor.steps()["load-tests"]
    assert gate["status"] == "succeeded"
    assert "numbers look fine" in gate["detail"]
    assert thor.tick("2021-09-24T01:00").exit_code == 0
    assert thor.side[-1] == "merge-stable 2021.09"
    assert thor("approve", "2021.09", "load-tests").stdout.strip() == "2021.09 load-tests was already approved"
    assert [e["kind"] for e in thor.events(step="load-tests")] == ["started", "waiting", "approved"]


def test_a_gate_times_out_and_can_still_be_approved(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"load-tests": 'uses = "gate"\ntimeout = "2d"\n'})
    assert thor.tick("2021-09-10T09:00").exit_code == 0
    assert thor.tick("2021-09-12T08:59").exit_code == 0
    assert thor.steps()["load-tests"]["status"] == "waiting"
    late = thor.tick("2021-09-12T09:01")
    assert late.exit_code == 1 and "timed out after 2d" in late.stdout
    assert thor.status()["releases"][0]["status"] == "blocked"
    assert thor("approve", "2021.09", "load-tests").exit_code == 0
    assert thor.status()["releases"][0]["status"] == "active"
    assert thor.tick("2021-09-24").exit_code == 0
    assert thor.side[-1] == "merge-stable 2021.09"


def test_dry_run_changes_nothing(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"split-branch": FAILING_SPLIT})
    assert thor("db", "upgrade").exit_code == 0  # a dry run never creates the database
    fresh = thor.tick("2021-09-10", "--dry-run")
    assert fresh.exit_code == 0
    assert "2021.09: would start the release" in fresh.stdout
    assert thor.status() == {"releases": []}
    assert thor.side == []

    assert thor.tick("2021-09-10").exit_code == 0  # one failed attempt, a retry pending
    before = thor.dump()
    assert before["thor_release"] and before["thor_step_run"] and before["thor_event"]
    for now in ("2021-09-10T00:30", "2021-09-10T02:00", "2021-09-24", "2021-10-08", "2021-10-20"):
        plan = thor.tick(now, "--dry-run")
        assert plan.exit_code == 0, plan.stderr
        assert thor.dump() == before, now
    assert thor.side == ["split-branch attempt"]
    assert "would run" in thor.tick("2021-09-10T02:00", "--dry-run").stdout
    assert "2021.10: would start" in thor.tick("2021-10-08", "--dry-run").stdout
    assert "2021.10: missed start" in thor.tick("2021-10-20", "--dry-run").stdout


def test_nothing_to_do_prints_nothing(thor) -> None:  # type: ignore[no-untyped-def]
    for now in ("2021-09-01", "2021-09-09T23:59:59"):
        result = thor.tick(now)
        assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert thor.status() == {"releases": []}


def test_a_missed_start_is_reported_not_begun(thor) -> None:  # type: ignore[no-untyped-def]
    assert thor.tick("2021-09-13").exit_code == 0  # three days late is still within the grace period
    assert thor.side[0] == "split-branch 2021.09"
    assert thor.tick("2021-10-18").exit_code == 1  # ten days after October's feature freeze
    late = thor.tick("2021-10-18T01:00")
    assert late.exit_code == 1
    [line] = late.stderr.splitlines()  # on stderr, one line: even `tick -q` under cron mails it
    assert line.startswith("thor: missed start: 2021.10") and "thor release start 2021.10" in line
    assert [r["version"] for r in thor.status()["releases"]] == ["2021.09"]
    assert not any("2021.10" in line for line in thor.side)
    started = thor("release", "start", "2021.10", "--now", "2021-10-18T02:00")
    assert started.exit_code == 0 and "started" in started.stdout
    assert thor.tick("2021-10-18T02:00").exit_code == 0
    assert thor.side[-3:] == ["split-branch 2021.10", "load-tests 2021.10", "release-notes 2021.10"]
    assert thor.events("2021.10")[0]["message"] == "release 2021.10 started by hand"


def test_a_missed_start_is_no_longer_reported_after_its_code_freeze(thor) -> None:  # type: ignore[no-untyped-def]
    assert "missed start: 2021.09" in thor.tick("2021-09-23T23:59", "-q").stderr
    result = thor.tick("2021-09-25")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_grace_period_comes_from_the_configuration(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure(extra="\n[schedule]\nstart_grace_days = 0\n")
    assert thor.tick("2021-09-10T23:59").exit_code == 0
    assert thor.side[0] == "split-branch 2021.09"
    assert thor.tick("2021-10-09").exit_code == 1  # one day late is too late now
    assert [r["version"] for r in thor.status()["releases"]] == ["2021.09"]


def test_the_timezone_decides_when_a_release_starts(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure(extra='\n[schedule]\ntimezone = "America/Chicago"\n')
    early = thor.tick("2021-09-10T03:00Z")  # 22:00 on Thursday the 9th in Chicago
    assert (early.exit_code, early.stdout) == (0, "")
    assert thor.status() == {"releases": []}
    assert thor.side == []
    started = thor.tick("2021-09-10T06:00Z")
    assert started.exit_code == 0 and "release started" in started.stdout
    assert thor.side[0] == "split-branch 2021.09"
    assert thor.steps()["split-branch"]["started_at"] == "2021-09-10T06:00:00+00:00"


def test_a_milestone_with_byhour(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure(
        extra='\n[schedule]\ntimezone = "America/Chicago"\n'
        'feature_freeze = "FREQ=MONTHLY;BYDAY=+2FR;BYHOUR=9"\n'
        'code_freeze = "FREQ=MONTHLY;BYDAY=+4FR;BYHOUR=17"\n'
    )
    assert thor.tick("2021-09-10T08:59").exit_code == 0  # local time: naive --now is in the configured zone
    assert thor.side == []
    assert thor.tick("2021-09-10T09:00").exit_code == 0
    assert len(thor.side) == 3
    assert thor.tick("2021-09-24T16:59").exit_code == 0
    assert len(thor.side) == 3
    assert thor.tick("2021-09-24T22:00Z").exit_code == 0  # 17:00 CDT
    assert thor.side[-1] == "merge-stable 2021.09"


def test_the_log_shows_events_with_captured_output_and_redacts_secrets(thor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    token = "xoxb-424242-thor-test-secret"
    monkeypatch.setenv("THOR_SLACK_TOKEN", token)
    thor.configure(
        {
            # A command gets a secret only when it names it (docs/steps/command.md#secrets).
            "split-branch": thor.sh("echo cutting {integration_branch}; echo token is $TOKEN; echo to stderr >&2")
            + 'secrets = { TOKEN = "THOR_SLACK_TOKEN" }\n',
            "release-notes": thor.sh("echo notes failed $TOKEN; exit 3", max_attempts=1)
            + 'secrets = { TOKEN = "THOR_SLACK_TOKEN" }\n',
        }
    )
    result = thor.tick("2021-09-10", "-v")
    assert result.exit_code == 1
    text_log = thor("log", "2021.09")
    assert text_log.exit_code == 0
    assert "cutting integration202109" in text_log.stdout
    assert "token is ***" in text_log.stdout
    assert "to stderr" in text_log.stdout
    split_only = thor.events(step="split-branch")
    assert {e["step"] for e in split_only} == {"split-branch"}
    assert [e["kind"] for e in split_only] == ["started", "succeeded"]
    assert "cutting integration202109" in split_only[-1]["output"]
    failed = thor.events(step="release-notes")[-1]
    assert failed["kind"] == "failed" and "exited 3" in failed["message"]
    assert "notes failed ***" in failed["output"]
    everything = repr(thor.dump()) + text_log.stdout + result.stdout + result.stderr
    everything += thor("status", "2021.09", "--json").stdout
    assert token not in everything
    assert "***" in everything


def test_log_rejects_an_unknown_step_and_an_unstarted_release(thor) -> None:  # type: ignore[no-untyped-def]
    assert thor.tick("2021-09-10").exit_code == 0
    unknown = thor("log", "2021.09", "nope")
    assert unknown.exit_code == 2 and "unknown step 'nope'" in unknown.stderr
    unstarted = thor("log", "2021.10")
    assert unstarted.exit_code == 2 and "has not started" in unstarted.stderr


def test_a_command_step_timeout_kills_it_and_fails_the_attempt(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"split-branch": 'uses = "command"\nrun = ["sleep", "30"]\ntimeout = "1s"\nmax_attempts = 1\n'})
    started = time.monotonic()
    result = thor.tick("2021-09-10")
    assert time.monotonic() - started < 15
    assert result.exit_code == 1
    split = thor.steps()["split-branch"]
    assert split["status"] == "failed"
    assert "timed out after 1s" in split["detail"]
    assert thor.side == []


def test_wait_keeps_ticking_until_a_retry_succeeds(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure(
        {
            "split-branch": 'uses = "command"\nrun = ["sh", "-c", "echo try >> tries.txt; '
            'test $(wc -l < tries.txt) -ge 2"]\nretry_after = "2s"\n'
        }
    )
    started = time.monotonic()
    result = thor.tick("2021-09-10", "--wait", "30s")
    assert time.monotonic() - started < 25
    assert result.exit_code == 0, result.stderr
    assert (thor.dir / "tries.txt").read_text().splitlines() == ["try", "try"]
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == (StepStatus.SUCCEEDED, 2)
    assert thor.side == ["load-tests 2021.09", "release-notes 2021.09"]


def test_without_wait_a_retry_waits_for_a_later_tick(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"split-branch": 'uses = "command"\nrun = ["false"]\nretry_after = "2s"\n'})
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor.steps()["split-branch"]["attempts"] == 1


@pytest.mark.parametrize("wait", ["forever", "10"])
def test_a_bad_wait_is_bad_input(thor, wait: str) -> None:  # type: ignore[no-untyped-def]
    result = thor.tick("2021-09-10", "--wait", wait)
    assert result.exit_code == 2 and "--wait" in result.stderr
    assert thor.side == []


def test_placeholders_and_release_environment_reach_the_command(thor) -> None:  # type: ignore[no-untyped-def]
    (thor.dir / "names.csv").write_text("version,name\n2021.09,Cobaltite\n")
    thor.configure(
        {
            "split-branch": thor.sh(
                "echo {version}/{codename}/{integration_branch}/{stable_branch}/"
                "{feature_freeze}/{code_freeze}/$THOR_STEP/$THOR_VERSION/$EXTRA >> side.txt"
            )
            + 'env = { EXTRA = "x-{version}" }\n'
        },
        extra='\n[schedule]\ncodenames = "names.csv"\n',
    )
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor.side[0] == (
        "2021.09/Cobaltite/integration202109/stable/2021-09-10/2021-09-24/split-branch/2021.09/x-2021.09"
    )
    assert thor.status()["releases"][0]["codename"] == "Cobaltite"
