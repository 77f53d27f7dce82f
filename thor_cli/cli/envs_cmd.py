"""``thor envs [--json]``: every environment, who owns it, the release it runs and its open rollout."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import runtime


def register(app: typer.Typer) -> None:
    command(app, "envs", envs, "thor envs\nthor envs --json")


def envs(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show each environment: owner, release it runs, open rollout."""
    from thor_cli.environments.view import overview

    rt = runtime(ctx)
    data = overview(rt)
    if as_json:
        render.print_json(data)
        return
    if not data["environments"]:
        render.say("No environments configured: add [environments.NAME] tables to thor.toml.")
        return
    now = rt.clock.now()
    rows = []
    for env in data["environments"]:
        latest = env["rollouts"][-1] if env["rollouts"] else None
        pending = latest if latest and latest["status"] in ("opened", "waiting") else None
        rows.append(
            (
                env["name"],
                env["stage"],
                _owner(env),
                env["release"] or "",
                _pending(pending, now) if pending else "",
                f"{env['repo']}:{env['path']}",
            )
        )
    render.emit("Environments", ("Environment", "Stage", "Owner", "Runs", "Rollout", "Where"), rows)


def _owner(env: dict[str, Any]) -> str:
    owner = env["owner"] or ""
    if env["slack_user"] and env["slack_user"] != owner:
        return f"{owner} ({env['slack_user']})" if owner else env["slack_user"]
    return owner


def _age(opened_at: str | None, now: datetime) -> str:
    if not opened_at:
        return ""
    delta = now.astimezone(UTC) - datetime.fromisoformat(opened_at).astimezone(UTC)
    hours = max(0, int(delta.total_seconds() // 3600))
    return f"{hours // 24}d{hours % 24}h" if hours >= 24 else f"{hours}h"


def _pending(rollout: dict[str, Any], now: datetime) -> str:
    if rollout["status"] == "waiting":
        return f"{rollout['version']}: waiting"
    parts = [f"{rollout['version']} {rollout['pr_url'] or ''}".strip()]
    age = _age(rollout["opened_at"], now)
    if age:
        parts.append(f"open {age}")
    if rollout["approvals"] is not None:
        parts.append(f"{rollout['approvals']} approval{'' if rollout['approvals'] == 1 else 's'}")
    return ", ".join(parts)


def rollout_rows(rollouts: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows of ``thor status VERSION``'s environment table."""
    return [
        (
            r["name"],
            r["step"],
            render.status_text(r["status"]),
            r["pr_url"] or "",
            "" if r["approvals"] is None else r["approvals"],
            r["owner"] or "",
        )
        for r in rollouts
    ]
