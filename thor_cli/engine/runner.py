"""Running one step exactly once: claim it, run or poll it, record the outcome and what follows from it.

Each unit of work is one ``with rt.store.transaction()`` block, visible here:

- the claim, its ``started`` event and its Slack message;
- every write the step makes while it runs (``EngineStepContext.guarded``);
- the result: the run's new state (decided by ``transition``), its event, its Slack messages and the release's
  status, derived under the release's row lock.

A run whose holder died is recovered: the crash is recorded as a turn of its own (counted like a failed
attempt, see ``transition``), and the step runs again only if that leaves it due.
"""

from __future__ import annotations

import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from thor_cli import notify
from thor_cli.adapters.proc import tail
from thor_cli.durations import format_duration
from thor_cli.engine import failpoints
from thor_cli.engine.context import EngineStepContext, Heartbeat, LeaseLost, StepTimedOut, lease_length, stop_children
from thor_cli.engine.holder import Holder
from thor_cli.engine.reporting import Reporter
from thor_cli.engine.scheduler import Mode
from thor_cli.engine.transition import Turn, transition
from thor_cli.errors import Interrupted, ThorError
from thor_cli.pipeline import Step
from thor_cli.releases import compute_status, release_info
from thor_cli.runtime import Runtime
from thor_cli.secrets import redact
from thor_cli.steps.base import StepResult
from thor_cli.store import leases, queries
from thor_cli.store.models import Release, StepRun


@dataclass(frozen=True)
class Outcome:
    version: str
    step: str
    status: str  # the run's status afterwards, or "lost" when another process claimed it first
    detail: str


def ensure_step_runs(rt: Runtime, release: Release) -> dict[str, StepRun]:
    """Create a pending run for every enabled step that has none yet (also steps added to the pipeline later)."""
    with rt.store.transaction() as tx:
        runs = queries.step_runs(tx, release.id)  # type: ignore[arg-type]
        missing = [s.name for s in rt.pipeline.enabled if s.name not in runs]
        for name in missing:
            try:
                with tx.begin_nested():
                    tx.add(StepRun(release_id=release.id, name=name, updated_at=rt.clock.now()))  # type: ignore[arg-type]
            except IntegrityError:
                pass  # another tick created it
        if missing:
            runs = queries.step_runs(tx, release.id)  # type: ignore[arg-type]
        return runs


def execute(
    rt: Runtime,
    release: Release,
    step: Step,
    run: StepRun,
    mode: Mode,
    *,
    reporter: Reporter,
    actor: str,
    force: bool = False,
) -> Outcome:
    if mode == "recover":
        return recover(rt, release, step, run, reporter=reporter, actor=actor)
    now = rt.clock.now()
    was_waiting = bool(leases.load_state(run).get("_waiting")) and mode in ("poll", "timeout")
    new_attempt = not was_waiting
    values: dict[str, object] = {"updated_at": now}
    if new_attempt:
        values.update(attempts=StepRun.attempts + 1, started_at=now, finished_at=None)
    # The claim, its event and its message: one unit, so a kill leaves either all three or none.
    with rt.store.transaction() as tx:
        if not leases.claim(
            tx, run, owner=rt.owner, holder=Holder.me().dump(), lease_until=now + lease_length(rt), **values
        ):
            return Outcome(release.version, step.name, "lost", "claimed by another process")
        run = leases.reload(tx, run.id)  # type: ignore[arg-type]
        if new_attempt:
            _event(tx, rt, release, step, actor, "started", f"attempt {run.attempts} of {step.max_attempts}")
            notify.step_started(rt, tx, release, step.name, run.attempts)
        failpoints.reached("claim-uncommitted")
    failpoints.reached("step-claimed")
    reporter.detail(f"{release.version} {step.name}: {mode}")
    info = release_info(release, rt.settings.config.schedule.timezone)
    ctx = EngineStepContext(
        rt, release, info, step, run, force=force, reporter=reporter, actor=actor, deadline=now + step.timeout
    )
    try:
        with Heartbeat(ctx), _interruptible():
            result = _timed_out(step, ctx) if mode == "timeout" else _call(step, ctx, poll=was_waiting)
    except Interrupted as exc:
        stop_children()
        detail = f"interrupted by {signal.Signals(exc.signum).name}"
        _finish(
            rt,
            release,
            step,
            ctx,
            Turn("interrupted", detail, run.attempts, step.max_attempts, step.retry_after, was_waiting),
            reporter=reporter,
            actor=actor,
        )
        raise
    if result is None:
        return Outcome(release.version, step.name, "lost", "lease lost while running")
    if ctx.timed_out and result.status != "succeeded":
        result = StepResult.fail(f"timed out after {format_duration(step.timeout)}", output=result.output)
    turn = Turn(
        result.status,
        redact(result.detail),
        run.attempts,
        step.max_attempts,
        step.retry_after,
        was_waiting,
        poll_after=result.poll_after,
    )
    return _finish(rt, release, step, ctx, turn, result=result, reporter=reporter, actor=actor)


