"""The one clock everything in Thor reads.

``--now`` (or ``THOR_NOW``) sets where the clock starts; it then runs on in real time, as libfaketime does,
so a time-travelled run behaves exactly like a real one at that moment: due dates, backoff, timeouts, lease
expiry and database timestamps all come from here.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

NOW_ENV = "THOR_NOW"
# The dates Thor accepts anywhere (--now, --from, reschedule dates): wide enough for any real release, and far
# enough from datetime's limits (years 1 and 9999) that the calendar's look-ahead and every duration (at most
# ten years, see thor_cli.durations) still land on a representable date.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)
RANGE_TEXT = f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"


class Clock:
    def __init__(self, start: datetime | None = None, tz: ZoneInfo | None = None) -> None:
        self.tz = tz or ZoneInfo("UTC")
        self._origin = time.monotonic()
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self.travelling = start is not None
        self._skew = timedelta(0)

    def now(self) -> datetime:
        """Aware UTC."""
        return self._start + self._skew + timedelta(seconds=time.monotonic() - self._origin)

    def align(self, reference: datetime) -> None:
        """Read time as ``reference`` (the database server's clock) has it, so that hosts whose own clocks
        disagree by minutes still agree on when a lease expires. Time travel (``--now``) is left alone."""
        if not self.travelling:
            self._skew = reference.astimezone(UTC) - (self._start + timedelta(seconds=time.monotonic() - self._origin))

    def local_now(self) -> datetime:
        return self.now().astimezone(self.tz)

    def today(self) -> date:
        return self.local_now().date()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def parse_now(text: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 date or date-time; naive values are in the configured timezone."""
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            moment = datetime.combine(date.fromisoformat(cleaned), datetime.min.time())
        else:
            moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid --now {text!r}: use ISO 8601, like 2021-09-10 or 2021-09-10T09:00") from None
    if moment.tzinfo is None:
        # A local time in a DST fold is its first occurrence, one in a gap reads with the offset before the
        # change (PEP 495, fold=0): the same rule as the calendar (see docs/configuration.md).
        moment = moment.replace(tzinfo=tz)
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"--now {text.strip()!r} is out of range: Thor handles dates from {RANGE_TEXT}")
    return utc


def in_range(day: date) -> bool:
    """Whether a calendar date is one Thor accepts (see ``EARLIEST`` and ``LATEST``)."""
    return EARLIEST.date() <= day <= LATEST.date()


def as_utc(moment: datetime) -> datetime:
    """Databases may hand back naive datetimes (SQLite); Thor stores UTC, so naive means UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
