"""The plain data the board shows, built from what ``thor status``, ``thor log``, ``thor calendar`` and ``thor envs``
print with ``--json`` (their keys are kept; the board adds what a project manager asks next: the phase, what is
waited for and since when, and who must act). Templates and the HTTP API both read only this.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from thor_cli.clock import as_utc
from thor_cli.runtime import Runtime

CALENDAR_MONTHS = 6
# Who must act on a step that only a person can move on.
ACTIONS = {
    "failed": "a release engineer: `thor retry {version} {step}` or `thor skip {version} {step} --reason …`",
    "gate": "an approver: `thor approve {version} {step}`",
}


def releases(rt: Runtime) -> list[dict[str, Any]]:
    """``thor status --json``'s releases, newest first, each with its phase and (for open ones) what it waits for."""
    from thor_cli.status import releases_overview

    now = rt.clock.now()
    rows = releases_overview(rt)
    for row in rows:
        row["phase"] = phase(rt, row, now)
        row["waiting"] = None
        if row["status"] in ("active", "blocked"):
            row["waiting"] = waiting_for(release(rt, row["version"]))
    return list(reversed(rows))


def phase(rt: Runtime, row: dict[str, Any], now: datetime) -> str:
    """Where a release is in its month, in a project manager's words."""
    if row["status"] in ("released", "cancelled"):
        return str(row["status"])
    today = now.astimezone(rt.settings.config.schedule.tz).date().isoformat()
    if today < row["feature_freeze"]:
        return "before feature freeze"
    return "in feature freeze" if today < row["code_freeze"] else "in code freeze"


def release(rt: Runtime, version: str) -> dict[str, Any]:
    """``thor status VERSION --json``, each step with its type and milestone added."""
    from thor_cli.status import release_detail

    detail = release_detail(rt, version)
    for step in detail["steps"]:
        configured = rt.pipeline.get(step["name"])
        step["uses"] = configured.uses if configured else None
        step["on"] = configured.on if configured else None
    return detail


def waiting_for(detail: dict[str, Any]) -> dict[str, Any] | None:
    """What the release waits for, since when, and who must act (None: Thor acts alone). A failed step comes
    first (the release is blocked on it), then a gate waiting for its approval, then the first step not done."""
    open_steps = [s for s in detail["steps"] if s["status"] not in ("succeeded", "skipped")]
    failed = [s for s in open_steps if s["status"] == "failed"]
    gates = [s for s in open_steps if s["uses"] == "gate" and s["status"] == "waiting"]
    if not open_steps:
        return None
    step = (failed + gates + open_steps)[0]
    kind = "failed" if step in failed else "gate" if step in gates else None
    return {
        "step": step["name"],
        "status": step["status"],
        "reason": step["detail"],
        "since": step["finished_at"] if step in failed else step["started_at"],
        "actor": ACTIONS[kind].format(version=detail["version"], step=step["name"]) if kind else None,
    }


def release_page(rt: Runtime, version: str) -> dict[str, Any]:
    """Everything a release's page shows: its steps, per-repository results, notes, links and event log."""
    from thor_cli.status import event_log

    detail = release(rt, version)
    detail["waiting"] = waiting_for(detail)
    detail["repo_results"] = repo_results(rt, version)
    detail["notes_markdown"] = notes_markdown(rt, version)
    detail["slack_thread"] = slack_thread(rt, version)
    detail["events"] = event_log(rt, version, None)
    return detail


def repo_results(rt: Runtime, version: str) -> dict[str, list[dict[str, Any]]]:
    """Per repository step, what each repository did; failed repositories first, then by name."""
    from sqlmodel import col, select

    from thor_cli.store import queries
    from thor_cli.store.models import RepoResult

    order = {name: index for index, name in enumerate(rt.pipeline.names)}
    # Rollout steps record environments, not repositories: the page shows them with their owners instead.
    rollouts = {step.name for step in rt.pipeline.steps if step.uses == "rollout"}
    with rt.store.session() as session:
        stored = queries.get_release(session, version)
        rows = session.exec(select(RepoResult).where(col(RepoResult.release_id) == stored.id)).all() if stored else []
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.step in rollouts:
            continue
        grouped.setdefault(row.step, []).append(
            {
                "repo": row.repo,
                "status": row.status,
                "sha": row.sha,
                "detail": row.detail,
                "data": json.loads(row.data or "{}"),
                "updated_at": as_utc(row.updated_at).isoformat(timespec="seconds"),
            }
        )
    for results in grouped.values():
        results.sort(key=lambda r: (r["status"] != "failed", r["repo"]))
    return dict(sorted(grouped.items(), key=lambda item: order.get(item[0], len(order))))


def notes_markdown(rt: Runtime, version: str) -> str | None:
    from thor_cli.notes import NotesNotFound, stored_notes

    try:
        return stored_notes(rt, version).markdown
    except NotesNotFound:
        return None


def slack_thread(rt: Runtime, version: str) -> dict[str, str] | None:
    """The release's Slack thread as stored: channel and timestamp (Slack links need the workspace's domain)."""
    from thor_cli.store import queries

    with rt.store.session() as session:
        stored = queries.get_release(session, version)
    if stored is None or not stored.slack_thread_ts:
        return None
    return {"channel": stored.slack_channel or "", "ts": stored.slack_thread_ts}


def calendar(rt: Runtime, months: int = CALENDAR_MONTHS) -> list[dict[str, Any]]:
    """``thor calendar --json`` from this month on."""
    return [c.as_data(rt.clock.now(), upcoming=c is upcoming) for c, upcoming in _cycles(rt, months)]


def calendar_ics(rt: Runtime, months: int = CALENDAR_MONTHS) -> str:
    """``thor calendar --ics`` for the same months."""
    from thor_cli.ics import to_ics

    return to_ics([c for c, _ in _cycles(rt, months)], rt.clock.now())


def _cycles(rt: Runtime, months: int) -> list[tuple[Any, Any]]:
    from dateutil.relativedelta import relativedelta

    local = rt.clock.local_now()
    start = datetime(local.year, local.month, 1, tzinfo=rt.calendar.tz)
    from thor_cli.releases import with_moves

    cycles = rt.calendar.cycles_between(start, start + relativedelta(months=months) - relativedelta(seconds=1))
    cycles = with_moves(rt, cycles)  # the same dates as `thor calendar`, moved releases included
    now = rt.clock.now()
    upcoming = next((c for c in cycles if c.code_freeze > now), None)
    return [(c, upcoming) for c in cycles]


def environments(rt: Runtime) -> dict[str, Any]:
    """``thor envs --json``: every environment, its owner, the release it runs and its rollouts."""
    from thor_cli.environments.view import overview

    return overview(rt)


def generated_at(rt: Runtime) -> dict[str, str]:
    """When the data was read, in the configured timezone (every page says it)."""
    local = rt.clock.local_now()
    return {
        "iso": local.isoformat(timespec="seconds"),
        "text": f"{local:%Y-%m-%d %H:%M}",
        "timezone": rt.calendar.tz.key,
    }
