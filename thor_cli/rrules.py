"""Checking a schedule RRULE (RFC 5545) before dateutil sees it, so a mistake reads as what is wrong.

dateutil's own messages are often about its parser (``not enough values to unpack``); the checks here name
the part of the rule at fault and what it should look like.
"""

from __future__ import annotations

_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
_KEYS = frozenset(
    {
        "FREQ",
        "INTERVAL",
        "WKST",
        "COUNT",
        "UNTIL",
        "BYSETPOS",
        "BYMONTH",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYEASTER",
        "BYWEEKNO",
        "BYDAY",
        "BYWEEKDAY",
        "BYHOUR",
        "BYMINUTE",
        "BYSECOND",
    }
)
EXAMPLE = "like FREQ=MONTHLY;BYDAY=+2FR"


def _check_parts(body: str, rule: str) -> None:
    seen: set[str] = set()
    for part in (p.strip() for p in body.strip().split(";")):
        if not part:
            raise ValueError(f"invalid RRULE {rule!r}: an empty part (one ';' too many)")
        key, sep, value = part.partition("=")
        key = key.strip().upper()
        if not sep or not key or not value.strip():
            raise ValueError(f"invalid RRULE {rule!r}: {part!r} is not KEY=VALUE ({EXAMPLE})")
        if key not in _KEYS:
            raise ValueError(f"invalid RRULE {rule!r}: unknown part {key} (parts: {', '.join(sorted(_KEYS))})")
        if key in seen:
            raise ValueError(f"invalid RRULE {rule!r}: {key} is given twice")
        seen.add(key)
        if key == "FREQ" and value.strip().upper() not in _FREQS:
            raise ValueError(f"invalid RRULE {rule!r}: FREQ={value.strip()} is not one of {', '.join(_FREQS)}")
    if "FREQ" not in seen:
        raise ValueError(f"invalid RRULE {rule!r}: FREQ is missing ({EXAMPLE})")


def check_rrule(rule: str) -> str:
    """``rule`` unchanged, or a ValueError saying what is wrong with it."""
    from dateutil.rrule import rrulestr

    text = rule.strip()
    if not text:
        raise ValueError(f"empty RRULE ({EXAMPLE})")
    if "RRULE:" in text.upper():
        bodies = [line.split(":", 1)[1] for line in text.splitlines() if line.strip().upper().startswith("RRULE:")]
    else:
        bodies, text = [text], f"RRULE:{text}"
    for body in bodies:
        _check_parts(body, rule)
    try:
        rrulestr(text, forceset=True)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        raise ValueError(f"invalid RRULE {rule!r}: {exc}") from None
    return rule
