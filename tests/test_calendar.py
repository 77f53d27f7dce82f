"""The release calendar: RRULEs in a timezone → cycles (version, codename, feature and code freeze)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from thor_cli.calendar import ReleaseCalendar, as_local_date, first_of_month

GEN3 = {"feature_freeze": "FREQ=MONTHLY;BYDAY=+2FR", "code_freeze": "FREQ=MONTHLY;BYDAY=+4FR"}
CHICAGO = ZoneInfo("America/Chicago")


def gen3(**overrides: object) -> ReleaseCalendar:
    return ReleaseCalendar(**{**GEN3, **overrides})  # type: ignore[arg-type]


def days(cycles) -> list[tuple[str, date, date]]:  # type: ignore[no-untyped-def]
    return [(c.version, c.feature_freeze.date(), c.code_freeze.date()) for c in cycles]


def month(year: int, number: int, tz: ZoneInfo = ZoneInfo("UTC")) -> tuple[datetime, datetime]:
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start, end


def test_september_2021_freezes_on_the_second_and_fourth_friday() -> None:
    cycle = gen3().find("2021.09")
    assert cycle is not None
    assert cycle.feature_freeze.date() == date(2021, 9, 10)
    assert cycle.code_freeze.date() == date(2021, 9, 24)
    assert cycle.feature_freeze.timetz() == time(0, tzinfo=ZoneInfo("UTC"))
    assert cycle.integration_branch == "integration202109"
    assert cycle.stable_branch == "stable"
    assert cycle.codename is None
    assert cycle.title == "2021.09"


def test_a_month_whose_first_day_is_a_friday() -> None:
    assert date(2021, 10, 1).weekday() == 4  # a Friday: it counts as the first one
    assert days(gen3().cycles_between(*month(2021, 10))) == [("2021.10", date(2021, 10, 8), date(2021, 10, 22))]


def test_cycles_across_the_year_boundary() -> None:
    cycles = gen3().cycles_between(datetime(2021, 12, 1, tzinfo=UTC), datetime(2022, 1, 31, tzinfo=UTC))
    assert days(cycles) == [
        ("2021.12", date(2021, 12, 10), date(2021, 12, 24)),
        ("2022.01", date(2022, 1, 14), date(2022, 1, 28)),
    ]


def test_code_freeze_is_the_first_occurrence_after_the_feature_freeze_even_next_year() -> None:
    # Feature freeze on the 4th Friday, code freeze on the 2nd Friday: each cycle spans two months.
    cal = gen3(feature_freeze="FREQ=MONTHLY;BYDAY=+4FR", code_freeze="FREQ=MONTHLY;BYDAY=+2FR")
    cycles = cal.cycles_between(datetime(2021, 12, 1, tzinfo=UTC), datetime(2022, 1, 31, tzinfo=UTC))
    assert days(cycles) == [
        ("2021.12", date(2021, 12, 24), date(2022, 1, 14)),
        ("2022.01", date(2022, 1, 28), date(2022, 2, 11)),
    ]
    assert cycles[0].integration_branch == "integration202112"


def test_a_code_freeze_rule_that_never_follows_gives_no_cycles() -> None:
    cal = gen3(code_freeze="FREQ=YEARLY;COUNT=1")  # one occurrence, in 2000
    assert cal.cycles_between(*month(2021, 9)) == []
    assert cal.find("2021.09") is None


def test_a_biweekly_cadence_with_its_own_dtstart() -> None:
    cal = ReleaseCalendar(
        feature_freeze="DTSTART:20210903T000000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
        code_freeze="DTSTART:20210909T000000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
        version="{feature_freeze:%Y.%m.%d}",
        integration_branch="release-{feature_freeze:%Y%m%d}",
    )
    cycles = cal.cycles_between(datetime(2021, 9, 1, tzinfo=UTC), datetime(2021, 10, 31, tzinfo=UTC))
    assert days(cycles) == [
        ("2021.09.03", date(2021, 9, 3), date(2021, 9, 9)),
        ("2021.09.17", date(2021, 9, 17), date(2021, 9, 23)),
        ("2021.10.01", date(2021, 10, 1), date(2021, 10, 7)),
        ("2021.10.15", date(2021, 10, 15), date(2021, 10, 21)),
        ("2021.10.29", date(2021, 10, 29), date(2021, 11, 4)),
    ]
    assert cycles[1].integration_branch == "release-20210917"
    # The DTSTART anchors the cadence: 2021-09-10 is a Friday, but not one of its Fridays.
    assert cal.find("2021.09.10") is None
    assert cal.find("2021.09.17") == cycles[1]


def test_milestones_are_local_midnight_in_the_configured_timezone() -> None:
    cycle = gen3(timezone="America/Chicago").find("2021.09")
    assert cycle is not None
    assert cycle.feature_freeze == datetime(2021, 9, 10, tzinfo=CHICAGO)
    assert cycle.feature_freeze.astimezone(UTC) == datetime(2021, 9, 10, 5, tzinfo=UTC)  # CDT is UTC-5
    december = gen3(timezone="America/Chicago").find("2021.12")
    assert december is not None
    assert december.feature_freeze.astimezone(UTC) == datetime(2021, 12, 10, 6, tzinfo=UTC)  # CST is UTC-6


def test_the_timezone_decides_the_date_near_midnight() -> None:
    cal = gen3(timezone="America/Chicago")
    early = datetime(2021, 9, 10, 3, tzinfo=UTC)  # still Thursday the 9th in Chicago
    later = datetime(2021, 9, 10, 6, tzinfo=UTC)  # 01:00 on Friday the 10th
    assert as_local_date(early, CHICAGO) == date(2021, 9, 9)
    cycle = cal.current_or_next(early)
    assert cycle is not None and cycle.version == "2021.09"
    assert cycle.phase(early) == "upcoming"
    assert cycle.phase(later) == "in progress"
    assert cal.cycles_between(early - (later - early) * 24, early) == []
    assert [c.version for c in cal.cycles_between(early, later)] == ["2021.09"]
    # In UTC the same instant is already the 10th: the release has begun.
    assert gen3().find("2021.09").phase(early) == "in progress"  # type: ignore[union-attr]


def test_byhour_sets_the_time_of_a_milestone() -> None:
    cal = gen3(
        feature_freeze="FREQ=MONTHLY;BYDAY=+2FR;BYHOUR=9",
        code_freeze="FREQ=MONTHLY;BYDAY=+4FR;BYHOUR=17;BYMINUTE=30",
        timezone="America/Chicago",
    )
    cycle = cal.find("2021.09")
    assert cycle is not None
    assert cycle.feature_freeze == datetime(2021, 9, 10, 9, tzinfo=CHICAGO)
    assert cycle.code_freeze == datetime(2021, 9, 24, 17, 30, tzinfo=CHICAGO)
    assert cycle.phase(datetime(2021, 9, 10, 13, 59, tzinfo=UTC)) == "upcoming"
    assert cycle.phase(datetime(2021, 9, 10, 14, 0, tzinfo=UTC)) == "in progress"
    assert cycle.phase(datetime(2021, 9, 24, 22, 30, tzinfo=UTC)) == "past"


def test_codenames_and_titles() -> None:
    cal = gen3(codenames={"2021.09": "Cobaltite"})
    september, october = cal.upcoming(datetime(2021, 9, 1, tzinfo=UTC), 2)
    assert (september.codename, september.title) == ("Cobaltite", "2021.09 Cobaltite")
    assert (october.codename, october.title) == (None, "2021.10")


def test_upcoming_and_current_or_next() -> None:
    cal = gen3()
    assert [c.version for c in cal.upcoming(datetime(2021, 9, 10, tzinfo=UTC), 3)] == [
        "2021.09",
        "2021.10",
        "2021.11",
    ]
    # The feature freeze instant itself is included; one second later it is not.
    assert cal.upcoming(datetime(2021, 9, 10, 0, 0, 1, tzinfo=UTC), 1)[0].version == "2021.10"
    in_progress = cal.current_or_next(datetime(2021, 9, 20, tzinfo=UTC))
    between = cal.current_or_next(datetime(2021, 9, 30, tzinfo=UTC))
    assert in_progress is not None and in_progress.version == "2021.09"
    assert between is not None and between.version == "2021.10"


def test_find_knows_old_and_future_versions_only() -> None:
    cal = gen3()
    assert cal.find("2003.02").feature_freeze.date() == date(2003, 2, 14)  # type: ignore[union-attr]
    assert cal.find("2030.01") is not None
    assert cal.find("2021.13") is None
    assert cal.find("abc") is None


def test_version_and_branch_templates() -> None:
    cal = gen3(
        version="v{feature_freeze:%y%m}",
        integration_branch="int/{feature_freeze:%Y-%m}",
        stable_branch="main",
    )
    cycle = cal.upcoming(datetime(2021, 9, 1, tzinfo=UTC), 1)[0]
    assert (cycle.version, cycle.integration_branch, cycle.stable_branch) == ("v2109", "int/2021-09", "main")


def test_first_of_month() -> None:
    assert first_of_month("2021-09") == datetime(2021, 9, 1)
    for bad in ("2021-13", "abc", "2021", "2021-09-01"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            first_of_month(bad)
