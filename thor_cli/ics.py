"""An iCalendar (RFC 5545) feed of the freeze dates, for project managers' calendar apps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from thor_cli.calendar import Cycle


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """Lines longer than 75 octets are folded with a leading space, as RFC 5545 requires."""
    raw = line.encode()
    parts, start = [], 0
    while len(raw) - start > 75:
        end = start + (75 if not parts else 74)
        while end > start and (raw[end] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            end -= 1
        parts.append(raw[start:end].decode())
        start = end
    parts.append(raw[start:].decode())
    return [parts[0], *(" " + p for p in parts[1:])]


def _event(uid: str, day: datetime, summary: str, description: str, stamp: str) -> list[str]:
    start = day.date()
    return [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
        f"DTEND;VALUE=DATE:{start + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{_escape(summary)}",
        f"DESCRIPTION:{_escape(description)}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def to_ics(cycles: Iterable[Cycle], now: datetime, domain: str = "thor.gen3") -> str:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Gen3//Thor release calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Gen3 releases",
    ]
    for cycle in cycles:
        # UIDs are stable per release and milestone, so a subscribed calendar updates instead of duplicating.
        lines += _event(
            f"{cycle.version}-feature-freeze@{domain}",
            cycle.feature_freeze,
            f"Feature freeze {cycle.title}",
            f"Integration branch {cycle.integration_branch} is cut from each repository.",
            stamp,
        )
        lines += _event(
            f"{cycle.version}-code-freeze@{domain}",
            cycle.code_freeze,
            f"Code freeze {cycle.title}",
            f"{cycle.integration_branch} is merged into {cycle.stable_branch} and tagged {cycle.version}.",
            stamp,
        )
    lines.append("END:VCALENDAR")
    return "".join(f"{folded}\r\n" for line in lines for folded in _fold(line))
