"""Claiming step runs: compare-and-set on a revision counter, the same on PostgreSQL and SQLite.

A claim is one UPDATE guarded by the revision the claimer read. Whoever commits first wins; the other sees
zero rows updated and moves on. A claim carries a lease that the holder renews while it works (a heartbeat);
a run whose holder died is taken over once the lease has expired, or at once when the holder is provably gone.
Every later write by the holder is guarded by its ownership of the lease, in the same transaction as the write,
so a holder that lost its lease cannot write anything at all: not its state, not a per-repository result,
not an event, not a Slack message.

None of these functions commits: the caller's unit of work does.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from thor_cli.store.models import StepRun, StepStatus


def claim(session: Session, run: StepRun, *, owner: str, holder: str, lease_until: datetime, **values: Any) -> bool:
    """Take the run for ``owner`` if nobody changed it since it was read; ``values`` are written with the claim."""
    statement = (
        update(StepRun)
        .where(col(StepRun.id) == run.id, col(StepRun.revision) == run.revision)
        .values(
            status=StepStatus.RUNNING,
            lease_owner=owner,
            lease_holder=holder,
            lease_expires_at=lease_until,
            revision=StepRun.revision + 1,
            **values,
        )
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]


def held(session: Session, run_id: int, owner: str, **values: Any) -> bool:
    """Write ``values`` to a run only while ``owner`` holds it; False (nothing written) once the lease is lost.

    This is the guard of every write a holder makes: the caller writes the rest of its unit of work only
    after it returned True, and rolls the unit back otherwise.
    """
    statement = (
        update(StepRun)
        .where(
            col(StepRun.id) == run_id,
            col(StepRun.lease_owner) == owner,
            col(StepRun.status) == StepStatus.RUNNING,
        )
        .values(revision=StepRun.revision + 1, **values)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]


def unheld(session: Session, run: StepRun, **values: Any) -> bool:
    """A person's change (retry, skip, approve) to a run, if it did not change since it was read."""
    statement = (
        update(StepRun)
        .where(col(StepRun.id) == run.id, col(StepRun.revision) == run.revision)
        .values(revision=StepRun.revision + 1, **values)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]


def reload(session: Session, run_id: int) -> StepRun:
    fresh = session.get(StepRun, run_id, populate_existing=True)
    assert fresh is not None, f"step run #{run_id} vanished"
    return fresh


def load_state(run: StepRun) -> dict[str, Any]:
    try:
        value = json.loads(run.state or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def dump_state(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, default=str)
