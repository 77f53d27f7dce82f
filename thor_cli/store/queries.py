"""Reads and writes of releases, per-repository results and the event log.

Functions take an open ``Session`` (a unit of work from ``Store.transaction()``) and the current time from the
caller (the one clock). None of them commits or rolls back: what is atomic is decided where the transaction is
opened, in the engine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from thor_cli.secrets import redact
from thor_cli.store.models import Event, Release, RepoResult, StepRun


def get_release(session: Session, version: str) -> Release | None:
    return session.exec(select(Release).where(Release.version == version)).first()


def lock_release(session: Session, release_id: int) -> Release:
    """The release row, re-read under a write lock held until the transaction ends.

    Whoever derives the release's status from its steps holds this lock, so the last of two processes
    finishing steps at the same moment always sees the other's step (PostgreSQL READ COMMITTED reads what
    was committed before each statement; the lock makes the second wait for the first's commit). On SQLite
    the no-op UPDATE takes the database's write lock, which serialises writers the same way.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Release).where(col(Release.id) == release_id).values(id=Release.id))
        release = session.get(Release, release_id, populate_existing=True)
    else:
        # FOR NO KEY UPDATE: it serialises the finishers yet, unlike FOR UPDATE, does not conflict with the
        # KEY SHARE locks that inserting events and outbox rows (foreign keys to the release) take.
        query = select(Release).where(col(Release.id) == release_id).with_for_update(key_share=True)
        release = session.exec(query.execution_options(populate_existing=True)).one()
    assert release is not None, f"release #{release_id} vanished"
    return release


def list_releases(session: Session, statuses: Sequence[str] | None = None) -> list[Release]:
    query = select(Release)
    if statuses:
        query = query.where(col(Release.status).in_(list(statuses)))
    return list(session.exec(query.order_by(col(Release.feature_freeze), col(Release.version))))


def insert_release(session: Session, release: Release) -> tuple[Release, bool]:
    """Insert unless another process already did; returns the stored row and whether we created it.

    A savepoint keeps a lost race from spoiling the caller's transaction.
    """
    try:
        with session.begin_nested():
            session.add(release)
        return release, True
    except IntegrityError:
        existing = get_release(session, release.version)
        assert existing is not None, "unique violation without a row"
        return existing, False


def step_runs(session: Session, release_id: int) -> dict[str, StepRun]:
    rows = session.exec(
        select(StepRun).where(StepRun.release_id == release_id).execution_options(populate_existing=True)
    ).all()
    return {row.name: row for row in rows}


def step_counts(session: Session) -> dict[int, dict[str, int]]:
    """release id → step status → count, in one query for `thor status`."""
    rows = session.exec(
        select(StepRun.release_id, StepRun.status, func.count()).group_by(StepRun.release_id, StepRun.status)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for release_id, status, count in rows:
        counts.setdefault(release_id, {})[status] = count
    return counts


def add_event(
    session: Session,
    *,
    at: datetime,
    actor: str,
    kind: str,
    message: str,
    release_id: int | None = None,
    step: str | None = None,
    output: str | None = None,
) -> None:
    session.add(
        Event(
            release_id=release_id,
            step=step,
            at=at,
            actor=actor,
            kind=kind,
            message=redact(message),
            output=redact(output) if output else None,
        )
    )


def events(session: Session, release_id: int, step: str | None = None) -> list[Event]:
    query = select(Event).where(Event.release_id == release_id)
    if step:
        query = query.where(Event.step == step)
    return list(session.exec(query.order_by(col(Event.id))))


def upsert_repo_result(
    session: Session,
    *,
    release_id: int,
    step: str,
    repo: str,
    status: str,
    sha: str | None,
    detail: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    row = session.exec(
        select(RepoResult).where(RepoResult.release_id == release_id, RepoResult.step == step, RepoResult.repo == repo)
    ).first()
    if row is None:
        row = RepoResult(release_id=release_id, step=step, repo=repo, status=status, updated_at=now)
    row.status, row.sha, row.detail = status, sha, redact(detail)
    row.data, row.updated_at = json.dumps(data, sort_keys=True), now
    session.add(row)


def repo_results(session: Session, release_id: int, step: str) -> list[RepoResult]:
    query = select(RepoResult).where(RepoResult.release_id == release_id, RepoResult.step == step)
    return list(session.exec(query.order_by(col(RepoResult.repo))))
