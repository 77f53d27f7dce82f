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
    from thor_cli.clock import RANGE_TEXT, in_range

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"invalid {what} {text!r}: use YYYY-MM-DD") from None
    if not in_range(day):
        raise UsageError(f"{what} {text!r} is out of range: Thor handles dates from {RANGE_TEXT}")
    return day


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


def with_moves(rt: Runtime, cycles: list[Cycle]) -> list[Cycle]:
    """The calendar's cycles, with the dates of releases moved by ``thor release reschedule`` (marked moved)."""
    from dataclasses import replace

    moved = rescheduled_dates(rt)
    return [
        replace(c, feature_freeze=moved[c.version][0], code_freeze=moved[c.version][1], moved=True)
        if c.version in moved
        else c
        for c in cycles
    ]


def rescheduled_dates(rt: Runtime) -> dict[str, tuple[datetime, datetime]]:
    """version → (feature freeze, code freeze) of the releases moved by ``thor release reschedule``, in the
    schedule's timezone. Reads only: a database that does not exist yet has moved nothing."""
    from sqlmodel import col, select

    from thor_cli.store.models import Release

    tz = rt.settings.config.schedule.tz

    def read(session):  # type: ignore[no-untyped-def]
        rows = session.exec(select(Release).where(col(Release.rescheduled).is_(True))).all()
        return {
            r.version: (as_utc(r.feature_freeze).astimezone(tz), as_utc(r.code_freeze).astimezone(tz)) for r in rows
        }

    return rt.read_stored(read, {})


# -- looking back: the previous release ---------------------------------------------------------------------

# How many earlier cycles to look through for the last one that shipped (a year of monthly releases).
LOOKBACK_CYCLES = 12


def earlier_cycles(settings, release: ReleaseInfo, clock=None, limit: int = LOOKBACK_CYCLES) -> list[Cycle]:  # type: ignore[no-untyped-def]
    """The calendar's cycles before ``release``, newest first, up to ``limit`` of them."""
    from thor_cli.calendar import MAX_CYCLE_LENGTH, ReleaseCalendar

    calendar = ReleaseCalendar.from_schedule(settings.config.schedule, clock=clock)
    start = release.feature_freeze
    window = start - MAX_CYCLE_LENGTH * 2
    earlier = [
        c
        for c in calendar.cycles_between(window, start)
        if c.feature_freeze.astimezone(UTC) < start.astimezone(UTC) and c.version != release.version
    ]
    return earlier[::-1][:limit]


@dataclass(frozen=True)
class PreviousRelease:
    """Where one repository's previous release is: the ref to start from and what was passed over."""

    version: str | None  # the release it belongs to; None: none found
    ref: str | None  # its tag, or (no tag anywhere) the nearest earlier integration branch
    skipped: tuple[str, ...] = ()  # newer earlier versions with no tag: cancelled, never started or not shipped
    looked_at: tuple[str, ...] = ()  # every version looked for, newest first
    nearest_branch: str | None = None  # the integration branch of the newest earlier release

    @property
    def is_tag(self) -> bool:
        return self.ref is not None and self.ref == self.version

    def explain(self) -> str | None:
        """A note for the reader when the answer is not simply the calendar's previous release."""
        if self.ref is None:
            if not self.looked_at:
                return "the calendar has no earlier release"
            tags = (
                self.looked_at[0]
                if len(self.looked_at) == 1
                else f"from {self.looked_at[0]} back to {self.looked_at[-1]}"
            )
            return f"no tag {tags}, and no branch {self.nearest_branch}"
        if self.skipped:
            passed = ", ".join(self.skipped)
            return f"no tag {passed} (cancelled or never shipped): starting from {self.version}, the last tagged"
        return None


def previous_release(url: str, candidates: list[Cycle]) -> PreviousRelease:
    """The last earlier release that shipped in this repository: the newest of ``candidates`` whose tag the
    remote has, skipping cancelled and never-started months (they were never tagged). With no tag at all, the
    nearest candidate's integration branch (a release cut but not tagged yet). One ``ls-remote``.

    Every step that looks back at the previous release uses this, so they all agree.
    """
    from thor_cli.adapters.git import ls_remote

    if not candidates:
        return PreviousRelease(None, None)
    nearest = candidates[0]
    patterns = [f"refs/tags/{c.version}" for c in candidates] + [f"refs/heads/{nearest.integration_branch}"]
    refs, _ = ls_remote(url, *patterns)
    looked_at = tuple(c.version for c in candidates)
    branch = nearest.integration_branch
    for index, cycle in enumerate(candidates):
        if f"refs/tags/{cycle.version}" in refs:
            return PreviousRelease(cycle.version, cycle.version, looked_at[:index], looked_at, branch)
    if f"refs/heads/{branch}" in refs:
        return PreviousRelease(nearest.version, branch, (), looked_at, branch)
    return PreviousRelease(None, None, (), looked_at, branch)
