"""What a release engineer does by hand: run one step, retry, skip, approve, start, cancel, reschedule.

Every refusal is a ``Conflict`` (exit 2, one line, nothing written, nothing posted). Every change is one unit of
work: the change, its event, its Slack message and the release's status commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from thor_cli import notify
from thor_cli.clock import as_utc
from thor_cli.engine.context import EngineStepContext
from thor_cli.engine.holder import Holder
from thor_cli.engine.reporting import Reporter
from thor_cli.engine.runner import (
    Outcome,
    ensure_step_runs,
    execute,
    record_release_start,
    refresh_release_status,
)
from thor_cli.engine.scheduler import decide, unfinished_dependencies
from thor_cli.errors import ExitCode, ThorError, UsageError
from thor_cli.pipeline import Step
from thor_cli.releases import (
    check_version,
    find_release,
    local_midnight,
    new_release,
    release_info,
    resolve_cycle,
)
from thor_cli.runtime import Runtime
from thor_cli.store import leases, queries
from thor_cli.store.models import DONE_STEP_STATUSES, Release, ReleaseStatus, StepRun, StepStatus

if TYPE_CHECKING:
    from sqlmodel import Session

    from thor_cli.calendar import Cycle


class Conflict(ThorError):
    """A request refused in the release's or step's current state (cancelled, running elsewhere, …)."""

    exit_code = ExitCode.BAD_INPUT


def pipeline_step(rt: Runtime, name: str) -> Step:
    step = rt.pipeline.get(name)
    if step is None:
        raise UsageError(f"unknown step {name!r} (steps: {', '.join(rt.pipeline.names)})")
    if not step.enabled:
        raise UsageError(f"step {name!r} is disabled in the configuration")
    return step


def _open_release(rt: Runtime, version: str, what: str) -> Release:
    """The stored, started, not cancelled release that ``what`` (a command) acts on."""
    release = find_release(rt, version)
    if release is None or not release.started:
        raise Conflict(f"release {version} has not started: nothing to {what} (`thor release start {version}`)")
    if release.status == ReleaseStatus.CANCELLED:
        raise Conflict(f"release {version} is cancelled: nothing to {what}")
    return release


def _load(rt: Runtime, version: str, step_name: str, what: str) -> tuple[Release, Step, StepRun]:
    step = pipeline_step(rt, step_name)
    release = _open_release(rt, version, what)
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
    """Run one step now, whatever the calendar says; dependencies must have succeeded unless ``force``.

    A release that no tick has started yet is started here, by hand (``thor step split-branch 2021.09`` on a
    fresh database does what it says).
    """
    actor = f"thor step ({rt.who})"
    if dry_run:
        return _dry_run(rt, version, step_name, force=force)
    step = pipeline_step(rt, step_name)
    release = find_release(rt, version)
    if release is not None and release.status == ReleaseStatus.CANCELLED:
        raise Conflict(f"release {version} is cancelled: `thor release start {version}` reopens it")
    if release is None or not release.started:
        release = _start(rt, version, actor=actor, why=f"by hand, to run {step.name}")
    runs = ensure_step_runs(rt, release)
    run = runs[step.name]
    if run.status == StepStatus.SUCCEEDED and not force:
        return Outcome(version, step.name, run.status, "already succeeded (use --force to run it again)")
    # Checked apart from the schedule: a step run by hand ignores its milestone, never its dependencies.
    waiting_for = unfinished_dependencies(rt.pipeline, step, runs)
    if waiting_for and not force:
        raise Conflict(f"{step.name} waits for {', '.join(waiting_for)} (use --force to run it anyway)")
    decision = decide(rt.pipeline, release, runs, step, rt.clock.now())
    if run.status == StepStatus.RUNNING:
        if decision.mode != "recover":
            raise Conflict(_held_by(run))
        outcome = execute(rt, release, step, run, "recover", reporter=reporter, actor=actor)
        run = ensure_step_runs(rt, release)[step.name]
        if run.status not in (StepStatus.PENDING, StepStatus.WAITING):
            return outcome
    mode = "poll" if run.status == StepStatus.WAITING else "run"
    if run.status in (StepStatus.FAILED, StepStatus.SUCCEEDED, StepStatus.SKIPPED):
        run = _rearm(rt, release, run, actor=actor, reason="run by hand")
    return execute(rt, release, step, run, mode, reporter=reporter, actor=actor, force=force)


def _held_by(run: StepRun) -> str:
    holder = Holder.load(run.lease_holder)
    where = f" (pid {holder.pid} on {holder.host})" if holder else ""
    until = f" until {as_utc(run.lease_expires_at):%Y-%m-%d %H:%M:%S} UTC" if run.lease_expires_at else ""
    return (
        f"{run.name} is running in {run.lease_owner}{where}, whose lease runs{until}; "
        "it is taken over at once if that process is gone from this host, else when the lease expires"
    )


def _dry_run(rt: Runtime, version: str, step_name: str, *, force: bool) -> DryRun:
    # Read-only: do not create the release or its step runs.
    step = pipeline_step(rt, step_name)
    check_version(rt, version)
    with rt.store.session() as session:
        release = queries.get_release(session, version)
        runs = queries.step_runs(session, release.id) if release else {}  # type: ignore[arg-type]
    if release is None:
        release = new_release(rt, resolve_cycle(rt, version))
    if release.status == ReleaseStatus.CANCELLED:
        raise Conflict(f"release {version} is cancelled: `thor release start {version}` reopens it")
    info = release_info(release, rt.settings.config.schedule.timezone)
    would = step.step_type.describe(_PreviewContext(rt, info, step))  # type: ignore[arg-type]
    waiting_for = unfinished_dependencies(rt.pipeline, step, runs)
    blocked = f"waits for {', '.join(waiting_for)}" if waiting_for else None
    return DryRun(version, step.name, would, None if force else blocked)


class _PreviewContext(EngineStepContext):
    """Just enough context for ``describe``: it must not write."""

    def __init__(self, rt: Runtime, info, step: Step) -> None:  # type: ignore[no-untyped-def]
        self.rt, self.release, self.step, self.step_name = rt, info, step, step.name
        self.options, self.settings, self.clock, self.timeout = step.options, rt.settings, rt.clock, step.timeout
        self.force, self.attempt, self.started_at = False, 0, None
        self._state = {}


def _rearm(rt: Runtime, release: Release, run: StepRun, *, actor: str, reason: str) -> StepRun:
    now = rt.clock.now()
    state = leases.load_state(run)
    state.pop("_waiting", None)
    state.pop("_crashes", None)
    with rt.store.transaction() as tx:
        if not leases.unheld(
            tx,
            run,
            status=StepStatus.PENDING,
            attempts=0,
            next_attempt_at=None,
            finished_at=None,
            state=leases.dump_state(state),
            detail=f"re-armed: {reason}",
            updated_at=now,
        ):
            raise Conflict(f"{run.name} changed while re-arming it; try again")
        queries.add_event(tx, at=now, actor=actor, kind="rearmed", release_id=release.id, step=run.name, message=reason)
        refresh_release_status(rt, tx, release, actor=actor)
        return leases.reload(tx, run.id)  # type: ignore[arg-type]


def retry(rt: Runtime, version: str, step_name: str) -> str:
    release, step, run = _load(rt, version, step_name, "retry")
    if run.status == StepStatus.RUNNING:
        raise Conflict(_held_by(run))
    if run.status == StepStatus.SUCCEEDED:
        raise Conflict(f"{step.name} already succeeded: `thor step {step.name} {version} --force` runs it again")
    if run.status == StepStatus.PENDING and run.attempts == 0 and run.started_at is None:
        raise Conflict(f"{step.name} has not run yet: there is nothing to retry (the next tick runs it when due)")
    _rearm(rt, release, run, actor=rt.who, reason="thor retry")
    return f"{version} {step.name} re-armed: the next tick runs it"


def skip(rt: Runtime, version: str, step_name: str, reason: str) -> str:
    if not reason.strip():
        raise UsageError("--reason is required: say why the step is skipped")
    release, step, run = _load(rt, version, step_name, "skip")
    if run.status in DONE_STEP_STATUSES:
        raise Conflict(f"{step.name} is already {run.status}")
    if run.status == StepStatus.RUNNING:
        raise Conflict(_held_by(run))
    _finish_by_hand(rt, release, run, StepStatus.SKIPPED, f"skipped by {rt.who}: {reason}", kind="skipped")
    return f"{version} {step.name} skipped"


def approve(rt: Runtime, version: str, step_name: str, note: str | None) -> str:
    check_version(rt, version)
    step = pipeline_step(rt, step_name)
    if step.uses != "gate":
        raise UsageError(f"{step.name} is a {step.uses} step, not a gate")
    release, step, run = _load(rt, version, step_name, "approve")
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
    state = leases.load_state(run) | (state_update or {})
    state.pop("_waiting", None)
    with rt.store.transaction() as tx:
        if not leases.unheld(
            tx,
            run,
            status=status,
            detail=detail,
            finished_at=now,
            next_attempt_at=None,
            state=leases.dump_state(state),
            updated_at=now,
        ):
            raise Conflict(f"{run.name} changed meanwhile; try again")
        queries.add_event(tx, at=now, actor=rt.who, kind=kind, release_id=release.id, step=run.name, message=detail)
        notify.step_finished(rt, tx, release, run.name, kind, detail, None)
        refresh_release_status(rt, tx, release, actor=rt.who)


# -- releases ----------------------------------------------------------------------------------------------


def _start(rt: Runtime, version: str, *, actor: str, why: str) -> Release:
    """Start (or reopen) a release in one unit of work; the stored row if another process started it first."""
    cycle = resolve_cycle(rt, version) if rt.calendar.find(version) else None
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        existing = queries.get_release(tx, version)
        if existing is not None and existing.started and existing.status != ReleaseStatus.CANCELLED:
            return existing
        if existing is None:
            if cycle is None:
                cycle = resolve_cycle(rt, version)
            release, created = queries.insert_release(tx, new_release(rt, cycle))
            if not created:
                return release
        else:
            release = queries.lock_release(tx, existing.id)  # type: ignore[arg-type]
            if release.started and release.status != ReleaseStatus.CANCELLED:
                return release
            release.started, release.status, release.updated_at = True, ReleaseStatus.ACTIVE, now
            tx.add(release)
        tx.flush()
        record_release_start(rt, tx, release, actor=actor, why=why)
    return release


def start_release(rt: Runtime, version: str, *, force: bool = False, dry_run: bool = False) -> str:
    cycle = resolve_cycle(rt, version)
    now = rt.clock.now()
    release = find_release(rt, version)
    if release is not None and release.started and release.status != ReleaseStatus.CANCELLED:
        return f"release {version} has already started ({release.status})"
    feature_freeze = as_utc(release.feature_freeze) if release is not None else cycle.feature_freeze
    ahead = feature_freeze - now
    if ahead > _cycle_length(rt, cycle) and not force:
        raise Conflict(
            f"release {version}'s feature freeze is {feature_freeze:%Y-%m-%d}, more than a cycle away: "
            "use --force to start it this early"
        )
    if dry_run:
        return f"would start release {version} (feature freeze {feature_freeze:%Y-%m-%d})"
    _start(rt, version, actor=rt.who, why="by hand")
    ensure_step_runs(rt, find_release(rt, version))  # type: ignore[arg-type]
    return f"release {version} started"


def _cycle_length(rt: Runtime, cycle) -> timedelta:  # type: ignore[no-untyped-def]
    following = rt.calendar.upcoming(cycle.feature_freeze + timedelta(seconds=1), 1)
    return (following[0].feature_freeze - cycle.feature_freeze) if following else timedelta(days=31)


def _locked_row(rt: Runtime, tx: Session, version: str, cycle: Cycle) -> Release:
    """The release row of ``version``, locked in the caller's unit of work ``tx``; a release that has no row
    yet (it never started) gets one now, marked not started, so that cancelling or rescheduling it starts
    nothing."""
    release = queries.get_release(tx, version)
    if release is None:
        release, _ = queries.insert_release(tx, new_release(rt, cycle, started=False))
        tx.flush()
    return queries.lock_release(tx, release.id)  # type: ignore[arg-type]


def cancel_release(rt: Runtime, version: str, reason: str | None, *, dry_run: bool = False) -> str:
    cycle = resolve_cycle(rt, version)
    existing = find_release(rt, version)
    if existing is not None and existing.status == ReleaseStatus.CANCELLED:
        return f"release {version} is already cancelled"
    if existing is not None and existing.status == ReleaseStatus.RELEASED:
        raise Conflict(f"release {version} is already released: it cannot be cancelled")
    if dry_run:
        return f"would cancel release {version}"
    now = rt.clock.now()
    message = f"release {version} cancelled by {rt.who}" + (f": {reason}" if reason else "")
    with rt.store.transaction() as tx:
        release = _locked_row(rt, tx, version, cycle)
        if release.status == ReleaseStatus.RELEASED:  # released while we looked
            raise Conflict(f"release {version} is already released: it cannot be cancelled")
        release.status, release.updated_at = ReleaseStatus.CANCELLED, now
        tx.add(release)
        queries.add_event(tx, at=now, actor=rt.who, kind="release-cancelled", release_id=release.id, message=message)
        if release.started:
            notify.release_changed(rt, tx, release, ReleaseStatus.CANCELLED)
    return f"release {version} cancelled"


def reschedule_release(
    rt: Runtime, version: str, feature_freeze: date, code_freeze: date, *, force: bool = False, dry_run: bool = False
) -> str:
    if code_freeze <= feature_freeze:
        raise UsageError("--code-freeze must be after --feature-freeze")
    cycle = resolve_cycle(rt, version)
    existing = find_release(rt, version)
    if existing is not None and existing.status in (ReleaseStatus.RELEASED, ReleaseStatus.CANCELLED):
        raise Conflict(f"release {version} is {existing.status}: it cannot be rescheduled")
    following = rt.calendar.upcoming(cycle.feature_freeze + timedelta(seconds=1), 1)
    new_ff = local_midnight(feature_freeze, rt)
    if following and new_ff >= following[0].feature_freeze and not force:
        raise Conflict(
            f"feature freeze {feature_freeze} is not before {following[0].version}'s "
            f"({following[0].feature_freeze:%Y-%m-%d}): use --force to move it that far"
        )
    summary = f"feature freeze {feature_freeze}, code freeze {code_freeze}"
    if dry_run:
        return f"would reschedule release {version}: {summary}"
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        release = _locked_row(rt, tx, version, cycle)
        if release.status in (ReleaseStatus.RELEASED, ReleaseStatus.CANCELLED):
            raise Conflict(f"release {version} is {release.status}: it cannot be rescheduled")
        release.feature_freeze = new_ff
        release.code_freeze = local_midnight(code_freeze, rt)
        release.rescheduled, release.updated_at = True, now
        tx.add(release)
        message = f"rescheduled by {rt.who}: {summary}"
        queries.add_event(tx, at=now, actor=rt.who, kind="release-rescheduled", release_id=release.id, message=message)
        # Into the release's thread; a release that has not started keeps it queued until its thread opens.
        notify.enqueue(rt, tx, release, "reply", f"🗓️ Release {version} {message}")
    return f"release {version} rescheduled: {summary}"
