"""Steering by hand: thor step, retry, skip, approve, and release start / cancel / reschedule."""

from __future__ import annotations


def test_cancel_before_start_means_tick_never_starts_it(thor) -> None:  # type: ignore[no-untyped-def]
    result = thor("release", "cancel", "2021.09", "--reason", "skipping September", "--now", "2021-09-01")
    assert result.exit_code == 0 and "cancelled" in result.stdout
    for day in ("2021-09-10", "2021-09-11", "2021-09-13", "2021-09-24"):
        ticked = thor.tick(day)
        assert (ticked.exit_code, ticked.stdout) == (0, ""), day
    assert thor.side == []
    [release] = thor.status()["releases"]
    assert (release["version"], release["status"], release["next_step"]) == ("2021.09", "cancelled", None)
    assert thor.events()[0]["message"].endswith("skipping September")
    assert "already cancelled" in thor("release", "cancel", "2021.09").stdout
    # Starting it by hand brings it back.
    assert thor("release", "start", "2021.09", "--now", "2021-09-14").exit_code == 0
    assert thor.tick("2021-09-14").exit_code == 0
    assert thor.side == ["split-branch 2021.09", "load-tests 2021.09", "release-notes 2021.09"]


def test_cancelling_a_running_release_stops_its_steps(thor) -> None:  # type: ignore[no-untyped-def]
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor("release", "cancel", "2021.09", "--now", "2021-09-20").exit_code == 0
    assert thor.tick("2021-09-24").exit_code == 0
    assert "merge-stable 2021.09" not in thor.side
    assert thor.status()["releases"][0]["status"] == "cancelled"
    refused = thor("step", "merge-stable", "2021.09")
    assert refused.exit_code == 2 and "cancelled" in refused.stderr


def test_a_released_release_cannot_be_cancelled_or_rescheduled(thor) -> None:  # type: ignore[no-untyped-def]
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor.tick("2021-09-24").exit_code == 0
    assert thor.status()["releases"][0]["status"] == "released"
    cancel = thor("release", "cancel", "2021.09")
    assert cancel.exit_code == 2 and "already released" in cancel.stderr
    move = thor("release", "reschedule", "2021.09", "--feature-freeze", "2021-09-13", "--code-freeze", "2021-09-27")
    assert move.exit_code == 2 and "released" in move.stderr  # a refusal: exit 2
    assert thor.status()["releases"][0]["status"] == "released"


def test_reschedule_before_start_moves_both_dates(thor) -> None:  # type: ignore[no-untyped-def]
    moved = thor(
        "release", "reschedule", "2021.09", "--feature-freeze", "2021-09-13", "--code-freeze", "2021-09-28",
        "--now", "2021-09-01",
    )  # fmt: skip
    assert moved.exit_code == 0, moved.stderr
    assert thor.tick("2021-09-10", "--dry-run").stdout == ""
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor.side == []
    plan = thor.tick("2021-09-13", "--dry-run")
    assert "2021.09: would start the release (feature freeze 2021-09-13)" in plan.stdout
    assert "missed start (feature freeze 2021-09-13)" in thor.tick("2021-09-17", "--dry-run").stdout
    started = thor.tick("2021-09-13")
    assert started.exit_code == 0 and "2021.09: release started (rescheduled feature freeze)" in started.stdout
    assert thor.side == ["split-branch 2021.09", "load-tests 2021.09", "release-notes 2021.09"]
    assert thor.tick("2021-09-24").exit_code == 0
    assert len(thor.side) == 3
    assert thor.tick("2021-09-28").exit_code == 0
    assert thor.side[-1] == "merge-stable 2021.09"
    detail = thor.status("2021.09")
    assert (detail["feature_freeze"], detail["code_freeze"], detail["rescheduled"]) == (
        "2021-09-13",
        "2021-09-28",
        True,
    )


