"""Releases as Thor manages them: the calendar's cycles, made concrete (maybe rescheduled) in the store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from thor_cli.calendar import Cycle
from thor_cli.clock import as_utc
from thor_cli.errors import UsageError
from thor_cli.runtime import Runtime
from thor_cli.steps.base import ReleaseInfo
from thor_cli.store import queries
from thor_cli.store.models import DONE_STEP_STATUSES, Release, ReleaseStatus, StepStatus

_VERSION_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def release_info(release: Release, timezone: str) -> ReleaseInfo:
    return ReleaseInfo(
        version=release.version,
        codename=release.codename,
        feature_freeze=as_utc(release.feature_freeze),
        code_freeze=as_utc(release.code_freeze),
        integration_branch=release.integration_branch,
        stable_branch=release.stable_branch,
        timezone=timezone,
    )


def _did_you_mean(rt: Runtime, version: str) -> str | None:
    """A version of the calendar that ``version`` was probably meant to be: ``2021.9`` → ``2021.09``."""
    stripped = version.strip()
    candidates = [stripped, re.sub(r"(?<!\d)(\d)(?!\d)", r"0\1", stripped)]
    return next((c for c in candidates if c != version and rt.calendar.find(c) is not None), None)


def _same_shape(a: str, b: str) -> bool:
    return len(a) == len(b) and all(x.isdigit() == y.isdigit() for x, y in zip(a, b, strict=True))


def _unknown_version(rt: Runtime, version: str) -> UsageError:
    from thor_cli.calendar import FIND_HORIZON_YEARS

    guess = _did_you_mean(rt, version)
    if guess:
        return UsageError(f"no release cycle has version {version!r}: did you mean {guess}?")
    template = rt.settings.config.schedule.version
    example = rt.calendar.current_or_next(rt.clock.now())
    if example and _same_shape(version, example.version):
        # Well formed, but outside the years the calendar covers: say which years, not "looks like".
        tz = rt.settings.config.schedule.tz
        end = datetime(datetime.now(UTC).year + FIND_HORIZON_YEARS, 12, 31, tzinfo=tz)
        first = next(rt.calendar.iter_from(datetime(2000, 1, 1, tzinfo=tz)), None)
        last = rt.calendar.cycles_between(end - timedelta(days=120), end)
        if first and last and not first.version <= version <= last[-1].version:
            return UsageError(
                f"no release cycle has version {version!r}: the calendar runs from {first.version} to "
                f"{last[-1].version} (the current or next is {example.version})"
            )
    shape = f"like {example.version}" if example else f"made by {template!r}"
    return UsageError(f"no release cycle has version {version!r} (versions look {shape})")


def _invalid_version(rt: Runtime, version: str) -> UsageError:
    guess = _did_you_mean(rt, version)
    if guess and guess == version.strip():
        return UsageError(f"invalid version {version!r} (spaces around it): did you mean {guess}?")
    example = rt.calendar.current_or_next(rt.clock.now())
    return UsageError(f"invalid version {version!r}" + (f" (versions look like {example.version})" if example else ""))


def resolve_cycle(rt: Runtime, version: str) -> Cycle:
    """The calendar cycle named ``version``; a UsageError naming the template when there is none."""
    if not _VERSION_SHAPE.match(version):
        raise _invalid_version(rt, version)
    cycle = rt.calendar.find(version)
    if cycle is None:
        raise _unknown_version(rt, version)
    return cycle


def check_version(rt: Runtime, version: str) -> None:
    """Refuse a version that is neither in the calendar nor stored, before anything is opened for writing.

    A stored release may have left the calendar (its schedule changed since), so the store is asked too,
    without creating it.
    """
    if not _VERSION_SHAPE.match(version):
        raise _invalid_version(rt, version)
    if rt.calendar.find(version) is None and not rt.has_stored_release(version):
        raise _unknown_version(rt, version)


def find_release(rt: Runtime, version: str) -> Release | None:
    """The stored release, after checking that the version is one Thor can have."""
    check_version(rt, version)
    with rt.store.session() as session:
        return queries.get_release(session, version)


def require_release(rt: Runtime, version: str) -> Release:
    release = find_release(rt, version)
    if release is None:
        raise UsageError(f"release {version} has not started (start it with `thor release start {version}`)")
    return release


def new_release(rt: Runtime, cycle: Cycle, *, started: bool = True) -> Release:
    now = rt.clock.now()
    return Release(
        version=cycle.version,
        codename=cycle.codename,
        feature_freeze=cycle.feature_freeze.astimezone(UTC),
        code_freeze=cycle.code_freeze.astimezone(UTC),
        integration_branch=cycle.integration_branch,
        stable_branch=cycle.stable_branch,
        status=ReleaseStatus.ACTIVE if started else ReleaseStatus.PENDING,
        started=started,
        created_at=now,
        updated_at=now,
    )


def local_midnight(day: date, rt: Runtime) -> datetime:
    return datetime.combine(day, time(), tzinfo=rt.settings.config.schedule.tz).astimezone(UTC)


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"invalid {what} {text!r}: use YYYY-MM-DD") from None


@dataclass(frozen=True)
class ReleaseProgress:
    release: Release
    done: int
    total: int
    next_step: str | None


def compute_status(release: Release, statuses: dict[str, str], enabled: list[str]) -> str:
    """active / blocked / released from the step statuses; cancelled is sticky."""
    if release.status == ReleaseStatus.CANCELLED:
        return ReleaseStatus.CANCELLED
    if not release.started:
        return ReleaseStatus.PENDING
    if any(statuses.get(name) == StepStatus.FAILED for name in enabled):
        return ReleaseStatus.BLOCKED
    if enabled and all(statuses.get(name) in DONE_STEP_STATUSES for name in enabled):
        return ReleaseStatus.RELEASED
    return ReleaseStatus.ACTIVE


def milestone_at(release: Release, milestone: str | None) -> datetime | None:
    if milestone == "feature_freeze":
        return as_utc(release.feature_freeze)
    if milestone == "code_freeze":
        return as_utc(release.code_freeze)
    return None


def within_grace(rt: Runtime, feature_freeze: datetime, now: datetime) -> bool:
    """Whether a release may still start at ``now``: up to ``start_grace_days`` whole days after its
    feature freeze, counted in the schedule's timezone (0: until its feature-freeze day ends)."""
    tz = rt.settings.config.schedule.tz
    late = now.astimezone(tz).date() - as_utc(feature_freeze).astimezone(tz).date()
    return late <= timedelta(days=rt.settings.config.schedule.start_grace_days)


def rescheduled_dates(rt: Runtime) -> dict[str, tuple[datetime, datetime]]:
    """version → (feature freeze, code freeze) of the releases moved by ``thor release reschedule``, in the
    schedule's timezone. Reads only: a database that does not exist yet has moved nothing."""
    from pathlib import Path

    from sqlmodel import Session, col, select

    from thor_cli.store.db import open_store
    from thor_cli.store.models import Release
    from thor_cli.store.schema import current_revision

    url = rt.settings.database_url
    if url.startswith("sqlite") and ":///" in url:
        path = Path(url.split(":///", 1)[1]).expanduser()
        if str(path) != ":memory:" and not path.exists():
            return {}
    store = open_store(url, create_schema=False)
    try:
        with store.engine.connect() as connection:
            if current_revision(connection) is None:
                return {}
        tz = rt.settings.config.schedule.tz
        with Session(store.engine) as session:
            rows = session.exec(select(Release).where(col(Release.rescheduled).is_(True))).all()
            return {
                r.version: (as_utc(r.feature_freeze).astimezone(tz), as_utc(r.code_freeze).astimezone(tz)) for r in rows
            }
    finally:
        store.dispose()
