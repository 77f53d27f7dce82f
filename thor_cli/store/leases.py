"""Claiming step runs: compare-and-set on a revision counter, the same on PostgreSQL and SQLite.

A claim is one UPDATE guarded by the revision the claimer read. Whoever commits first wins; the other
sees zero rows updated and moves on. A claim carries a lease: a run whose process died is taken over once
the lease has expired. Every later write by the holder is guarded by owner and revision, so a holder that
lost its lease cannot overwrite the new owner's work.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from thor_cli.store.models import StepRun, StepStatus


def claim(
    session: Session,
    run: StepRun,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    new_attempt: bool,
) -> StepRun | None:
    """Take the run for ``owner``; None when someone else changed it since it was read."""
    values: dict[str, Any] = {
        "status": StepStatus.RUNNING,
        "lease_owner": owner,
        "lease_expires_at": lease_until,
        "revision": StepRun.revision + 1,
        "updated_at": now,
    }
    if new_attempt:
        values["attempts"] = StepRun.attempts + 1
        values["started_at"] = now
        values["finished_at"] = None
    statement = update(StepRun).where(col(StepRun.id) == run.id, col(StepRun.revision) == run.revision).values(**values)
    result = session.execute(statement)
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return _reload(session, run)


def _reload(session: Session, run: StepRun) -> StepRun:
    """The row as stored now; callers may hold a copy read in another session."""
    fresh = session.get(StepRun, run.id, populate_existing=True)
    assert fresh is not None
    return fresh


def update_held(session: Session, run: StepRun, owner: str, *, commit: bool = True, **values: Any) -> StepRun | None:
    """Write to a run we hold; None (and nothing written) if our lease was lost.

    With ``commit=False`` the caller commits, so that what else it records (events, outbox messages)
    lands in the same transaction as the new state, or not at all.
    """
    return _guarded_update(session, run, col(StepRun.lease_owner) == owner, commit=commit, values=values)


def update_unheld(session: Session, run: StepRun, *, commit: bool = True, **values: Any) -> StepRun | None:
    """A person's change (retry, skip, approve) to a run nobody holds; None if it changed meanwhile."""
    return _guarded_update(session, run, None, commit=commit, values=values)


def _guarded_update(
    session: Session, run: StepRun, extra: Any, *, commit: bool, values: dict[str, Any]
) -> StepRun | None:
    conditions = [col(StepRun.id) == run.id, col(StepRun.revision) == run.revision]
    if extra is not None:
        conditions.append(extra)
    result = session.execute(update(StepRun).where(*conditions).values(revision=StepRun.revision + 1, **values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    if commit:
        session.commit()
    return _reload(session, run)


def load_state(run: StepRun) -> dict[str, Any]:
    try:
        value = json.loads(run.state or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def dump_state(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, default=str)
