"""Durations as people write them in thor.toml and on the command line: ``90s``, ``30m``, ``6h``, ``2d``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    cleaned = text.strip().lower()
    if not cleaned or _PART.sub("", cleaned).strip():
        raise ValueError(f"invalid duration {text!r} (use forms like 90s, 30m, 6h, 2d or 1h30m)")
    total = timedelta()
    for amount, unit in _PART.findall(cleaned):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    return total


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def coerce_duration(value: Any) -> Any:
    """For pydantic: ``"30m"`` and plain seconds become a timedelta; anything else is left to validation."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


# A timedelta field of thor.toml that takes "30m", "6h", … or seconds.
Duration = Annotated[timedelta, BeforeValidator(coerce_duration)]
