"""Exactly once under interleavings forced in one process: two finishers at once, a cancel racing a late step,
a holder that lost its lease. Each interleaving is set up with failpoints (``thor_cli.engine.failpoints``) and
barriers, never with sleeps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Thor
from tests.support import query, wait_for
from thor_cli.engine import failpoints
from thor_cli.engine.context import EngineStepContext, LeaseLost
from thor_cli.engine.reporting import Reporter
from thor_cli.engine.runner import ensure_step_runs
from thor_cli.engine.steering import Conflict, cancel_release, run_step
from thor_cli.releases import find_release, release_info
from thor_cli.runtime import Runtime
from thor_cli.steps.base import RepoRecord
from thor_cli.store import leases
from thor_cli.store.models import StepStatus

NOW = "2021-09-10T09:00"
VERSION = "2021.09"
# split-branch first; then load-tests and release-notes, the release's last two steps, side by side.
LAST_TWO = {"merge-stable": ""}


@pytest.fixture(autouse=True)
def _no_failpoints() -> Iterator[None]:
    failpoints.clear()
    yield
    failpoints.clear()


@pytest.fixture
def pg_thor(tmp_path: Path, postgres_url: str, run_thor) -> Thor:  # type: ignore[no-untyped-def]
    return Thor(tmp_path, postgres_url, run_thor)


def runtime(thor: Thor) -> Runtime:
    assert thor.config is not None
    return Runtime.create(thor.config, NOW)


def in_thread(target: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``target(*args)`` in a thread; its result (or exception) lands in the returned list."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(target(*args))
        except BaseException as exc:  # handed to the test
            box.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def step(thor: Thor, name: str) -> Any:
    rt = runtime(thor)
    try:
        return run_step(rt, VERSION, name, Reporter())
    finally:
        rt.close()


def test_the_last_two_steps_finishing_at_once_release_the_release(pg_thor: Thor) -> None:
    pg_thor.configure(LAST_TWO)
    assert pg_thor("step", "split-branch", VERSION, "--now", NOW).exit_code == 0
    # Both finishers have written their step and neither has derived the release status yet.
    barrier = threading.Barrier(2, timeout=30)
    failpoints.install("before-release-status", barrier.wait)
    threads = [in_thread(step, pg_thor, name) for name in ("load-tests", "release-notes")]
    for thread, _ in threads:
        thread.join(60)
    outcomes = [box[0] for _, box in threads]
    assert not [o for o in outcomes if isinstance(o, BaseException)], [str(o) for o in outcomes]
    assert [o.status for o in outcomes] == ["succeeded", "succeeded"], outcomes
    # The second to take the release's row lock saw the first's step: the release is released, not stuck.
    assert pg_thor.status()["releases"][0]["status"] == "released"
    assert [e["kind"] for e in pg_thor.events()].count("release-released") == 1


def test_a_cancel_committed_before_a_late_step_records_keeps_the_release_cancelled(thor: Thor) -> None:
    thor.configure(LAST_TWO | {"release-notes": ""})
    assert thor("step", "split-branch", VERSION, "--now", NOW).exit_code == 0
    claimed, go = threading.Event(), threading.Event()

    def hold() -> None:
        claimed.set()
        assert go.wait(30)

    failpoints.install("step-claimed", hold)
    worker, box = in_thread(step, thor, "load-tests")
    assert claimed.wait(30)
    failpoints.clear()
    rt = runtime(thor)
    assert cancel_release(rt, VERSION, "changed our minds") == f"release {VERSION} cancelled"
    rt.close()
    go.set()
    worker.join(60)
    assert box[0].status == "succeeded"  # the late step's result is recorded...
    assert thor.steps()["load-tests"]["status"] == "succeeded"
    release = thor.status()["releases"][0]
    assert release["status"] == "cancelled"  # ...and changes no release status
    assert release["next_step"] is None
    assert "release-released" not in [e["kind"] for e in thor.events()]


def test_a_cancel_waits_for_a_finisher_holding_the_release_and_then_tells_the_truth(pg_thor: Thor) -> None:
    pg_thor.configure(LAST_TWO | {"release-notes": ""})
    assert pg_thor("step", "split-branch", VERSION, "--now", NOW).exit_code == 0
    locked, go = threading.Event(), threading.Event()

    def hold() -> None:
        locked.set()
        assert go.wait(30)

    failpoints.install("release-locked", hold)
    worker, _ = in_thread(step, pg_thor, "load-tests")
    assert locked.wait(30)
    rt = runtime(pg_thor)
    canceller, verdict = in_thread(cancel_release, rt, VERSION, None)
    # The named point: the cancel is blocked on the release's row lock that the finisher holds.
    database = pg_thor.database_url.rsplit("/", 1)[1]
    wait_for(
        lambda: query(
            pg_thor.database_url,
            "SELECT 1 FROM pg_stat_activity WHERE datname = :d AND wait_event_type = 'Lock'",
            d=database,
        ),
        "the cancel to wait for the release's lock",
    )
    go.set()
    worker.join(60)
    canceller.join(60)
    rt.close()
    # Serialised: the release was released first, and the cancel says so instead of overwriting it.
    assert isinstance(verdict[0], Conflict) and "already released" in verdict[0].message
    assert pg_thor.status()["releases"][0]["status"] == "released"


def test_a_holder_that_lost_its_lease_writes_nothing_at_all(thor: Thor) -> None:
    thor.configure(LAST_TWO, extra='[slack]\nchannel = "#releases"\n[notify]\necho = true\n')
    assert thor("release", "start", VERSION, "--now", NOW).exit_code == 0
    rt = runtime(thor)
    release = find_release(rt, VERSION)
    assert release is not None
    run = ensure_step_runs(rt, release)["load-tests"]
    now = rt.clock.now()
    with rt.store.transaction() as tx:  # this process holds the step...
        assert leases.claim(tx, run, owner=rt.owner, holder="{}", lease_until=now)
    with rt.store.session() as session:
        mine = leases.reload(session, run.id)  # type: ignore[arg-type]
    with rt.store.transaction() as tx:  # ...until another takes it over after the lease expired
        assert leases.claim(tx, mine, owner="other-host:1:cafe", holder="{}", lease_until=now)
    info = release_info(release, "UTC")
    step_def = rt.pipeline.get("load-tests")
    assert step_def is not None
    ctx = EngineStepContext(rt, release, info, step_def, mine, force=False, reporter=Reporter(), actor="tick")
    before = thor.dump()
    for write in (
        lambda: ctx.record_repo(RepoRecord("uc-cdis/fence", "succeeded")),
        lambda: ctx.log("pushed"),
        lambda: ctx.notify("announcing twice?", broadcast=True),
        lambda: ctx.save_state(build_number=7),
    ):
        with pytest.raises(LeaseLost):
            write()
    assert thor.dump() == before  # no result, no event, no outbox row, no state
    with rt.store.session() as session:
        row = leases.reload(session, run.id)  # type: ignore[arg-type]
    assert (row.status, row.lease_owner) == (StepStatus.RUNNING, "other-host:1:cafe")
    rt.close()
