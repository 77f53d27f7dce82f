"""The release calendar: pure functions from the schedule configuration to release cycles.

A cycle starts at a feature-freeze occurrence; its code freeze is the first code-freeze occurrence after
it. Rules are iCalendar RRULEs evaluated with dateutil in the configured timezone. A rule may carry its own
``DTSTART`` (which anchors cadences such as every other Friday); otherwise occurrences are counted from
2000-01-01 at midnight, so milestones open at midnight unless the rule sets ``BYHOUR``/``BYMINUTE``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

ANCHOR = datetime(2000, 1, 1)
# A code freeze further than this after its feature freeze means the two rules do not fit together.
MAX_CYCLE_LENGTH = timedelta(days=400)
FIND_HORIZON_YEARS = 10
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

    @property
    def title(self) -> str:
        return f"{self.version} {self.codename}" if self.codename else self.version

    def phase(self, now: datetime) -> str:
        if now < self.feature_freeze:
            return "upcoming"
        return "in progress" if now < self.code_freeze else "past"

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
        }


def _parse_rule(rule: str, tz: ZoneInfo) -> rrule | rruleset:
    text = rule.strip()
    if "RRULE:" not in text.upper():
        text = f"RRULE:{text}"
    parsed = rrulestr(text, dtstart=ANCHOR, forceset=True, ignoretz=True)
    return parsed


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
    ) -> None:
        self.tz = ZoneInfo(timezone)
        self._ff = _parse_rule(feature_freeze, self.tz)
        self._cf = _parse_rule(code_freeze, self.tz)
        self.version_template = version
        self.branch_template = integration_branch
        self.stable_branch = stable_branch
        self.codenames = dict(codenames or {})

    @classmethod
    def from_schedule(cls, schedule: object, codenames: Mapping[str, str] | None = None) -> ReleaseCalendar:
        return cls(
            feature_freeze=schedule.feature_freeze,  # type: ignore[attr-defined]
            code_freeze=schedule.code_freeze,  # type: ignore[attr-defined]
            timezone=schedule.timezone,  # type: ignore[attr-defined]
            version=schedule.version,  # type: ignore[attr-defined]
            integration_branch=schedule.integration_branch,  # type: ignore[attr-defined]
            stable_branch=schedule.stable_branch,  # type: ignore[attr-defined]
            codenames=codenames,
        )

    def _local_naive(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            return moment
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def _aware(self, naive: datetime) -> datetime:
        return naive.replace(tzinfo=self.tz)

    def _cycle(self, ff_naive: datetime, code_freezes: list[datetime] | None = None) -> Cycle | None:
        if code_freezes is None:
            cf_naive = self._cf.after(ff_naive, inc=False)
        else:  # the code freezes in range, worked out once (rruleset.after re-counts from DTSTART every call)
            index = bisect_right(code_freezes, ff_naive)
            cf_naive = code_freezes[index] if index < len(code_freezes) else None
        if cf_naive is None or cf_naive - ff_naive > MAX_CYCLE_LENGTH:
            return None
        ff_date = ff_naive.date()
        version = render_date_template(self.version_template, ff_date)
        return Cycle(
            version=version,
            codename=self.codenames.get(version),
            feature_freeze=self._aware(ff_naive),
            code_freeze=self._aware(cf_naive),
            integration_branch=render_date_template(self.branch_template, ff_date),
            stable_branch=self.stable_branch,
        )

    def cycles_between(self, start: datetime, end: datetime) -> list[Cycle]:
        """Cycles whose feature freeze falls in [start, end]."""
        low, high = self._local_naive(start), self._local_naive(end)
        occurrences = self._ff.between(low, high, inc=True)
        # A code freeze later than high + MAX_CYCLE_LENGTH would be too far from any of these anyway.
        code_freezes = self._cf.between(low, high + MAX_CYCLE_LENGTH, inc=True) if occurrences else []
        return [c for c in (self._cycle(o, code_freezes) for o in occurrences) if c is not None]

    def iter_from(self, start: datetime) -> Iterator[Cycle]:
        """Cycles whose feature freeze is at or after ``start``, in order, without end."""
        moment = self._local_naive(start)
        inclusive = True
        while True:
            occurrence = self._ff.after(moment, inc=inclusive)
            if occurrence is None:
                return
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
            if cycle.feature_freeze <= now < cycle.code_freeze:
                return cycle
        return next(self.iter_from(now), None)

    @cached_property
    def _by_version(self) -> dict[str, Cycle]:
        end = datetime(datetime.now(UTC).year + FIND_HORIZON_YEARS, 12, 31)
        found: dict[str, Cycle] = {}
        for cycle in self.cycles_between(ANCHOR, end):
            found.setdefault(cycle.version, cycle)
        return found

    def find(self, version: str) -> Cycle | None:
        return self._by_version.get(version)


def first_of_month(text: str) -> datetime:
    """``YYYY-MM`` as the first moment of that month (naive, local)."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return datetime(year, month, 1)
    except ValueError:
        raise ValueError(f"invalid month {text!r}: use YYYY-MM, like 2021-09") from None


def as_local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()