def _call(step: Step, ctx: EngineStepContext, *, poll: bool) -> StepResult | None:
    step_type = step.step_type
    try:
        return step_type.poll(ctx) if poll else step_type.run(ctx)
    except LeaseLost:
        return None
    except StepTimedOut as exc:
        return StepResult.fail(exc.message)
    except ThorError as exc:
        return StepResult.fail(exc.message, output=getattr(exc, "output", None))
    except Exception as exc:  # a bug in a step must still be recorded, never leave the run dangling
        return StepResult.fail(f"internal error: {type(exc).__name__}: {exc}", output=traceback.format_exc())


def _timed_out(step: Step, ctx: EngineStepContext) -> StepResult | None:
    """A waiting step at its timeout: look one last time; only work still going on is timed out."""
    last = _call(step, ctx, poll=True)
    if last is None or last.status != "waiting":
        return last
    try:
        return step.step_type.timed_out(ctx, last)
    except LeaseLost:
        return None
    except ThorError as exc:
        return StepResult.fail(f"timed out after {format_duration(step.timeout)}; {exc.message}")


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT/SIGTERM stop the step's children and unwind to ``execute``, which records the interruption."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        stop_children()
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def recover(rt: Runtime, release: Release, step: Step, run: StepRun, *, reporter: Reporter, actor: str) -> Outcome:
    """Take over a run whose holder died, make sure nothing of it still runs, and record the crash."""
    now = rt.clock.now()
    old_owner = run.lease_owner or "?"
    holder = Holder.load(run.lease_holder)
    why = (holder.gone() if holder else None) or "its lease expired"
    state = leases.load_state(run)
    was_waiting = bool(state.get("_waiting"))
    with rt.store.transaction() as tx:
        if not leases.claim(tx, run, owner=rt.owner, holder=Holder.me().dump(), lease_until=now + lease_length(rt)):
            return Outcome(release.version, step.name, "lost", "claimed by another process")
        run = leases.reload(tx, run.id)  # type: ignore[arg-type]
    killed = holder.reap() if holder else []
    if killed:
        reporter.detail(f"{release.version} {step.name}: stopped {len(killed)} process group(s) left by {old_owner}")
    info = release_info(release, rt.settings.config.schedule.timezone)
    ctx = EngineStepContext(rt, release, info, step, run, force=False, reporter=reporter, actor=actor)
    crashes = int(state.get("_crashes") or 0) + 1
    turn = Turn(
        "crashed",
        f"took over from {old_owner}: {why}",
        run.attempts,
        step.max_attempts,
        step.retry_after,
        was_waiting,
        crashes=crashes,
    )
    return _finish(rt, release, step, ctx, turn, reporter=reporter, actor=actor, crashes=crashes)


