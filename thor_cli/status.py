"""What `thor status` shows, as plain data (the CLI renders it as tables or JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from thor_cli.clock import as_utc
from thor_cli.engine.scheduler import decide
from thor_cli.releases import require_release
from thor_cli.runtime import Runtime
from thor_cli.store import queries
from thor_cli.store.models import DONE_STEP_STATUSES, Release, StepRun


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat(timespec="seconds") if moment else None


def _day(rt: Runtime, moment: datetime) -> str:
    return as_utc(moment).astimezone(rt.settings.config.schedule.tz).date().isoformat()


def releases_overview(rt: Runtime) -> list[dict[str, Any]]:
    enabled = [s.name for s in rt.pipeline.enabled]
    with rt.store.session() as session:
        releases = queries.list_releases(session)
        runs: dict[int, dict[str, StepRun]] = {}
        for run in session.exec(select(StepRun).order_by(col(StepRun.id))):
            runs.setdefault(run.release_id, {})[run.name] = run
    rows = []
    for release in releases:
        mine = runs.get(release.id or 0, {})
        done = sum(1 for name in enabled if name in mine and mine[name].status in DONE_STEP_STATUSES)
        rows.append(
            {
                "version": release.version,
                "codename": release.codename,
                "status": release.status,
                "feature_freeze": _day(rt, release.feature_freeze),
                "code_freeze": _day(rt, release.code_freeze),
                "steps_done": done,
                "steps_total": len(enabled),
                "next_step": _next_step(rt, release, mine) if release.started else None,
            }
        )
    return rows


def _next_step(rt: Runtime, release: Release, runs: dict[str, StepRun]) -> str | None:
    for step in rt.pipeline.enabled:
        run = runs.get(step.name)
        if run is None or run.status not in DONE_STEP_STATUSES:
            return step.name
    return None


def release_detail(rt: Runtime, version: str) -> dict[str, Any]:
    with rt.store.session() as session:
        release = require_release(rt, session, version)
        runs = queries.step_runs(session, release.id)  # type: ignore[arg-type]
    now = rt.clock.now()
    steps = []
    for step in rt.pipeline.enabled:
        run = runs.get(step.name)
        decision = decide(rt.pipeline, release, runs, step, now)
        steps.append(
            {
                "name": step.name,
                "status": run.status if run else "pending",
                "attempts": run.attempts if run else 0,
                "started_at": _iso(run.started_at) if run else None,
                "finished_at": _iso(run.finished_at) if run else None,
                "detail": (run.detail if run and run.detail else decision.reason) or "",
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
    }


def event_log(rt: Runtime, version: str, step: str | None) -> list[dict[str, Any]]:
    with rt.store.session() as session:
        release = require_release(rt, session, version)
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
