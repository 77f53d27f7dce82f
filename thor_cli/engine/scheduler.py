"""Pure decisions: given a release, its step runs and the time, which steps are due and why the rest wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from thor_cli.clock import as_utc
from thor_cli.durations import format_duration
from thor_cli.pipeline import Pipeline, Step, effective_dependencies
from thor_cli.releases import milestone_at
from thor_cli.store.models import DONE_STEP_STATUSES, Release, ReleaseStatus, StepRun, StepStatus

Mode = Literal["run", "poll", "recover", "timeout"]


@dataclass(frozen=True)
class Decision:
    step: Step
    run: StepRun | None
    mode: Mode | None  # None: not due now
    reason: str  # why it is due, or what it waits for
    wake_at: datetime | None = None  # when it may become due without anyone acting

    @property
    def due(self) -> bool:
        return self.mode is not None


def holder_gone(run: StepRun) -> str | None:
    """Why the run's holder is provably gone (it ran on this host and its process ended), else None."""
    from thor_cli.engine.holder import Holder

    holder = Holder.load(run.lease_holder)
    return holder.gone() if holder else None


def decide(pipeline: Pipeline, release: Release, runs: dict[str, StepRun], step: Step, now: datetime) -> Decision:
    run = runs.get(step.name)
    status = run.status if run else StepStatus.PENDING
    if status in DONE_STEP_STATUSES:
        return Decision(step, run, None, status)
    if status == StepStatus.FAILED:
        return Decision(step, run, None, "failed: `thor retry` or `thor skip` it")
    if release.status in (ReleaseStatus.CANCELLED, ReleaseStatus.RELEASED) or not release.started:
        return Decision(step, run, None, f"release {release.status}")
    if status == StepStatus.RUNNING:
        assert run is not None
        expires = as_utc(run.lease_expires_at) if run.lease_expires_at else None
        if expires is None or expires <= now:
            return Decision(step, run, "recover", f"lease of {run.lease_owner} expired")
        gone = holder_gone(run)
        if gone:
            return Decision(step, run, "recover", f"holder {run.lease_owner} is gone: {gone}")
        return Decision(step, run, None, f"running ({run.lease_owner})", wake_at=expires)
    if status == StepStatus.WAITING:
        assert run is not None
        started = as_utc(run.started_at) if run.started_at else None
        if started and started + step.timeout <= now:
            return Decision(step, run, "timeout", f"timed out after {format_duration(step.timeout)}")
        if run.next_attempt_at is None:
            return Decision(step, run, None, run.detail or "waiting for a person")
        next_at = as_utc(run.next_attempt_at)
        if next_at <= now:
            return Decision(step, run, "poll", "poll")
        deadline = started + step.timeout if started else next_at
        return Decision(step, run, None, f"waiting: {run.detail}", wake_at=min(next_at, deadline))
    milestone = milestone_at(release, step.on)
    if milestone and now < milestone:
        return Decision(step, run, None, f"waits for {step.on.replace('_', ' ')}", wake_at=milestone)  # type: ignore[union-attr]
    blocked_by = unfinished_dependencies(pipeline, step, runs)
    if blocked_by:
        return Decision(step, run, None, f"waits for {', '.join(blocked_by)}")
    if run and run.next_attempt_at and as_utc(run.next_attempt_at) > now:
        retry_at = as_utc(run.next_attempt_at)
        return Decision(step, run, None, f"retry after {retry_at:%Y-%m-%d %H:%M} UTC", wake_at=retry_at)
    return Decision(step, run, "run", "due")


def unfinished_dependencies(pipeline: Pipeline, step: Step, runs: dict[str, StepRun]) -> list[str]:
    """The enabled steps this one waits for that have neither succeeded nor been skipped."""
    return [
        name
        for name in effective_dependencies(pipeline, step)
        if name not in runs or runs[name].status not in DONE_STEP_STATUSES
    ]


def decisions(pipeline: Pipeline, release: Release, runs: dict[str, StepRun], now: datetime) -> list[Decision]:
    return [decide(pipeline, release, runs, step, now) for step in pipeline.enabled]


def next_due_step(pipeline: Pipeline, release: Release, runs: dict[str, StepRun], now: datetime) -> str | None:
    """The first step not yet done, for `thor status`; none for a release that will not go on."""
    if release.status in (ReleaseStatus.CANCELLED, ReleaseStatus.RELEASED) or not release.started:
        return None
    for decision in decisions(pipeline, release, runs, now):
        if decision.run is None or decision.run.status not in DONE_STEP_STATUSES:
            return decision.step.name
    return None
