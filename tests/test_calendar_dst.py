"""Milestones at local times that daylight saving makes ambiguous (the autumn fold) or impossible (the spring
gap), and the calendar reading the time only through the Clock.

The rule (docs/configuration.md, schedule): PEP 495 ``fold=0``, as zoneinfo and dateutil define it. A time in
the fold is its first occurrence; a time in the gap moves forward by the gap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from thor_cli.calendar import ReleaseCalendar
from thor_cli.clock import Clock, parse_now
from thor_cli.runtime import Runtime

NEW_YORK = ZoneInfo("America/New_York")
# 2021-11-07: 01:00-02:00 happens twice in New York (EDT, then EST); 2021-03-14: 02:00-03:00 never happens.
FOLD = ReleaseCalendar(
    feature_freeze="FREQ=MONTHLY;BYMONTHDAY=7;BYHOUR=1;BYMINUTE=30",
    code_freeze="FREQ=MONTHLY;BYMONTHDAY=20",
    timezone="America/New_York",
)
GAP = ReleaseCalendar(
    feature_freeze="FREQ=MONTHLY;BYMONTHDAY=14;BYHOUR=2;BYMINUTE=30",
    code_freeze="FREQ=MONTHLY;BYMONTHDAY=20",
    timezone="America/New_York",
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_freeze_in_the_autumn_fold_is_its_first_occurrence() -> None:
    cycle = FOLD.find("2021.11")
    assert cycle is not None
    assert cycle.feature_freeze.astimezone(UTC) == utc(2021, 11, 7, 5, 30)


@pytest.mark.parametrize("minute", [0, 30, 59, 60, 89, 90, 91])
def test_the_repeated_hour_never_hides_a_freeze_that_has_passed(minute: int) -> None:
    # From 05:30 UTC on, at every moment (including the second 01:00-01:30, 06:00-06:30 UTC), the cycle has begun.
    now = utc(2021, 11, 7, 5, 30) + timedelta(minutes=minute)
    seen = [c.version for c in FOLD.cycles_between(now - timedelta(days=20), now)]
    assert seen[-1:] == ["2021.11"], now
    current = FOLD.current_or_next(now)
    assert current is not None and current.version == "2021.11" and current.phase(now) == "in progress"


def test_a_freeze_is_not_seen_a_minute_before_it() -> None:
    now = utc(2021, 11, 7, 5, 29)
    assert "2021.11" not in [c.version for c in FOLD.cycles_between(now - timedelta(days=20), now)]
    upcoming = next(FOLD.iter_from(now))
    assert upcoming.version == "2021.11"
    assert upcoming.phase(now) == "upcoming"


def test_a_freeze_in_the_spring_gap_moves_forward_by_the_gap_and_says_so() -> None:
    cycle = GAP.find("2021.03")
    assert cycle is not None
    assert cycle.feature_freeze.astimezone(UTC) == utc(2021, 3, 14, 7, 30)
    # Shown as the time the wall clock really reads, not an impossible 02:30.
    assert (cycle.feature_freeze.hour, cycle.feature_freeze.minute) == (3, 30)
    assert cycle.feature_freeze.utcoffset() == timedelta(hours=-4)
    assert next(GAP.iter_from(utc(2021, 3, 14, 7, 30))).version == "2021.03"
    assert next(GAP.iter_from(utc(2021, 3, 14, 7, 31))).version == "2021.04"


def test_now_given_as_a_local_time_follows_the_same_rule() -> None:
    assert parse_now("2021-11-07T01:30", NEW_YORK) == utc(2021, 11, 7, 5, 30)
    assert parse_now("2021-03-14T02:30", NEW_YORK) == utc(2021, 3, 14, 7, 30)


def test_version_look_up_reads_the_clock_not_the_system_time() -> None:
    # Versions are looked up ten years ahead of "now": with --now in 2045, 2050's versions exist.
    travelled = ReleaseCalendar(
        feature_freeze="FREQ=MONTHLY;BYDAY=+2FR", code_freeze="FREQ=MONTHLY;BYDAY=+4FR", clock=Clock(utc(2045, 1, 1))
    )
    assert travelled.find("2050.01") is not None
    assert Runtime.create(None, "2045-01-01").calendar.find("2050.01") is not None