def test_reschedule_after_start_moves_the_code_freeze(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure(extra='\n[schedule]\ntimezone = "America/Chicago"\n')
    assert thor.tick("2021-09-10").exit_code == 0
    moved = thor("release", "reschedule", "2021.09", "--feature-freeze", "2021-09-10", "--code-freeze", "2021-09-27")
    assert moved.exit_code == 0
    assert thor.tick("2021-09-24").exit_code == 0
    assert "merge-stable 2021.09" not in thor.side
    assert thor.tick("2021-09-26T23:59").exit_code == 0  # local time: not yet the 27th in Chicago
    assert "merge-stable 2021.09" not in thor.side
    assert thor.tick("2021-09-27").exit_code == 0
    assert thor.side[-1] == "merge-stable 2021.09"
    assert thor.status()["releases"][0]["code_freeze"] == "2021-09-27"
    assert [e["kind"] for e in thor.events()].count("release-rescheduled") == 1


def test_reschedule_rejects_bad_dates(thor) -> None:  # type: ignore[no-untyped-def]
    assert thor("db", "upgrade").exit_code == 0
    for ff, cf, message in (
        ("2021-09-20", "2021-09-13", "--code-freeze must be after --feature-freeze"),
        ("2021-09-31", "2021-10-01", "invalid --feature-freeze"),
        ("2021-09-10", "soon", "invalid --code-freeze"),
    ):
        result = thor("release", "reschedule", "2021.09", "--feature-freeze", ff, "--code-freeze", cf)
        assert result.exit_code == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert thor.status() == {"releases": []}
    unknown = thor("release", "reschedule", "2021.13", "--feature-freeze", "2021-09-10", "--code-freeze", "2021-09-20")
    assert unknown.exit_code == 2


def test_release_start_is_idempotent_and_checks_the_version(thor) -> None:  # type: ignore[no-untyped-def]
    first = thor("release", "start", "2021.09", "--now", "2021-09-01")
    assert first.exit_code == 0 and first.stdout.strip() == "release 2021.09 started"
    again = thor("release", "start", "2021.09", "--now", "2021-09-01")
    assert again.exit_code == 0 and "already started" in again.stdout
    assert thor("release", "start", "2021.13").exit_code == 2
    # Started early: steps still wait for their milestones.
    assert thor.tick("2021-09-05").exit_code == 0
    assert thor.side == []
    assert thor.steps(now="2021-09-05")["split-branch"]["detail"] == "waits for feature freeze"
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor.side[0] == "split-branch 2021.09"


def test_step_runs_one_step_regardless_of_the_calendar(thor) -> None:  # type: ignore[no-untyped-def]
    # On a fresh database, as `thor step split-branch 2021.09` promises: the release is started by hand.
    assert thor("step", "split-branch", "2021.09", "--now", "2021-09-01").exit_code == 0
    assert thor.side == ["split-branch 2021.09"]
    [started] = [e for e in thor.events() if e["kind"] == "release-started"]
    assert "by hand, to run split-branch" in started["message"] and "thor step" in started["actor"]
    blocked = thor("step", "merge-stable", "2021.09", "--now", "2021-09-01")
    assert blocked.exit_code == 2 and "waits for load-tests" in blocked.stderr and "--force" in blocked.stderr
    assert thor("step", "merge-stable", "2021.09", "--force", "--now", "2021-09-01").exit_code == 0
    assert thor.side == ["split-branch 2021.09", "merge-stable 2021.09"]
    again = thor("step", "split-branch", "2021.09", "--now", "2021-09-01")
    assert again.exit_code == 0 and "already succeeded" in again.stdout
    assert len(thor.side) == 2
    assert thor("step", "split-branch", "2021.09", "--force", "--now", "2021-09-02").exit_code == 0
    assert thor.side[-1] == "split-branch 2021.09" and len(thor.side) == 3
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("succeeded", 1)
    # The tick does not run again what was run by hand.
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor.side[3:] == ["load-tests 2021.09", "release-notes 2021.09"]


def test_step_dry_run_writes_nothing(thor) -> None:  # type: ignore[no-untyped-def]
    assert thor("db", "upgrade").exit_code == 0  # a dry run never creates the database (tests/store/test_read_only.py)
    fresh = thor("step", "split-branch", "2021.09", "--dry-run")
    assert fresh.exit_code == 0
    assert "would run sh -c echo split-branch 2021.09 >> side.txt" in fresh.stdout
    blocked = thor("step", "merge-stable", "2021.09", "--dry-run")
    assert blocked.exit_code == 0 and "but it waits for load-tests (--force runs it anyway)" in blocked.stdout
    assert "but it" not in thor("step", "merge-stable", "2021.09", "--dry-run", "--force").stdout
    assert thor.status() == {"releases": []}
    assert thor.tick("2021-09-10").exit_code == 0
    before = thor.dump()
    planned = thor("step", "merge-stable", "2021.09", "--dry-run", "--now", "2021-09-11")
    assert planned.exit_code == 0 and "would run" in planned.stdout and "but it" not in planned.stdout
    assert thor.dump() == before
    assert len(thor.side) == 3


def test_a_failing_step_run_by_hand_exits_1(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"split-branch": 'uses = "command"\nrun = ["false"]\nmax_attempts = 1\n'})
    assert thor("release", "start", "2021.09").exit_code == 0
    result = thor("step", "split-branch", "2021.09")
    assert result.exit_code == 1
    assert thor.steps()["split-branch"]["status"] == "failed"


def test_step_rejects_bad_input(thor) -> None:  # type: ignore[no-untyped-def]
    for args in (
        ("split-branch", "2021.13"),
        ("split-branch", "abc"),
        ("nope", "2021.09"),
        ("split-branch", "../x"),
    ):
        result = thor("step", *args)
        assert result.exit_code == 2, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    disabled = thor("step", "announce", "2021.09")
    assert disabled.exit_code == 2 and "disabled" in disabled.stderr


def test_retry_and_skip_refuse_steps_in_the_wrong_state(thor) -> None:  # type: ignore[no-untyped-def]
    assert thor.tick("2021-09-10").exit_code == 0
    retried = thor("retry", "2021.09", "split-branch")
    assert retried.exit_code == 2 and "already succeeded" in retried.stderr
    skipped = thor("skip", "2021.09", "split-branch", "--reason", "x")
    assert skipped.exit_code == 2 and "already succeeded" in skipped.stderr
    assert thor("retry", "2021.10", "split-branch").exit_code == 2  # not started
    assert thor("retry", "2021.09", "nope").exit_code == 2
    # Skipping a step that has not run yet is allowed: it never runs.
    assert thor("skip", "2021.09", "merge-stable", "--reason", "merged by hand").exit_code == 0
    assert thor.tick("2021-09-24").exit_code == 0
    assert "merge-stable 2021.09" not in thor.side
    assert thor.status()["releases"][0]["status"] == "released"


def test_approve_before_the_gate_opens(thor) -> None:  # type: ignore[no-untyped-def]
    thor.configure({"release-notes": 'uses = "gate"\n'})
    assert thor("release", "start", "2021.09", "--now", "2021-09-01").exit_code == 0
    approved = thor("approve", "2021.09", "release-notes", "--note", "pre-approved")
    assert approved.exit_code == 0
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor.steps()["release-notes"]["status"] == "succeeded"
    assert thor.side == ["split-branch 2021.09", "load-tests 2021.09"]
