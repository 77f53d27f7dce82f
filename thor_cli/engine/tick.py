"""``thor tick``: compare the calendar with the stored state and run whatever is due, exactly once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from thor_cli import notify
from thor_cli.calendar import Cycle
from thor_cli.clock import as_utc
from thor_cli.engine.reporting import Reporter
from thor_cli.engine.runner import Outcome, ensure_step_runs, execute, record_release_start
from thor_cli.engine.scheduler import Decision, decisions
from thor_cli.releases import new_release, within_grace
from thor_cli.runtime import Runtime
from thor_cli.store import queries
from thor_cli.store.models import Release, ReleaseStatus

OPEN_STATUSES = (ReleaseStatus.ACTIVE, ReleaseStatus.BLOCKED)
# Releases stored before they started (rescheduled ahead of time); Thor 0.1 stored them as active.
NOT_STARTED = (ReleaseStatus.PENDING, ReleaseStatus.ACTIVE)
# How far back tick looks for cycles that should have started.
LOOKBACK = timedelta(days=120)
MAX_WAIT_SLEEP = 30.0


@dataclass
class ReleasePlan:
    version: str
    status: str
    decisions: list[Decision]


@dataclass
class TickReport:
    started: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    notify_error: str | None = None  # why Slack messages are still waiting
    notify_set_aside: int = 0  # messages given up on in this tick
    notify_set_aside_error: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.blocked or self.missed)


def due_cycles(rt: Runtime, now: datetime) -> tuple[list[Cycle], list[Cycle]]:
    """Cycles to start now (feature freeze within the grace period) and missed ones (past it, still open)."""
    to_start, missed = [], []
    for cycle in rt.calendar.cycles_between(now - LOOKBACK, now):
        if cycle.feature_freeze > now:
            continue
        if within_grace(rt, cycle.feature_freeze, now):
            to_start.append(cycle)
        elif now < cycle.code_freeze:
            missed.append(cycle)
    return to_start, missed


def start_due_releases(rt: Runtime, report: TickReport, reporter: Reporter, *, actor: str) -> None:
    now = rt.clock.now()
    to_start, missed = due_cycles(rt, now)
    for cycle in to_start:
        with rt.store.transaction() as tx:
            if queries.get_release(tx, cycle.version) is not None:
                continue  # started, cancelled or rescheduled already: the stored record rules
            release, created = queries.insert_release(tx, new_release(rt, cycle))
            if created:
                tx.flush()
                record_release_start(rt, tx, release, actor=actor, why="(feature freeze reached)")
        if created:
            report.started.append(release.version)
            reporter.event(f"{release.version}: release started (feature freeze {cycle.feature_freeze:%Y-%m-%d})")
    with rt.store.session() as session:
        waiting = [r for r in queries.list_releases(session, NOT_STARTED) if not r.started]
    for release in waiting:
        # Rescheduled before it began: its stored dates rule, not the calendar's.
        if as_utc(release.feature_freeze) > now:
            continue
        if not within_grace(rt, release.feature_freeze, now):
            report.missed.append(release.version)
            continue
        with rt.store.transaction() as tx:
            locked = queries.lock_release(tx, release.id)  # type: ignore[arg-type]
            if locked.started or locked.status == ReleaseStatus.CANCELLED:
                continue  # another tick started it, or someone cancelled it meanwhile
            locked.started, locked.status, locked.updated_at = True, ReleaseStatus.ACTIVE, now
            tx.add(locked)
            record_release_start(rt, tx, locked, actor=actor, why="(rescheduled feature freeze reached)")
        report.started.append(release.version)
        reporter.event(f"{release.version}: release started (rescheduled feature freeze)")
    with rt.store.session() as session:
        for cycle in missed:
            if queries.get_release(session, cycle.version) is None:
                report.missed.append(cycle.version)


def open_releases(rt: Runtime) -> list[Release]:
    with rt.store.session() as session:
        return [r for r in queries.list_releases(session, OPEN_STATUSES) if r.started]


def plan(rt: Runtime) -> list[ReleasePlan]:
    """What is due now, and what waits on what, for every open release. Reads only."""
    now = rt.clock.now()
    plans = []
    for release in open_releases(rt):
        with rt.store.session() as session:
            runs = queries.step_runs(session, release.id)  # type: ignore[arg-type]
        plans.append(ReleasePlan(release.version, release.status, decisions(rt.pipeline, release, runs, now)))
    return plans


def planned_starts(rt: Runtime) -> tuple[list[Cycle], list[Cycle]]:
    """What ``start_due_releases`` would start now, and the missed starts it would report. Reads only."""
    now = rt.clock.now()
    to_start, missed = due_cycles(rt, now)
    with rt.store.session() as session:
        to_start = [c for c in to_start if queries.get_release(session, c.version) is None]
        missed = [c for c in missed if queries.get_release(session, c.version) is None]
        # Rescheduled before they began: their stored dates rule.
        for release in queries.list_releases(session, NOT_STARTED):
            if release.started or as_utc(release.feature_freeze) > now:
                continue
            cycle = _stored_cycle(rt, release)
            (to_start if within_grace(rt, release.feature_freeze, now) else missed).append(cycle)
    return to_start, missed


def _stored_cycle(rt: Runtime, release: Release) -> Cycle:
    tz = rt.settings.config.schedule.tz
    return Cycle(
        version=release.version,
        codename=release.codename,
        feature_freeze=as_utc(release.feature_freeze).astimezone(tz),
        code_freeze=as_utc(release.code_freeze).astimezone(tz),
        integration_branch=release.integration_branch,
        stable_branch=release.stable_branch,
    )


def _run_due(rt: Runtime, report: TickReport, reporter: Reporter, *, actor: str) -> datetime | None:
    """Run due steps until none is left; return when the next one may become due by itself."""
    tried: set[tuple[int, int]] = set()
    while True:
        now = rt.clock.now()
        wake_at: datetime | None = None
        ran = False
        for release in open_releases(rt):
            runs = ensure_step_runs(rt, release)
            for decision in decisions(rt.pipeline, release, runs, now):
                if decision.wake_at is not None:
                    wake_at = min(wake_at, decision.wake_at) if wake_at else decision.wake_at
                if not decision.due or decision.run is None:
                    continue
                key = (decision.run.id or 0, decision.run.revision)
                if key in tried:
                    continue
                tried.add(key)
                mode = decision.mode
                assert mode is not None  # due
                outcome = execute(rt, release, decision.step, decision.run, mode, reporter=reporter, actor=actor)
                report.outcomes.append(outcome)
                ran = True
                break  # re-read: this step may have made others due
            if ran:
                break
        if not ran:
            return wake_at


def tick(rt: Runtime, reporter: Reporter, *, wait: timedelta | None = None, actor: str = "tick") -> TickReport:
    report = TickReport()
    deadline = rt.clock.now() + wait if wait else None
    start_due_releases(rt, report, reporter, actor=actor)
    while True:
        wake_at = _run_due(rt, report, reporter, actor=actor)
        _flush(rt, report, reporter)
        if deadline is None or wake_at is None or as_utc(wake_at) > deadline:
            break
        pause = (as_utc(wake_at) - rt.clock.now()).total_seconds()
        if pause > 0:
            rt.clock.sleep(min(pause, MAX_WAIT_SLEEP))
    report.blocked = [r.version for r in open_releases(rt) if r.status == ReleaseStatus.BLOCKED]
    return report


def _flush(rt: Runtime, report: TickReport, reporter: Reporter) -> None:
    flushed = notify.flush(rt)
    if flushed.error:
        # A Slack outage never fails a release: the messages wait in the outbox for the next tick. The CLI
        # says so in one line, every tick, until they go.
        report.notify_error = flushed.error
    if flushed.set_aside:
        report.notify_set_aside += flushed.set_aside
        report.notify_set_aside_error = flushed.set_aside_error
