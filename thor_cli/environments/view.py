"""Where every environment stands: ``overview(rt)``, the data behind ``thor envs --json``, the report and
the server. Read from the database only (what the rollout steps recorded at their last poll): no network.

Shape (keep it: other commands render it)::

    {"environments": [{"name", "owner", "slack_user", "stage", "repo", "path", "format",
                       "release": last version merged (or already there), or null,
                       "rollouts": [{"version", "status", "pr_number", "pr_url", "opened_at", "merged_at",
                                     "approvals"}, ...]}]}

``status`` is one of ``opened`` (a pull request waits for its owner), ``merged``, ``declined`` (closed
without merging), ``up-to-date`` (the environment already ran the tag: no pull request) and ``waiting``
(the rollout step has started for the release but has not reached this environment, e.g. images are not
there yet). Rollouts are oldest release first; times are ISO-8601 UTC or null.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thor_cli.runtime import Runtime

ROLLOUT_TYPE = "rollout"
ROLLOUT_STATUSES = ("opened", "merged", "declined", "up-to-date", "waiting")


def rollout_steps(rt: Runtime) -> list[Any]:
    """The pipeline's enabled steps of type ``rollout``."""
    return [step for step in rt.pipeline.enabled if step.uses == ROLLOUT_TYPE]


def step_covers(step: Any, stage: str) -> bool:
    """Whether a rollout step moves environments of ``stage`` (its ``stages`` / ``skip_stages`` options)."""
    options = step.options
    stages = list(getattr(options, "stages", []) or [])
    return (not stages or stage in stages) and stage not in (getattr(options, "skip_stages", []) or [])


def _iso(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        from thor_cli.clock import as_utc

        return as_utc(value).isoformat(timespec="seconds")
    return str(value)


def rollout_entry(version: str, data: dict[str, Any]) -> dict[str, Any]:
    """One rollout as ``overview`` shows it, from what the rollout step recorded for an environment."""
    status = data.get("status")
    return {
        "version": version,
        "status": status if status in ROLLOUT_STATUSES else "waiting",
        "pr_number": data.get("pr_number"),
        "pr_url": data.get("pr_url"),
        "opened_at": _iso(data.get("opened_at")),
        "merged_at": _iso(data.get("merged_at")),
        "approvals": data.get("approvals"),
    }


def overview(rt: Runtime) -> dict[str, Any]:
    environments = rt.settings.config.environments
    steps = rollout_steps(rt)
    names = [step.name for step in steps]
    records: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}  # (release id, step) -> env -> data
    releases: list[tuple[int, str]] = []
    runs: dict[tuple[int, str], str] = {}
    if environments and steps:
        from sqlmodel import col, select

        from thor_cli.store.models import Release, RepoResult, StepRun

        with rt.store.session() as session:
            releases = [
                (rid, version)
                for rid, version in session.exec(
                    select(Release.id, Release.version).order_by(col(Release.feature_freeze), col(Release.version))
                )
            ]
            for rid, step, env, data in session.exec(
                select(RepoResult.release_id, RepoResult.step, RepoResult.repo, RepoResult.data).where(
                    col(RepoResult.step).in_(names)
                )
            ):
                records.setdefault((rid, step), {})[env] = json.loads(data or "{}")
            for rid, step, status in session.exec(
                select(StepRun.release_id, StepRun.name, StepRun.status).where(col(StepRun.name).in_(names))
            ):
                runs[(rid, step)] = status
    rows = []
    for name, env in environments.items():
        mine = [step for step in steps if step_covers(step, env.stage)]
        rollouts: list[dict[str, Any]] = []
        for rid, version in releases:
            for step in mine:
                data = records.get((rid, step.name), {}).get(name)
                if data is not None:
                    rollouts.append(rollout_entry(version, data))
                elif runs.get((rid, step.name)) in ("running", "waiting"):
                    rollouts.append(rollout_entry(version, {"status": "waiting"}))
        done = [r["version"] for r in rollouts if r["status"] in ("merged", "up-to-date")]
        rows.append(
            {
                "name": name,
                "owner": env.owner,
                "slack_user": env.slack_user,
                "stage": env.stage,
                "repo": env.repo,
                "path": env.path,
                "format": env.format,
                "release": done[-1] if done else None,
                "rollouts": rollouts,
            }
        )
    return {"environments": rows}


def release_rollouts(rt: Runtime, release_id: int) -> list[dict[str, Any]]:
    """One release's rollout per environment (for ``thor status VERSION``): each rollout step's record of
    each environment, in ``[environments]`` order, with its owner."""
    environments = rt.settings.config.environments
    steps = rollout_steps(rt)
    if not environments or not steps:
        return []
    from sqlmodel import col, select

    from thor_cli.store.models import RepoResult

    names = [step.name for step in steps]
    with rt.store.session() as session:
        rows = session.exec(
            select(RepoResult.step, RepoResult.repo, RepoResult.data).where(
                RepoResult.release_id == release_id, col(RepoResult.step).in_(names)
            )
        ).all()
    found = {(env, step): json.loads(data or "{}") for step, env, data in rows}
    shown = []
    for name, env in environments.items():
        for step in steps:
            data = found.get((name, step.name))
            if data is None:
                continue
            entry = rollout_entry("", data)
            del entry["version"]
            shown.append({"name": name, "step": step.name, "owner": env.owner, "tag": data.get("tag"), **entry})
    return shown
