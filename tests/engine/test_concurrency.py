"""Exactly once across processes: concurrent ticks, and a tick killed mid-step whose lease then expires."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support import command, spawn, wait_for

pytestmark = pytest.mark.slow

SLOW_STEPS = {
    name: command("sh", "-c", f"echo start {name} >> side.txt; sleep 1; echo done {name} >> side.txt")
    for name in ("split-branch", "load-tests")
} | {"release-notes": command("sh", "-c", "echo start release-notes >> side.txt")}


def test_ticks_at_the_same_moment_run_each_step_once(thor) -> None:  # type: ignore[no-untyped-def]
    config = thor.configure(SLOW_STEPS)
    processes = [spawn(config, "tick", "--now", "2021-09-10T09:00") for _ in range(2)]
    # And one that surely arrives while a step is running.
    wait_for(lambda: "start split-branch" in thor.side)
    processes.append(spawn(config, "tick", "--now", "2021-09-10T09:00"))
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        results.append((process.returncode, stdout, stderr))
    assert [code for code, _, _ in results] == [0, 0, 0], results
    assert all("Traceback" not in stderr for _, _, stderr in results)
    expected = [
        "start split-branch",
        "done split-branch",
        "start load-tests",
        "done load-tests",
        "start release-notes",
    ]
    assert sorted(thor.side) == sorted(expected)
    assert thor.side.index("done split-branch") < thor.side.index("start load-tests")
    announced = "".join(stdout for _, stdout, _ in results)
    assert announced.count("release started") == 1
    assert announced.count("split-branch: succeeded") == 1
    steps = thor.steps()
    for name in ("split-branch", "load-tests", "release-notes"):
        assert (steps[name]["status"], steps[name]["attempts"]) == ("succeeded", 1), name
    started = [e["step"] for e in thor.events() if e["kind"] == "started"]
    assert sorted(started) == ["load-tests", "release-notes", "split-branch"]
    assert [e["kind"] for e in thor.events()].count("release-started") == 1


def test_a_killed_tick_is_taken_over_after_its_lease_expires(thor) -> None:  # type: ignore[no-untyped-def]
    delay = thor.dir / "delay"
    delay.write_text("60\n")
    config = thor.configure(
        {
            "split-branch": 'uses = "command"\ntimeout = "1m"\n'
            'run = ["sh", "-c", "echo begin >> side.txt; sleep $(cat delay); echo completed >> side.txt"]\n',
            "load-tests": "",
            "release-notes": "",
            "merge-stable": "",
        }
    )
    process = spawn(config, "tick", "--now", "2021-09-10T09:00")
    try:
        wait_for(lambda: "begin" in thor.side)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert thor.side == ["begin"]
    split = thor.steps(now="2021-09-10T09:00")["split-branch"]
    assert (split["status"], split["attempts"]) == ("running", 1)

    delay.write_text("0\n")
    # The lease (timeout 1m + 5m margin) is held by the dead process: nobody runs the step meanwhile.
    for now in ("2021-09-10T09:00", "2021-09-10T09:05"):
        held = thor.tick(now)
        assert held.exit_code == 0, held.stderr
        assert held.stdout == ""
        assert thor.side == ["begin"]
    assert thor.steps()["split-branch"]["status"] == "running"

    recovered = thor.tick("2021-09-10T09:10")
    assert recovered.exit_code == 0, recovered.stderr
    assert "split-branch: succeeded" in recovered.stdout
    assert thor.side == ["begin", "begin", "completed"]
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("succeeded", 2)
    kinds = [e["kind"] for e in thor.events(step="split-branch")]
    assert kinds == ["started", "recovered", "started", "succeeded"]
    assert thor.status()["releases"][0]["status"] == "released"


def test_processes_meeting_an_empty_database_create_the_schema_once(thor) -> None:  # type: ignore[no-untyped-def]
    config = thor.configure()
    # Commands that write create the schema (read-only ones never do): four ticks on a day with nothing due.
    processes = [spawn(config, "tick", "--now", "2021-09-01") for _ in range(4)]
    results = [(p.communicate(timeout=60), p.returncode) for p in processes]
    assert [code for _, code in results] == [0, 0, 0, 0], results
    assert all(out == "" for (out, _), _ in results), results
    assert thor.dump()["alembic_version"] == [("0001",)]
