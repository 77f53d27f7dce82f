"""Everything a command needs, built once from the global options: settings, clock, calendar, store."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from thor_cli.calendar import ReleaseCalendar
from thor_cli.clock import NOW_ENV, Clock, parse_now
from thor_cli.config import Settings, load_settings
from thor_cli.errors import UsageError

if TYPE_CHECKING:
    from sqlmodel import Session

    from thor_cli.pipeline import Pipeline
    from thor_cli.store import Store

T = TypeVar("T")


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    verbose: bool = False
    quiet: bool = False
    # Identifies this process in leases: unique even for two ticks started in the same second.
    owner: str = field(default_factory=lambda: f"{_who()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    who: str = field(default_factory=_who)
    # False for commands that only read (status, log, notes, every --dry-run): the store is then opened
    # read-only and never created or migrated (see thor_cli.store.db).
    writable: bool = True
    _store: Store | None = None

    @classmethod
    def create(
        cls,
        config_path: str | Path | None = None,
        now: str | None = None,
        *,
        verbose: bool = False,
        quiet: bool = False,
        writable: bool = True,
    ) -> Runtime:
        settings = load_settings(config_path)
        tz = settings.config.schedule.tz
        start_text = now or os.environ.get(NOW_ENV)
        try:
            start = parse_now(start_text, tz) if start_text else None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return cls(settings=settings, clock=Clock(start, tz), verbose=verbose, quiet=quiet, writable=writable)

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return self.settings.config

    @cached_property
    def calendar(self) -> ReleaseCalendar:
        from thor_cli.codenames import load_codenames

        schedule = self.settings.config.schedule
        codenames = load_codenames(self.settings.resolve(schedule.codenames)) if schedule.codenames else {}
        return ReleaseCalendar.from_schedule(schedule, codenames, self.clock)

    @cached_property
    def pipeline(self) -> Pipeline:
        from thor_cli.pipeline import build_pipeline

        return build_pipeline(self.settings.config)

    def validate(self) -> None:
        """Load what the configuration points to (pipeline, codenames): a bad one fails before any write."""
        self.pipeline  # noqa: B018
        self.calendar  # noqa: B018

    @property
    def store(self) -> Store:
        if self._store is None:
            from thor_cli.store import open_store

            self.validate()

            self._store = open_store(self.settings.database_url, read_only=not self.writable)
            # Several cron hosts share a PostgreSQL database: its clock, not each host's, decides lease expiry.
            database_now = self._store.database_now()
            if database_now is not None:
                self.clock.align(database_now)
        return self._store

    def read_stored(self, read: Callable[[Session], T], default: T) -> T:
        """``read(session)`` on the stored state, or ``default`` when there is none yet (no database, or no
        schema at this Thor's revision). Never creates the database or its schema."""
        from thor_cli.store.db import database_errors, probe_store
        from thor_cli.store.schema import HEAD_REVISION, check_not_newer, current_revision

        store = self._store or probe_store(self.settings.database_url)
        if store is None:
            return default
        try:
            with database_errors(), store.engine.connect() as connection:
                revision = current_revision(connection)
            check_not_newer(revision)
            if revision != HEAD_REVISION:
                return default
            with store.session() as session:
                return read(session)
        finally:
            if store is not self._store:
                store.dispose()

    def has_stored_release(self, version: str) -> bool:
        """Whether the database holds this release; never creates the database or its schema."""
        from thor_cli.store import queries

        return self.read_stored(lambda session: queries.get_release(session, version) is not None, False)

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None
