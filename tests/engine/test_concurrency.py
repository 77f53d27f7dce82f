"""Exactly once across processes: concurrent ticks, and a tick killed mid-step whose lease then expires."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support import alive, child_groups_recorded, command, spawn, wait_for

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


KILLABLE = {
    "split-branch": 'uses = "command"\ntimeout = "1m"\n'
    'run = ["sh", "-c", "echo $$ >> pids; echo begin >> side.txt; sleep $(cat delay); echo completed >> side.txt"]\n',
    "load-tests": "",
    "release-notes": "",
    "merge-stable": "",
}


def _kill_during_split(thor) -> int:  # type: ignore[no-untyped-def]
    """Start a tick, SIGKILL its process group while split-branch's child sleeps; the child's pid."""
    (thor.dir / "delay").write_text("60\n")
    config = thor.configure(KILLABLE)
    process = spawn(config, "tick", "--now", "2021-09-10T09:00")
    try:
        # The named point: the child runs and its process group is recorded with the lease.
        wait_for(lambda: "begin" in thor.side and child_groups_recorded(thor.database_url, "split-branch"))
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    split = thor.steps(now="2021-09-10T09:00")["split-branch"]
    assert (split["status"], split["attempts"]) == ("running", 1)
    (thor.dir / "delay").write_text("0\n")
    return int((thor.dir / "pids").read_text().split()[0])


def test_a_killed_tick_on_this_host_is_taken_over_at_once(thor) -> None:  # type: ignore[no-untyped-def]
    child = _kill_during_split(thor)
    # The holder's pid is gone from this host: that is proof enough, no need to wait for the lease.
    recovered = thor.tick("2021-09-10T09:00")
    assert recovered.exit_code == 0, recovered.stderr
    assert "split-branch: succeeded" in recovered.stdout
    assert not alive(child), "a child of the killed tick survived the takeover"
    assert thor.side == ["begin", "begin", "completed"]
    split = thor.steps()["split-branch"]
    assert (split["status"], split["attempts"]) == ("succeeded", 2)
    kinds = [e["kind"] for e in thor.events(step="split-branch")]
    assert kinds == ["started", "recovered", "started", "succeeded"]
    recovered_event = thor.events(step="split-branch")[1]["message"]
    assert "no longer exists" in recovered_event
    assert thor.status()["releases"][0]["status"] == "released"


def test_a_holder_on_another_host_keeps_its_lease_until_it_expires(thor) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from thor_cli.store.db import make_engine

    _kill_during_split(thor)
    engine = make_engine(thor.database_url)
    with engine.begin() as connection:  # as if the dead tick had run on another cron host
        connection.execute(
            text("UPDATE thor_step_run SET lease_holder = :h WHERE name = 'split-branch'"),
            {"h": '{"host": "another-host", "pid": 1, "pid_start": "1", "pgids": []}'},
        )
    engine.dispose()
    # Nothing can be proved about another host: the lease (10 minutes by default) rules.
    for now in ("2021-09-10T09:00", "2021-09-10T09:09"):
        held = thor.tick(now)
        assert held.exit_code == 0, held.stderr
        assert held.stdout == ""
        assert thor.side == ["begin"]
    recovered = thor.tick("2021-09-10T09:11")
    assert recovered.exit_code == 0, recovered.stderr
    assert "split-branch: succeeded" in recovered.stdout
    assert "its lease expired" in thor.events(step="split-branch")[1]["message"]


def test_processes_meeting_an_empty_database_create_the_schema_once(thor) -> None:  # type: ignore[no-untyped-def]
    config = thor.configure()
    # Commands that write create the schema (read-only ones never do): four ticks on a day with nothing due.
    processes = [spawn(config, "tick", "--now", "2021-09-01") for _ in range(4)]
    results = [(p.communicate(timeout=60), p.returncode) for p in processes]
    assert [code for _, code in results] == [0, 0, 0, 0], results
    assert all(out == "" for (out, _), _ in results), results
    from thor_cli.store.schema import HEAD_REVISION

    assert thor.dump()["alembic_version"] == [(HEAD_REVISION,)]
