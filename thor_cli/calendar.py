"""The release calendar: pure functions from the schedule configuration to release cycles.

A cycle starts at a feature-freeze occurrence; its code freeze is the first code-freeze occurrence after
it. Rules are iCalendar RRULEs evaluated with dateutil in the configured timezone. A rule may carry its own
``DTSTART`` (which anchors cadences such as every other Friday); otherwise occurrences are counted from
2000-01-01 at midnight, so milestones open at midnight unless the rule sets ``BYHOUR``/``BYMINUTE``.

Rules produce local wall-clock times. Where a daylight-saving change makes one ambiguous or impossible, the
rule is PEP 495's ``fold=0`` (what zoneinfo does, and dateutil's ``resolve_imaginary``): a time in the autumn
fold is its first occurrence (01:30 America/New_York on 2021-11-07 is 05:30 UTC, in EDT); a time in the spring
gap moves forward by the gap (02:30 on 2021-03-14 is 03:30 EDT, 07:30 UTC). Ranges are compared in UTC, so
the repeated hour never hides a milestone.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

from thor_cli.clock import Clock

ANCHOR = datetime(2000, 1, 1)
# A code freeze further than this after its feature freeze means the two rules do not fit together.
MAX_CYCLE_LENGTH = timedelta(days=400)
FIND_HORIZON_YEARS = 10
# Local wall-clock ranges are widened by this much and then filtered in UTC: more than any DST or zone change
# (Samoa skipped a whole day in 2011).
_PAD = timedelta(days=2)


def _utc(moment: datetime) -> datetime:
    """Aware datetimes sharing one tzinfo compare as wall-clock times, ignoring ``fold``: compare in UTC."""
    return moment.astimezone(UTC)


# {feature_freeze+1M:%Y.%m}: the feature-freeze date shifted by whole months (Gen3 names the release cut in
# late September "2021.10"). The shifted date is clamped to the month's last day (Jan 31 + 1M = Feb 28).
_SHIFTED = re.compile(r"\{feature_freeze([+-]\d{1,2})M(?=[:}])")


def render_date_template(template: str, feature_freeze: date) -> str:
    """``version`` / ``integration_branch``: ``{feature_freeze:%Y.%m}``, optionally with a month offset."""
    from dateutil.relativedelta import relativedelta

    values: dict[str, date] = {"feature_freeze": feature_freeze}

    def shifted(match: re.Match[str]) -> str:
        months = int(match.group(1))
        name = f"feature_freeze_{'p' if months >= 0 else 'm'}{abs(months)}"
        values[name] = feature_freeze + relativedelta(months=months)
        return "{" + name

    return _SHIFTED.sub(shifted, template).format(**values)


@dataclass(frozen=True)
class Cycle:
    version: str
    codename: str | None
    feature_freeze: datetime  # aware, in the schedule's timezone
    code_freeze: datetime
    integration_branch: str
    stable_branch: str
    moved: bool = False  # its dates are the ones `thor release reschedule` stored, not the rule's

    @property
    def title(self) -> str:
        return f"{self.version} {self.codename}" if self.codename else self.version

    def phase(self, now: datetime) -> str:
        if _utc(now) < _utc(self.feature_freeze):
            return "upcoming"
        return "in progress" if _utc(now) < _utc(self.code_freeze) else "past"

    def as_data(self, now: datetime, *, upcoming: bool) -> dict[str, object]:
        """What ``thor calendar --json`` prints for this cycle (the report and the API use the same keys)."""
        return {
            "version": self.version,
            "codename": self.codename,
            "feature_freeze": self.feature_freeze.date().isoformat(),
            "code_freeze": self.code_freeze.date().isoformat(),
            "integration_branch": self.integration_branch,
            "phase": self.phase(now),
            "next": upcoming,
            "moved": self.moved,
        }


def _parse_rule(rule: str) -> rrule | rruleset:
    text = rule.strip()
    if "RRULE:" not in text.upper():
        text = f"RRULE:{text}"
    parsed = rrulestr(text, dtstart=ANCHOR, forceset=True, ignoretz=True)
    return parsed


class _Occurrences:
    """A rule's occurrences (naive wall-clock times), worked out once and extended on demand.

    dateutil counts every ``between``/``after`` call from DTSTART again (3 ms for the 25 years since 2000);
    a tick, a status or a month of test ticks asks many times, and a bisect over the list costs microseconds.
    Shared by every calendar of the same rule text (``_occurrences_of``), so it extends under a lock.
    """

    _CHUNK = timedelta(days=3660)  # about ten years a step

    def __init__(self, rule: rrule | rruleset) -> None:
        self._rule = rule
        self._items: list[datetime] = []
        self._until: datetime | None = None  # everything up to here (inclusive) is in _items
        self._exhausted = False  # a finite rule (UNTIL, COUNT) has no occurrence after _until
        self._lock = threading.Lock()

    def between(self, low: datetime, high: datetime) -> list[datetime]:
        """Occurrences in [low, high]."""
        self._cover(high)
        return self._items[bisect_left(self._items, low) : bisect_right(self._items, high)]

    def after(self, moment: datetime, *, inc: bool) -> datetime | None:
        """The first occurrence after ``moment`` (or at it, with ``inc``)."""
        limit = moment
        while True:
            self._cover(limit)
            index = (bisect_left if inc else bisect_right)(self._items, moment)
            if index < len(self._items):
                return self._items[index]
            if self._exhausted:
                return None
            limit = max(limit, self._until or limit) + self._CHUNK

    def _cover(self, high: datetime) -> None:
        with self._lock:
            if self._exhausted or (self._until is not None and high <= self._until):
                return
            start = self._until
            until = max(high, (start or ANCHOR) + self._CHUNK)
            if until >= datetime.max - self._CHUNK:
                until = datetime.max
            if start is None:
                found = self._rule.between(datetime.min, until, inc=True)
            else:  # inclusive at both ends, minus what is already there
                found = [o for o in self._rule.between(start, until, inc=True) if o > start]
            self._items.extend(found)
            self._until = until
            if until == datetime.max or self._rule.after(until, inc=False) is None:
                self._exhausted = True


@lru_cache(maxsize=32)
def _occurrences_of(rule: str) -> _Occurrences:
    return _Occurrences(_parse_rule(rule))


class ReleaseCalendar:
    def __init__(
        self,
        *,
        feature_freeze: str,
        code_freeze: str,
        timezone: str = "UTC",
        version: str = "{feature_freeze:%Y.%m}",
        integration_branch: str = "integration{feature_freeze:%Y%m}",
        stable_branch: str = "stable",
        codenames: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.tz = ZoneInfo(timezone)
        # Only ``find`` reads the time (how far ahead versions are looked up): through the Clock, so --now
        # reaches it too.
        self.clock = clock or Clock(tz=self.tz)
        self._rules = (feature_freeze, code_freeze)
        self._ff = _occurrences_of(feature_freeze)
        self._cf = _occurrences_of(code_freeze)
        self.version_template = version
        self.branch_template = integration_branch
        self.stable_branch = stable_branch
        self.codenames = dict(codenames or {})

    @classmethod
    def from_schedule(
        cls, schedule: object, codenames: Mapping[str, str] | None = None, clock: Clock | None = None
    ) -> ReleaseCalendar:
        return cls(
            feature_freeze=schedule.feature_freeze,  # type: ignore[attr-defined]
            code_freeze=schedule.code_freeze,  # type: ignore[attr-defined]
            timezone=schedule.timezone,  # type: ignore[attr-defined]
            version=schedule.version,  # type: ignore[attr-defined]
            integration_branch=schedule.integration_branch,  # type: ignore[attr-defined]
            stable_branch=schedule.stable_branch,  # type: ignore[attr-defined]
            codenames=codenames,
            clock=clock,
        )

    def _local_naive(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            return moment
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def _aware(self, naive: datetime) -> datetime:
        """A rule's wall-clock time as a real moment (fold=0), shown as the wall clock then reads (a time in a
        spring gap becomes the time it really is, 02:30 → 03:30)."""
        return naive.replace(tzinfo=self.tz).astimezone(UTC).astimezone(self.tz)

    def _as_utc(self, moment: datetime) -> datetime:
        return _utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=self.tz))

    def _cycle(self, ff_naive: datetime, code_freezes: list[datetime] | None = None) -> Cycle | None:
        feature_freeze = self._aware(ff_naive)
        if code_freezes is None:
            # The first code freeze after the feature freeze as moments (a wall-clock comparison could pick
            # one inside the same repeated hour).
            cf_naive = self._cf.after(ff_naive - _PAD, inc=False)
            while cf_naive is not None and _utc(self._aware(cf_naive)) <= _utc(feature_freeze):
                cf_naive = self._cf.after(cf_naive, inc=False)
            code_freeze = self._aware(cf_naive) if cf_naive is not None else None
        else:  # the code freezes in range, as UTC, worked out once (rruleset.after re-counts from DTSTART)
            index = bisect_right(code_freezes, _utc(feature_freeze))
            code_freeze = code_freezes[index].astimezone(self.tz) if index < len(code_freezes) else None
        if code_freeze is None or _utc(code_freeze) - _utc(feature_freeze) > MAX_CYCLE_LENGTH:
            return None
        ff_date = ff_naive.date()
        version = render_date_template(self.version_template, ff_date)
        return Cycle(
            version=version,
            codename=self.codenames.get(version),
            feature_freeze=feature_freeze,
            code_freeze=code_freeze,
            integration_branch=render_date_template(self.branch_template, ff_date),
            stable_branch=self.stable_branch,
        )

    def cycles_between(self, start: datetime, end: datetime) -> list[Cycle]:
        """Cycles whose feature freeze falls in [start, end] (naive bounds are local wall-clock times)."""
        low, high = self._as_utc(start), self._as_utc(end)
        naive_low, naive_high = self._local_naive(low) - _PAD, self._local_naive(high) + _PAD
        occurrences = [o for o in self._ff.between(naive_low, naive_high) if low <= self._as_utc(o) <= high]
        # A code freeze later than high + MAX_CYCLE_LENGTH would be too far from any of these anyway.
        code_freezes = (
            [_utc(self._aware(c)) for c in self._cf.between(naive_low, naive_high + MAX_CYCLE_LENGTH)]
            if occurrences
            else []
        )
        return [c for c in (self._cycle(o, code_freezes) for o in occurrences) if c is not None]

    def iter_from(self, start: datetime) -> Iterator[Cycle]:
        """Cycles whose feature freeze is at or after ``start``, in order, without end."""
        low = self._as_utc(start)
        moment = self._local_naive(low) - _PAD
        inclusive = True
        while True:
            occurrence = self._ff.after(moment, inc=inclusive)
            if occurrence is None:
                return
            if self._as_utc(occurrence) >= low:
                cycle = self._cycle(occurrence)
                if cycle is not None:
                    yield cycle
            moment, inclusive = occurrence, False

    def upcoming(self, start: datetime, count: int) -> list[Cycle]:
        cycles = []
        for cycle in self.iter_from(start):
            cycles.append(cycle)
            if len(cycles) >= count:
                break
        return cycles

    def current_or_next(self, now: datetime) -> Cycle | None:
        """The cycle in progress at ``now``, else the next one to start."""
        for cycle in self.cycles_between(now - MAX_CYCLE_LENGTH, now):
            if _utc(cycle.feature_freeze) <= _utc(now) < _utc(cycle.code_freeze):
                return cycle
        return next(self.iter_from(now), None)

    @cached_property
    def _by_version(self) -> dict[str, Cycle]:
        key = (
            *self._rules,
            str(self.tz),
            self.version_template,
            self.branch_template,
            self.stable_branch,
            tuple(sorted(self.codenames.items())),
            self.clock.local_now().year + FIND_HORIZON_YEARS,
        )
        return _versions(key, self)

    def find(self, version: str) -> Cycle | None:
        return self._by_version.get(version)


_VERSIONS: dict[tuple[object, ...], dict[str, Cycle]] = {}


def _versions(key: tuple[object, ...], calendar: ReleaseCalendar) -> dict[str, Cycle]:
    """Every cycle from 2000 to the horizon year (``key``'s last item) by version, shared by calendars equal
    in ``key`` (every setting a cycle depends on): a status or a step looks a version up in a few ms once,
    not once per calendar built. ``calendar`` is any one of them."""
    found = _VERSIONS.get(key)
    if found is None:
        found = {}
        for cycle in calendar.cycles_between(ANCHOR, datetime(key[-1], 12, 31)):  # type: ignore[call-overload]
            found.setdefault(cycle.version, cycle)
        if len(_VERSIONS) >= 8:  # a long-lived process (the server, a test run) meets few schedules
            _VERSIONS.clear()
        _VERSIONS[key] = found
    return found


def first_of_month(text: str) -> datetime:
    """``YYYY-MM`` as the first moment of that month (naive, local), within the dates Thor handles."""
    from thor_cli.clock import RANGE_TEXT, in_range

    try:
        year, month = (int(part) for part in text.split("-"))
        first = datetime(year, month, 1)
    except ValueError:
        raise ValueError(f"invalid month {text!r}: use YYYY-MM, like 2021-09") from None
    if not in_range(first.date()):
        raise ValueError(f"month {text!r} is out of range: Thor handles dates from {RANGE_TEXT}")
    return first


def as_local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()
