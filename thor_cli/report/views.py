"""What each page shows, from the plain data of ``report.data``: pure functions, no I/O, no templates.

Kept apart from the data so the shapes the pages need (board sections, the environment × release matrix,
owners' pages) are tested on dicts directly, and the HTTP API keeps the CLI's keys untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Status → (icon, CSS class). The icon and the word are shown together: colour is never the only signal.
ICONS = {
    "succeeded": "✓",
    "released": "✓",
    "active": "▶",
    "running": "▶",
    "in progress": "▶",
    "waiting": "◷",
    "pending": "·",
    "upcoming": "·",
    "skipped": "↷",
    "failed": "✗",
    "blocked": "✗",
    "cancelled": "⊘",
    "past": "·",
    "declined": "✗",
    "opened": "◷",
    "on it": "✓",
    "behind": "!",
    "later": "—",
    "merged": "✓",
}
OPEN = ("active", "blocked")
MATRIX_RELEASES = 4
# A rollout's status → what the matrix cell says.
ROLLOUT_CELL = {
    "merged": "merged",
    "up-to-date": "on it",
    "opened": "PR open",
    "declined": "declined",
    "waiting": "waiting",
}


def css_class(status: str) -> str:
    return "st-" + re.sub(r"[^a-z0-9]+", "-", str(status).lower()).strip("-")


def board(releases: list[dict[str, Any]], calendar: list[dict[str, Any]], envs: dict[str, Any]) -> dict[str, Any]:
    """Current releases (open ones), the next cycle if it has not started, then past releases."""
    stored = {r["version"] for r in releases}
    current = [r for r in releases if r["status"] in OPEN]
    past = [r for r in releases if r["status"] not in OPEN]
    upcoming = [c for c in calendar if c["phase"] == "upcoming" and c["version"] not in stored][:1]
    for row in current:
        row["owners_to_act"] = owners_to_act(envs, row["version"])
    return {"current": current, "upcoming": upcoming, "past": past}


def owners_to_act(envs: dict[str, Any], version: str) -> list[dict[str, Any]]:
    """Environment owners with a rollout pull request of ``version`` waiting for them."""
    waiting = []
    for env in envs.get("environments", []):
        for rollout in env.get("rollouts", []):
            if rollout.get("version") == version and rollout.get("status") == "opened":
                waiting.append(
                    {"owner": env.get("owner"), "environment": env.get("name"), "pr_url": rollout.get("pr_url")}
                )
    return waiting


@dataclass
class Cell:
    text: str
    status: str
    since: str | None = None  # when it became so: the merge, or the pull request's opening
    link: str | None = None

    @property
    def since_label(self) -> str:
        """ "since" while it lasts (on it, PR open), "on" for what is over (merged and moved on, declined)."""
        return "since" if self.text in ("on it", "PR open") else "on"


@dataclass
class OwnerGroup:
    owner: str
    slug: str
    rows: list[tuple[dict[str, Any], list[Cell]]] = field(default_factory=list)


def matrix_versions(envs: dict[str, Any], releases: list[dict[str, Any]]) -> list[str]:
    """The releases the matrix has a column for: the last few started ones, oldest first."""
    order = [r["version"] for r in reversed(releases) if r["status"] != "cancelled"]
    for env in envs.get("environments", []):
        for rollout in env.get("rollouts", []):
            if rollout.get("version") not in order:
                order.append(rollout["version"])
    return order[-MATRIX_RELEASES:]


def cell(env: dict[str, Any], version: str, versions: list[str]) -> Cell:
    """One environment × release: on it, PR open since, declined, behind (or on a later release)."""
    rollout = next((r for r in env.get("rollouts", []) if r.get("version") == version), None)
    current = env.get("release")
    if rollout is not None:
        status = rollout.get("status") or "waiting"
        if status in ("merged", "up-to-date") and current == version:
            return Cell("on it", "on it", rollout.get("merged_at"), rollout.get("pr_url"))
        text = ROLLOUT_CELL.get(status, status)
        since = rollout.get("opened_at") if status == "opened" else rollout.get("merged_at")
        return Cell(text, status, since, rollout.get("pr_url"))
    if current == version:
        return Cell("on it", "on it")
    if current in versions and versions.index(current) > versions.index(version):
        return Cell("on a later release", "later")
    return Cell("behind", "behind")


def owner_groups(envs: dict[str, Any], versions: list[str]) -> list[OwnerGroup]:
    """Environments grouped by owner, each with its matrix row; slugs are unique."""
    groups: dict[str, OwnerGroup] = {}
    used: set[str] = set()

    def order(env: dict[str, Any]) -> tuple[bool, str, str]:  # by owner, case aside; environments nobody owns last
        return (not env.get("owner"), str(env.get("owner") or "").lower(), str(env.get("name")))

    for env in sorted(envs.get("environments", []), key=order):
        owner = str(env.get("owner") or "no owner")
        if owner not in groups:
            groups[owner] = OwnerGroup(owner, _unique_slug(owner, used))
        groups[owner].rows.append((env, [cell(env, v, versions) for v in versions]))
    return list(groups.values())


def _unique_slug(owner: str, used: set[str]) -> str:
    """A file name for the owner's page: lower-case letters, digits and dashes only (never a path)."""
    base = re.sub(r"[^a-z0-9]+", "-", owner.lower()).strip("-")[:60] or "owner"
    slug, index = base, 2
    while slug in used:
        slug, index = f"{base}-{index}", index + 1
    used.add(slug)
    return slug
