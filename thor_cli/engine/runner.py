"""Running one step exactly once: claim it, run or poll it, record the outcome and what follows from it."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from thor_cli import notify
from thor_cli.adapters.proc import tail
from thor_cli.durations import format_duration
from thor_cli.engine.context import EngineStepContext, LeaseLost
from thor_cli.engine.reporting import Reporter
from thor_cli.engine.scheduler import Mode
from thor_cli.errors import ThorError
from thor_cli.pipeline import Step
from thor_cli.releases import compute_status, release_info
from thor_cli.runtime import Runtime
from thor_cli.secrets import redact
from thor_cli.steps.base import StepResult
from thor_cli.store import leases, queries
from thor_cli.store.models import Release, StepRun, StepStatus

# Past the step's own timeout, so a slow but live holder is not taken over.
LEASE_MARGIN = timedelta(minutes=5)
POLL_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class Outcome:
    version: str
    step: str
    status: str  # the run's status afterwards, or "lost" when another process claimed it first
    detail: str


def ensure_step_runs(rt: Runtime, release: Release) -> dict[str, StepRun]:
    """Create a pending run for every enabled step that has none yet (also steps added to the pipeline later)."""
    from sqlalchemy.exc import IntegrityError

    with rt.store.session() as session:
        runs = queries.step_runs(session, release.id)  # type: ignore[arg-type]
        missing = [s.name for s in rt.pipeline.enabled if s.name not in runs]
        for name in missing:
            try:
                with session.begin_nested():
                    session.add(StepRun(release_id=release.id, name=name, updated_at=rt.clock.now()))  # type: ignore[arg-type]
            except IntegrityError:
                pass  # another tick created it
        if missing:
            session.commit()
            runs = queries.step_runs(session, release.id)  # type: ignore[arg-type]
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
    now = rt.clock.now()
    new_attempt = mode in ("run", "recover") and not leases.load_state(run).get("_waiting")
    lease = POLL_LEASE if mode in ("poll", "timeout") else step.timeout + LEASE_MARGIN
    with rt.store.session() as session:
        claimed = leases.claim(session, run, owner=rt.owner, now=now, lease_until=now + lease, new_attempt=new_attempt)
        if claimed is None:
            return Outcome(release.version, step.name, "lost", "claimed by another process")
        run = claimed
        if mode == "recover":
            queries.add_event(
                session,
                at=now,
                actor=actor,
                kind="recovered",
                release_id=release.id,
                step=step.name,
                message="took over after the previous holder's lease expired",
            )
        if new_attempt:
            queries.add_event(
                session,
                at=now,
                actor=actor,
                kind="started",
                release_id=release.id,
                step=step.name,
                message=f"attempt {run.attempts} of {step.max_attempts}",
            )
            notify.step_started(rt, session, release, step.name, run.attempts)
    reporter.detail(f"{release.version} {step.name}: {mode}")
    info = release_info(release, rt.settings.config.schedule.timezone)
    ctx = EngineStepContext(rt, release, info, step, run, force=force, reporter=reporter, actor=actor)
    if mode == "timeout":
        result = StepResult.fail(f"timed out after {format_duration(step.timeout)}")
    else:
        result = _call(step, ctx, poll=mode == "poll" or (mode == "recover" and bool(ctx.state.get("_waiting"))))
    if result is None:
        return Outcome(release.version, step.name, "lost", "lease lost while running")
    return record(rt, release, step, ctx, result, reporter=reporter, actor=actor)


def _call(step: Step, ctx: EngineStepContext, *, poll: bool) -> StepResult | None:
    step_type = step.step_type
    try:
        return step_type.poll(ctx) if poll else step_type.run(ctx)
    except LeaseLost:
        return None
    except ThorError as exc:
        return StepResult.fail(exc.message, output=getattr(exc, "output", None))
    except Exception as exc:  # a bug in a step must still be recorded, never leave the run dangling
        return StepResult.fail(f"internal error: {type(exc).__name__}: {exc}", output=traceback.format_exc())


def record(
    rt: Runtime,
    release: Release,
    step: Step,
    ctx: EngineStepContext,
    result: StepResult,
    *,
    reporter: Reporter,
    actor: str,
) -> Outcome:
    now = rt.clock.now()
    run = ctx.run_row
    state = ctx.state
    was_waiting = bool(state.get("_waiting"))
    repeated_wait = result.status == "waiting" and was_waiting and redact(result.detail) == run.detail
    detail = redact(result.detail)
    output = tail(redact(result.output)) if result.output else None
    values: dict[str, object] = {
        "detail": detail,
        "updated_at": now,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if output is not None:
        values["output"] = output
    if result.external_ref:
        values["external_ref"] = redact(result.external_ref)
    kind = result.status
    if result.status == "succeeded":
        values.update(status=StepStatus.SUCCEEDED, finished_at=now, next_attempt_at=None)
        state.pop("_waiting", None)
    elif result.status == "waiting":
        state["_waiting"] = True
        next_at = now + result.poll_after if result.poll_after is not None else None
        values.update(status=StepStatus.WAITING, next_attempt_at=next_at)
    elif run.attempts < step.max_attempts:
        state.pop("_waiting", None)
        retry_at = now + step.retry_after
        values.update(status=StepStatus.PENDING, next_attempt_at=retry_at)
        kind = "retry"
        retry_note = f"retry after {retry_at:%Y-%m-%d %H:%M} UTC"
        detail = f"attempt {run.attempts}/{step.max_attempts} failed: {detail}; {retry_note}"
        values["detail"] = detail
    else:
        state.pop("_waiting", None)
        values.update(status=StepStatus.FAILED, finished_at=now, next_attempt_at=None)
    values["state"] = leases.dump_state(state)
    # One transaction: the new state, its event, its outbox messages and the release's status.
    with rt.store.session() as session:
        if leases.update_held(session, run, rt.owner, commit=False, **values) is None:
            return Outcome(release.version, step.name, "lost", "lease lost before recording")
        if not repeated_wait:
            queries.add_event(
                session,
                at=now,
                actor=actor,
                kind=kind,
                release_id=release.id,
                step=step.name,
                message=detail,
                output=output,
                commit=False,
            )
            notify.step_finished(rt, session, release, step.name, kind, detail, result.external_ref)
        refresh_release_status(rt, session, release, actor=actor)
        session.commit()
    if not repeated_wait:
        reporter.event(f"{release.version} {step.name}: {kind}" + (f" — {detail}" if detail else ""))
    return Outcome(release.version, step.name, str(values["status"]), detail)


def refresh_release_status(rt: Runtime, session, release: Release, *, actor: str) -> str:  # type: ignore[no-untyped-def]
    """Derive active / blocked / released from the steps and record a change of it; the caller commits."""
    fresh = session.get(Release, release.id)
    runs = queries.step_runs(session, release.id)
    statuses = {name: run.status for name, run in runs.items()}
    new_status = compute_status(fresh, statuses, [s.name for s in rt.pipeline.enabled])
    if new_status != fresh.status:
        now = rt.clock.now()
        old = fresh.status
        fresh.status, fresh.updated_at = new_status, now
        session.add(fresh)
        queries.add_event(
            session,
            at=now,
            actor=actor,
            kind=f"release-{new_status}",
            release_id=release.id,
            message=f"release {fresh.version}: {old} -> {new_status}",
            commit=False,
        )
        notify.release_changed(rt, session, fresh, new_status)
    release.status = new_status
    return new_status


def record_release_start(rt: Runtime, session: Session, release: Release, *, actor: str, why: str) -> None:
    """The event and the Slack thread that mark a release's start, in the caller's transaction."""
    queries.add_event(
        session,
        at=rt.clock.now(),
        actor=actor,
        kind="release-started",
        release_id=release.id,
        message=f"release {release.version} started {why}",
    )
    notify.release_opened(rt, session, release)
