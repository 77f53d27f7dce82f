"""What a release engineer does by hand: run one step, retry, skip, approve, start, cancel, reschedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from thor_cli import notify
from thor_cli.engine.context import EngineStepContext
from thor_cli.engine.reporting import Reporter
from thor_cli.engine.runner import (
    Outcome,
    ensure_step_runs,
    execute,
    record_release_start,
    refresh_release_status,
)
from thor_cli.engine.scheduler import decide, unfinished_dependencies
from thor_cli.errors import ThorError, UsageError
from thor_cli.pipeline import Step
from thor_cli.releases import (
    check_version,
    local_midnight,
    new_release,
    release_info,
    require_release,
    resolve_cycle,
)
from thor_cli.runtime import Runtime
from thor_cli.store import leases, queries
from thor_cli.store.models import DONE_STEP_STATUSES, Release, ReleaseStatus, StepRun, StepStatus


class Conflict(ThorError):
    """The step is not in a state that allows the request (someone else is running it, say)."""


def pipeline_step(rt: Runtime, name: str) -> Step:
    step = rt.pipeline.get(name)
    if step is None:
        raise UsageError(f"unknown step {name!r} (steps: {', '.join(rt.pipeline.names)})")
    if not step.enabled:
        raise UsageError(f"step {name!r} is disabled in the configuration")
    return step


def _load(rt: Runtime, version: str, step_name: str) -> tuple[Release, Step, StepRun]:
    step = pipeline_step(rt, step_name)
    release = require_release(rt, version)
    runs = ensure_step_runs(rt, release)
    return release, step, runs[step.name]


@dataclass(frozen=True)
class DryRun:
    version: str
    step: str
    would: str
    blocked_by: str | None


def run_step(
    rt: Runtime,
    version: str,
    step_name: str,
    reporter: Reporter,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> Outcome | DryRun:
    """Run one step now, whatever the calendar says; dependencies must have succeeded unless ``force``."""
    if dry_run:
        # Read-only: do not create the release or its step runs.
        step = pipeline_step(rt, step_name)
        check_version(rt, version)
        with rt.store.session() as session:
            release = queries.get_release(session, version)
            runs = queries.step_runs(session, release.id) if release else {}  # type: ignore[arg-type]
        if release is None:
            release = new_release(rt, resolve_cycle(rt, version))
        info = release_info(release, rt.settings.config.schedule.timezone)
        would = step.step_type.describe(_PreviewContext(rt, info, step))  # type: ignore[arg-type]
        waiting_for = unfinished_dependencies(rt.pipeline, step, runs)
        blocked = f"waits for {', '.join(waiting_for)}" if waiting_for else None
        return DryRun(version, step.name, would, None if force else blocked)
    release, step, run = _load(rt, version, step_name)
    if release.status == ReleaseStatus.CANCELLED:
        raise UsageError(f"release {version} is cancelled")
    if run.status == StepStatus.SUCCEEDED and not force:
        return Outcome(version, step.name, run.status, "already succeeded (use --force to run it again)")
    runs = _runs(rt, release)
    # Checked apart from the schedule: a step run by hand ignores its milestone, never its dependencies.
    waiting_for = unfinished_dependencies(rt.pipeline, step, runs)
    if waiting_for and not force:
        raise Conflict(f"{step.name} waits for {', '.join(waiting_for)} (use --force to run it anyway)")
    decision = decide(rt.pipeline, release, runs, step, rt.clock.now())
    if run.status == StepStatus.RUNNING and decision.mode != "recover":
        raise Conflict(f"{step.name} is running in {run.lease_owner}")
    mode = "poll" if run.status == StepStatus.WAITING else "run"
    if run.status in (StepStatus.FAILED, StepStatus.SUCCEEDED, StepStatus.SKIPPED):
        run = _rearm(rt, run, actor=f"thor step ({rt.who})", reason="run by hand")
    return execute(rt, release, step, run, mode, reporter=reporter, actor=f"thor step ({rt.who})", force=force)


def _runs(rt: Runtime, release: Release) -> dict[str, StepRun]:
    with rt.store.session() as session:
        return queries.step_runs(session, release.id)  # type: ignore[arg-type]


class _PreviewContext(EngineStepContext):
    """Just enough context for ``describe``: it must not write."""

    def __init__(self, rt: Runtime, info, step: Step) -> None:  # type: ignore[no-untyped-def]
        self.rt, self.release, self.step, self.step_name = rt, info, step, step.name
        self.options, self.settings, self.clock, self.timeout = (
            step.options,
            rt.settings,
            rt.clock,
            step.timeout,
        )
        self.force, self.attempt, self.started_at = False, 0, None
        self._state = {}


def _rearm(rt: Runtime, run: StepRun, *, actor: str, reason: str) -> StepRun:
    now = rt.clock.now()
    with rt.store.session() as session:
        state = leases.load_state(run)
        state.pop("_waiting", None)
        fresh = leases.update_unheld(
            session,
            run,
            commit=False,  # with its event, below
            status=StepStatus.PENDING,
            attempts=0,
            next_attempt_at=None,
            finished_at=None,
            state=leases.dump_state(state),
            detail=f"re-armed: {reason}",
            updated_at=now,
        )
        if fresh is None:
            raise Conflict(f"{run.name} changed while re-arming it; try again")
        queries.add_event(
            session,
            at=now,
            actor=actor,
            kind="rearmed",
            release_id=fresh.release_id,
            step=fresh.name,
            message=reason,
        )
        return fresh


def retry(rt: Runtime, version: str, step_name: str) -> str:
    release, step, run = _load(rt, version, step_name)
    if run.status not in (StepStatus.FAILED, StepStatus.PENDING, StepStatus.WAITING, StepStatus.SKIPPED):
        raise Conflict(f"{step.name} is {run.status}; only a failed, skipped or waiting step can be retried")
    _rearm(rt, run, actor=rt.who, reason="thor retry")
    _refresh(rt, release)
    return f"{version} {step.name} re-armed: the next tick runs it"


def skip(rt: Runtime, version: str, step_name: str, reason: str) -> str:
    if not reason.strip():
        raise UsageError("--reason is required: say why the step is skipped")
    release, step, run = _load(rt, version, step_name)
    if run.status in DONE_STEP_STATUSES:
        raise Conflict(f"{step.name} is already {run.status}")
    if run.status == StepStatus.RUNNING:
        raise Conflict(f"{step.name} is running in {run.lease_owner}; wait for it or its lease to expire")
    _finish_by_hand(rt, release, run, StepStatus.SKIPPED, f"skipped by {rt.who}: {reason}", kind="skipped")
    return f"{version} {step.name} skipped"


def approve(rt: Runtime, version: str, step_name: str, note: str | None) -> str:
    release, step, run = _load(rt, version, step_name)
    if step.uses != "gate":
        raise UsageError(f"{step.name} is a {step.uses} step, not a gate")
    if run.status == StepStatus.SUCCEEDED:
        return f"{version} {step.name} was already approved"
    if run.status == StepStatus.RUNNING:
        raise Conflict(f"{step.name} is being checked by {run.lease_owner}; try again in a moment")
    detail = f"approved by {rt.who}" + (f": {note}" if note else "")
    _finish_by_hand(
        rt, release, run, StepStatus.SUCCEEDED, detail, kind="approved", state_update={"approved_by": rt.who}
    )
    return f"{version} {step.name} approved"


def _finish_by_hand(
    rt: Runtime,
    release: Release,
    run: StepRun,
    status: str,
    detail: str,
    *,
    kind: str,
    state_update: dict | None = None,
) -> None:
    now = rt.clock.now()
    with rt.store.session() as session:
        state = leases.load_state(run) | (state_update or {})
        state.pop("_waiting", None)
        if (
            leases.update_unheld(
                session,
                run,
                commit=False,
                status=status,
                detail=detail,
                finished_at=now,
                next_attempt_at=None,
                state=leases.dump_state(state),
                updated_at=now,
            )
            is None
        ):
            raise Conflict(f"{run.name} changed meanwhile; try again")
        # The new state, its event and its messages commit together.
        queries.add_event(
            session,
            at=now,
            actor=rt.who,
            kind=kind,
            release_id=release.id,
            step=run.name,
            message=detail,
            commit=False,
        )
        notify.step_finished(rt, session, release, run.name, kind, detail, None)
        refresh_release_status(rt, session, release, actor=rt.who)
        session.commit()


def _refresh(rt: Runtime, release: Release) -> None:
    with rt.store.session() as session:
        refresh_release_status(rt, session, release, actor=rt.who)
        session.commit()


def start_release(rt: Runtime, version: str) -> str:
    cycle = resolve_cycle(rt, version)
    now = rt.clock.now()
    with rt.store.session() as session:
        existing = queries.get_release(session, version)
        if existing is not None and existing.started and existing.status != ReleaseStatus.CANCELLED:
            return f"release {version} has already started ({existing.status})"
        if existing is not None:
            existing.started, existing.status, existing.updated_at = True, ReleaseStatus.ACTIVE, now
            session.add(existing)
            session.commit()
            release = existing
        else:
            release, created = queries.insert_release(session, new_release(rt, cycle))
            if not created:
                return f"release {version} has already started ({release.status})"
        record_release_start(rt, session, release, actor=rt.who, why="by hand")
    ensure_step_runs(rt, release)
    return f"release {version} started"


def cancel_release(rt: Runtime, version: str, reason: str | None) -> str:
    cycle = resolve_cycle(rt, version)
    now = rt.clock.now()
    with rt.store.session() as session:
        release = queries.get_release(session, version)
        if release is None:
            release, _ = queries.insert_release(session, new_release(rt, cycle, started=False))
        elif release.status == ReleaseStatus.CANCELLED:
            return f"release {version} is already cancelled"
        elif release.status == ReleaseStatus.RELEASED:
            raise Conflict(f"release {version} is already released")
        release.status, release.updated_at = ReleaseStatus.CANCELLED, now
        session.add(release)
        message = f"release {version} cancelled by {rt.who}" + (f": {reason}" if reason else "")
        queries.add_event(
            session, at=now, actor=rt.who, kind="release-cancelled", release_id=release.id, message=message
        )
        if release.started:
            notify.release_changed(rt, session, release, ReleaseStatus.CANCELLED)
        session.commit()
    return f"release {version} cancelled"


def reschedule_release(rt: Runtime, version: str, feature_freeze: date, code_freeze: date) -> str:
    if code_freeze <= feature_freeze:
        raise UsageError("--code-freeze must be after --feature-freeze")
    cycle = resolve_cycle(rt, version)
    now = rt.clock.now()
    with rt.store.session() as session:
        release = queries.get_release(session, version)
        if release is None:
            release, _ = queries.insert_release(session, new_release(rt, cycle, started=False))
            release.status = ReleaseStatus.ACTIVE
        if release.status in (ReleaseStatus.RELEASED, ReleaseStatus.CANCELLED):
            raise Conflict(f"release {version} is {release.status}")
        release.feature_freeze = local_midnight(feature_freeze, rt)
        release.code_freeze = local_midnight(code_freeze, rt)
        release.rescheduled, release.updated_at = True, now
        session.add(release)
        queries.add_event(
            session,
            at=now,
            actor=rt.who,
            kind="release-rescheduled",
            release_id=release.id,
            message=f"feature freeze {feature_freeze}, code freeze {code_freeze}",
        )
        session.commit()
    return f"release {version} rescheduled: feature freeze {feature_freeze}, code freeze {code_freeze}"
