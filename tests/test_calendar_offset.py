"""Month offsets in the version and branch templates: ``{feature_freeze+1M:%Y.%m}``, used everywhere the
calendar names a release (and so where the release notes look for the previous one)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from thor_cli.calendar import ReleaseCalendar, render_date_template
from thor_cli.config import Settings, parse_config
from thor_cli.releases import earlier_cycles
from thor_cli.steps.base import ReleaseInfo

# Gen3's own scripts: the cut at the end of September is release 2021.10.
SCHEDULE = {"feature_freeze": "FREQ=MONTHLY;BYDAY=-1FR", "code_freeze": "FREQ=MONTHLY;BYDAY=+2FR"}
OFFSET = {"version": "{feature_freeze+1M:%Y.%m}", "integration_branch": "integration{feature_freeze+1M:%Y%m}"}


def test_offsets_shift_whole_months_and_clamp_the_day() -> None:
    assert render_date_template("{feature_freeze+1M:%Y.%m}", date(2021, 9, 24)) == "2021.10"
    assert render_date_template("v{feature_freeze+1M:%Y.%m}-{feature_freeze:%d}", date(2021, 12, 31)) == "v2022.01-31"
    assert render_date_template("{feature_freeze-2M:%Y-%m-%d}", date(2021, 3, 31)) == "2021-01-31"
    assert render_date_template("{feature_freeze+1M:%Y-%m-%d}", date(2021, 1, 31)) == "2021-02-28"
    assert render_date_template("{feature_freeze:%Y.%m}", date(2021, 9, 24)) == "2021.09"


def test_the_calendar_names_releases_with_the_offset() -> None:
    calendar = ReleaseCalendar(**SCHEDULE, **OFFSET)
    cycle = calendar.find("2021.10")
    assert cycle is not None
    assert (cycle.feature_freeze.date(), cycle.integration_branch) == (date(2021, 9, 24), "integration202110")
    assert calendar.find("2021.09") is not None and calendar.find("2021.09").feature_freeze.date() == date(2021, 8, 27)  # type: ignore[union-attr]


def test_the_previous_release_follows_the_same_rule(tmp_path: Path) -> None:
    config = parse_config({"schedule": {**SCHEDULE, **OFFSET}})
    settings = Settings(config=config, path=None, database_url="sqlite://")

    release = ReleaseInfo(
        "2021.10",
        None,
        datetime(2021, 9, 24, tzinfo=UTC),
        datetime(2021, 10, 8, tzinfo=UTC),
        "integration202110",
        "stable",
    )
    # The rule every step that looks back uses (releases.earlier_cycles / previous_release).
    previous = earlier_cycles(settings, release)[0]
    assert (previous.version, previous.integration_branch) == ("2021.09", "integration202109")


@pytest.mark.parametrize("template", ["{feature_freeze+1Y:%Y}", "{feature_freeze+M:%Y}", "{feature_freeze+1M:%Y"])
def test_a_bad_offset_is_a_config_error(template: str) -> None:
    from thor_cli.errors import ConfigError

    with pytest.raises(ConfigError, match=r"schedule\.version"):
        parse_config({"schedule": {"version": template}})