def _finish(
    rt: Runtime,
    release: Release,
    step: Step,
    ctx: EngineStepContext,
    turn: Turn,
    *,
    reporter: Reporter,
    actor: str,
    result: StepResult | None = None,
    crashes: int = 0,
) -> Outcome:
    """Record a turn: the run's new state, its event, its messages and the release's status, in one unit."""
    now = rt.clock.now()
    change = transition(turn, now)
    state = ctx.state
    repeated_wait = turn.happened == "waiting" and turn.was_waiting and turn.detail == ctx.run_row.detail
    if change.waiting:
        state["_waiting"] = True
    else:
        state.pop("_waiting", None)
    if crashes and change.waiting:
        state["_crashes"] = crashes
    else:
        state.pop("_crashes", None)
    output = tail(redact(result.output)) if result and result.output else None
    values: dict[str, object] = {
        "status": change.status,
        "detail": change.detail,
        "attempts": change.attempts,
        "next_attempt_at": change.next_attempt_at,
        "state": leases.dump_state(state),
        "lease_owner": None,
        "lease_holder": None,
        "lease_expires_at": None,
    }
    if change.finished:
        values["finished_at"] = now
    if output is not None:
        values["output"] = output
    link = redact(result.external_ref) if result and result.external_ref else None
    if link:
        values["external_ref"] = link

    def write(tx: Session) -> None:
        failpoints.reached("before-release-status")
        if not repeated_wait:
            _event(tx, rt, release, step, actor, change.event, change.detail, output=output)
            notify.step_finished(rt, tx, release, step.name, change.event, change.detail, link)
        refresh_release_status(rt, tx, release, actor=actor)

    try:
        ctx.guarded(write, final=True, **values)
    except (LeaseLost, StepTimedOut):
        return Outcome(release.version, step.name, "lost", "lease lost before recording")
    if not repeated_wait:
        detail = f" — {change.detail}" if change.detail else ""
        reporter.event(f"{release.version} {step.name}: {change.event}{detail}")
    return Outcome(release.version, step.name, str(change.status), change.detail)


def refresh_release_status(rt: Runtime, tx: Session, release: Release, *, actor: str) -> str:
    """Derive active / blocked / released from the steps under the release's row lock, and record a change.

    Cancelled is sticky: a step recorded after the cancel committed changes no release status.
    """
    locked = queries.lock_release(tx, release.id)  # type: ignore[arg-type]
    failpoints.reached("release-locked")
    runs = queries.step_runs(tx, release.id)  # type: ignore[arg-type]
    statuses = {name: run.status for name, run in runs.items()}
    new_status = compute_status(locked, statuses, [s.name for s in rt.pipeline.enabled])
    if new_status != locked.status:
        now = rt.clock.now()
        old = locked.status
        locked.status, locked.updated_at = new_status, now
        tx.add(locked)
        change = f"release {locked.version}: {old} -> {new_status}"
        _event(tx, rt, release, None, actor, f"release-{new_status}", change, at=now)
        notify.release_changed(rt, tx, locked, new_status)
    release.status = new_status
    return new_status


def record_release_start(rt: Runtime, tx: Session, release: Release, *, actor: str, why: str) -> None:
    """The event and the Slack thread that mark a release's start, in the caller's unit of work."""
    _event(tx, rt, release, None, actor, "release-started", f"release {release.version} started {why}")
    notify.release_opened(rt, tx, release)


def _event(
    tx: Session,
    rt: Runtime,
    release: Release,
    step: Step | None,
    actor: str,
    kind: str,
    message: str,
    *,
    output: str | None = None,
    at: datetime | None = None,
) -> None:
    """An event of ``release`` (of one of its steps, or of the release itself when ``step`` is None), added to
    the caller's unit of work ``tx``: it commits with the change it records."""
    queries.add_event(
        tx,
        at=at or rt.clock.now(),
        actor=actor,
        kind=kind,
        release_id=release.id,
        step=step.name if step else None,
        message=message,
        output=output,
    )
