"""SQLModel tables. Times are stored in UTC (SQLite hands them back naive; see ``clock.as_utc``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class ReleaseStatus(StrEnum):
    PENDING = "pending"  # known to Thor (rescheduled ahead of time) but not started yet
    ACTIVE = "active"
    BLOCKED = "blocked"
    RELEASED = "released"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


DONE_STEP_STATUSES = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})


def _time(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class Release(SQLModel, table=True):
    __tablename__ = "thor_release"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=64, unique=True, index=True)
    codename: str | None = Field(default=None, max_length=128)
    feature_freeze: datetime = Field(sa_column=_time(nullable=False))
    code_freeze: datetime = Field(sa_column=_time(nullable=False))
    integration_branch: str = Field(max_length=255)
    stable_branch: str = Field(max_length=255)
    status: str = Field(default=ReleaseStatus.ACTIVE, max_length=16, index=True)
    rescheduled: bool = False
    # A release declined before it began exists only to stop tick from starting it.
    started: bool = True
    slack_channel: str | None = Field(default=None, max_length=128)
    slack_thread_ts: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=_time(nullable=False))
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class StepRun(SQLModel, table=True):
    __tablename__ = "thor_step_run"
    __table_args__ = (
        UniqueConstraint("release_id", "name", name="uq_step_run_release_name"),
        Index("ix_step_run_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="thor_release.id", index=True)
    name: str = Field(max_length=128)
    status: str = Field(default=StepStatus.PENDING, max_length=16)
    attempts: int = 0
    started_at: datetime | None = Field(default=None, sa_column=_time())
    finished_at: datetime | None = Field(default=None, sa_column=_time())
    next_attempt_at: datetime | None = Field(default=None, sa_column=_time())
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = Field(default=None, sa_column=_time())
    # JSON {"host", "pid", "pid_start", "pgids"}: lets a takeover on the same host prove the holder is gone
    # and make sure none of its children still run (see thor_cli.engine.holder).
    lease_holder: str | None = Field(default=None, sa_column=Column(Text))
    external_ref: str | None = Field(default=None, max_length=1024)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    output: str | None = Field(default=None, sa_column=Column(Text))
    state: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    # Compare-and-set counter: every claim and release of a step run bumps it.
    revision: int = 0
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class RepoResult(SQLModel, table=True):
    __tablename__ = "thor_repo_result"
    __table_args__ = (UniqueConstraint("release_id", "step", "repo", name="uq_repo_result"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="thor_release.id", index=True)
    step: str = Field(max_length=128)
    repo: str = Field(max_length=255)
    status: str = Field(max_length=16)
    sha: str | None = Field(default=None, max_length=64)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class Event(SQLModel, table=True):
    """Append-only: who or what did what, when."""

    __tablename__ = "thor_event"
    __table_args__ = (Index("ix_event_release_at", "release_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: int | None = Field(default=None, foreign_key="thor_release.id")
    step: str | None = Field(default=None, max_length=128)
    at: datetime = Field(sa_column=_time(nullable=False))
    actor: str = Field(max_length=255)
    kind: str = Field(max_length=64)
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    output: str | None = Field(default=None, sa_column=Column(Text))


class OutboxMessage(SQLModel, table=True):
    """A Slack message recorded before it is sent, so an outage delays it but never loses or doubles it."""

    __tablename__ = "thor_outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: int | None = Field(default=None, foreign_key="thor_release.id")
    kind: str = Field(max_length=32)  # thread | reply | update | broadcast
    text: str = Field(sa_column=Column(Text, nullable=False))
    blocks: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | dropped | undeliverable
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = Field(default=None, sa_column=_time())
    slack_ts: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=_time(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_time())
