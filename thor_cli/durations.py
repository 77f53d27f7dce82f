"""Durations as people write them in thor.toml and on the command line: ``90s``, ``30m``, ``6h``, ``2d``, ``1h30m``.

Every duration Thor accepts is bounded: at least zero and at most ``MAX_DURATION``, so that adding one to any
date Thor accepts (see ``thor_cli.clock``) stays a date Python can represent.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Ten years: longer than any wait, timeout or back-off that means something, and far from timedelta's limits.
MAX_DURATION = timedelta(days=3650)
_MAX_SECONDS = int(MAX_DURATION.total_seconds())


def _too_long(text: object) -> ValueError:
    return ValueError(f"duration {text} is too long (at most {format_duration(MAX_DURATION)})")


def parse_duration(text: str) -> timedelta:
    cleaned = text.strip().lower()
    if not cleaned or _PART.sub("", cleaned).strip():
        raise ValueError(f"invalid duration {text!r} (use forms like 90s, 30m, 6h, 2d or 1h30m)")
    # Sum in integer seconds first: `3000000d` must be refused, not overflow timedelta or a later date.
    seconds = sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in _PART.findall(cleaned))
    if seconds > _MAX_SECONDS:
        raise _too_long(repr(text))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "-" + format_duration(-delta)
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
        if not math.isfinite(value):
            raise ValueError(f"invalid duration {value!r}")
        if value < 0:
            raise ValueError(f"duration {value!r} is negative")
        if value > _MAX_SECONDS:
            raise _too_long(f"{value!r} seconds")
        return timedelta(seconds=value)
    return value


def _bounded(delta: timedelta) -> timedelta:
    if delta < timedelta(0):
        raise ValueError(f"duration {format_duration(delta)} is negative")
    if delta > MAX_DURATION:
        raise _too_long(format_duration(delta))
    return delta


def _positive(delta: timedelta) -> timedelta:
    if delta <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return delta


# A timedelta field of thor.toml that takes "30m", "6h", … or seconds: from 0s to MAX_DURATION.
Duration = Annotated[timedelta, BeforeValidator(coerce_duration), AfterValidator(_bounded)]
# The same where zero means nothing (a timeout of 0s could never be met).
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
