"""What `thor status` shows, as plain data (the CLI renders it as tables or JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from thor_cli.clock import as_utc
from thor_cli.engine.scheduler import decide
from thor_cli.environments.view import release_rollouts
from thor_cli.pipeline import Pipeline, Step, effective_dependencies
from thor_cli.releases import require_release
from thor_cli.runtime import Runtime
from thor_cli.store import queries
from thor_cli.store.models import DONE_STEP_STATUSES, Release, StepRun, StepStatus


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat(timespec="seconds") if moment else None


def _day(rt: Runtime, moment: datetime) -> str:
    return as_utc(moment).astimezone(rt.settings.config.schedule.tz).date().isoformat()


def missed_starts(rt: Runtime) -> list[dict[str, Any]]:
    """Releases whose start tick was missed (every tick says so on stderr and exits 1): status shows them too."""
    from thor_cli.engine.tick import planned_starts

    _, missed = planned_starts(rt)
    return [
        {
            "version": cycle.version,
            "codename": cycle.codename,
            "feature_freeze": cycle.feature_freeze.date().isoformat(),
            "code_freeze": cycle.code_freeze.date().isoformat(),
        }
        for cycle in missed
    ]


def releases_overview(rt: Runtime) -> list[dict[str, Any]]:
    enabled = [s.name for s in rt.pipeline.enabled]
    # Plain column rows, not ORM objects: this is the command people run over years of releases.
    with rt.store.session() as session:
        releases = session.exec(
            select(
                Release.id,
                Release.version,
                Release.codename,
                Release.status,
                Release.feature_freeze,
                Release.code_freeze,
                Release.started,
            ).order_by(col(Release.feature_freeze), col(Release.version))
        ).all()
        statuses: dict[int, dict[str, str]] = {}
        for release_id, name, status in session.exec(select(StepRun.release_id, StepRun.name, StepRun.status)):
            statuses.setdefault(release_id, {})[name] = status
    rows = []
    for release_id, version, codename, status, feature_freeze, code_freeze, started in releases:
        mine = statuses.get(release_id, {})
        pending = [name for name in enabled if mine.get(name) not in DONE_STEP_STATUSES]
        rows.append(
            {
                "version": version,
                "codename": codename,
                "status": status,
                "feature_freeze": _day(rt, feature_freeze),
                "code_freeze": _day(rt, code_freeze),
                "steps_done": len(enabled) - len(pending),
                "steps_total": len(enabled),
                # A cancelled release has no next step: nothing will run.
                "next_step": pending[0] if started and pending and status != "cancelled" else None,
            }
        )
    return rows


def release_detail(rt: Runtime, version: str) -> dict[str, Any]:
    from thor_cli.notify import undeliverable

    release = require_release(rt, version)
    with rt.store.session() as session:
        runs = queries.step_runs(session, release.id)  # type: ignore[arg-type]
        hotfixes = [
            {"at": _iso(e.at), "actor": e.actor, "message": e.message}
            for e in queries.events(session, release.id)  # type: ignore[arg-type]
            if e.kind == "hotfix"
        ]
        set_aside = undeliverable(session, release.id)
    now = rt.clock.now()
    steps = []
    for step in rt.pipeline.enabled:
        run = runs.get(step.name)
        decision = decide(rt.pipeline, release, runs, step, now)
        text = (run.detail if run and run.detail else decision.reason) or ""
        failed = failed_upstream(rt.pipeline, step, runs)
        if failed and (run is None or run.status not in (*DONE_STEP_STATUSES, StepStatus.FAILED)):
            # What really blocks it: a failed step before it, not the milestone it would wait for next.
            then = f" (then {decision.reason})" if decision.reason.startswith("waits for ") else ""
            text = f"blocked: {', '.join(failed)} failed{then}" + (f"; {run.detail}" if run and run.detail else "")
        steps.append(
            {
                "name": step.name,
                "status": run.status if run else "pending",
                "attempts": run.attempts if run else 0,
                "started_at": _iso(run.started_at) if run else None,
                "finished_at": _iso(run.finished_at) if run else None,
                "detail": text,
                "link": run.external_ref if run else None,
                "next_attempt_at": _iso(run.next_attempt_at) if run else None,
            }
        )
    return {
        "version": release.version,
        "codename": release.codename,
        "status": release.status,
        "feature_freeze": _day(rt, release.feature_freeze),
        "code_freeze": _day(rt, release.code_freeze),
        "integration_branch": release.integration_branch,
        "rescheduled": release.rescheduled,
        "steps": steps,
        "hotfixes": hotfixes,
        # Slack messages given up on (refused for good), newest first: kept with the error Slack gave.
        "undelivered_messages": [{"text": m.text, "error": m.last_error} for m in set_aside],
        "environments": release_rollouts(rt, release.id),  # type: ignore[arg-type]
    }


def failed_upstream(pipeline: Pipeline, step: Step, runs: dict[str, StepRun]) -> list[str]:
    """The failed steps that ``step`` waits for, directly or through other steps, in pipeline order."""
    seen: set[str] = set()
    todo = effective_dependencies(pipeline, step)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        dependency = pipeline.get(name)
        if dependency is not None:
            todo.extend(effective_dependencies(pipeline, dependency))
    return [n for n in pipeline.names if n in seen and n in runs and runs[n].status == StepStatus.FAILED]


def repo_results(rt: Runtime, release: Release, step: str) -> list[dict[str, Any]]:
    """Every repository's result for one step, from the database (never cut, unlike a step's captured output)."""
    with rt.store.session() as session:
        rows = queries.repo_results(session, release.id, step)  # type: ignore[arg-type]
    return [
        {"repo": r.repo, "status": r.status, "sha": r.sha, "detail": r.detail, "updated_at": _iso(r.updated_at)}
        for r in rows
    ]


def step_detail(rt: Runtime, version: str, step_name: str) -> dict[str, Any]:
    """One step of a release in full: its detail uncut and every repository's result."""
    from thor_cli.engine.steering import pipeline_step

    step = pipeline_step(rt, step_name)
    detail = release_detail(rt, version)
    release = require_release(rt, version)
    found = next(s for s in detail["steps"] if s["name"] == step.name)
    return {"version": detail["version"], "step": found, "repos": repo_results(rt, release, step.name)}


def event_log(rt: Runtime, version: str, step: str | None) -> list[dict[str, Any]]:
    release = require_release(rt, version)
    with rt.store.session() as session:
        rows = queries.events(session, release.id, step)  # type: ignore[arg-type]
    return [
        {
            "at": _iso(e.at),
            "step": e.step,
            "actor": e.actor,
            "kind": e.kind,
            "message": e.message,
            "output": e.output,
        }
        for e in rows
    ]


def repos_by_step(rt: Runtime, version: str, step: str | None) -> dict[str, list[dict[str, Any]]]:
    """Per-repository results of ``step``, or of every step that has some, in pipeline order."""
    release = require_release(rt, version)
    names = [step] if step else rt.pipeline.names
    found = {name: repo_results(rt, release, name) for name in names}
    return {name: rows for name, rows in found.items() if rows}
