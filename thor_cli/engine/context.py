"""The engine's implementation of ``StepContext``: each write commits at once, guarded by our lease."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from thor_cli.engine.reporting import Reporter
from thor_cli.errors import StepError
from thor_cli.pipeline import Step
from thor_cli.runtime import Runtime
from thor_cli.secrets import redact
from thor_cli.steps.base import Progress, ReleaseInfo, RepoRecord
from thor_cli.store import leases, queries
from thor_cli.store.models import Release, StepRun


class LeaseLost(StepError):
    """Another process took the step over; this one must stop touching it."""


class EngineStepContext:
    def __init__(
        self,
        rt: Runtime,
        release: Release,
        info: ReleaseInfo,
        step: Step,
        run: StepRun,
        *,
        force: bool,
        reporter: Reporter,
        actor: str,
    ) -> None:
        self.rt = rt
        self.release = info
        self.release_row = release
        self.step = step
        self.step_name = step.name
        self.options = step.options
        self.settings = rt.settings
        self.clock = rt.clock
        self.force = force
        self.attempt = run.attempts
        self.started_at = run.started_at
        self.timeout = step.timeout
        self.run_row = run
        self.reporter = reporter
        self.actor = actor
        self._state = leases.load_state(run)
        self._lock = threading.Lock()

    @property
    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def save_state(self, **values: Any) -> None:
        with self._lock:
            self._state.update(values)
            with self.rt.store.session() as session:
                updated = leases.update_held(
                    session,
                    self.run_row,
                    self.rt.owner,
                    state=leases.dump_state(self._state),
                    updated_at=self.clock.now(),
                )
            if updated is None:
                raise LeaseLost(f"{self.step_name}: another process took this step over")
            self.run_row = updated

    def repo_results(self, step: str | None = None) -> dict[str, RepoRecord]:
        with self.rt.store.session() as session:
            rows = queries.repo_results(session, self.release_row.id, step or self.step_name)  # type: ignore[arg-type]
        return {
            row.repo: RepoRecord(row.repo, row.status, row.sha, row.detail, json.loads(row.data or "{}"))
            for row in rows
        }

    def record_repo(self, record: RepoRecord) -> None:
        with self._lock, self.rt.store.session() as session:
            queries.upsert_repo_result(
                session,
                release_id=self.release_row.id,  # type: ignore[arg-type]
                step=self.step_name,
                repo=record.repo,
                status=record.status,
                sha=record.sha,
                detail=record.detail,
                data=record.data,
                now=self.clock.now(),
            )

    def log(self, message: str) -> None:
        with self._lock, self.rt.store.session() as session:
            queries.add_event(
                session,
                at=self.clock.now(),
                actor=self.actor,
                kind="log",
                message=message,
                release_id=self.release_row.id,
                step=self.step_name,
            )
        self.reporter.detail(f"{self.release.version} {self.step_name}: {redact(message)}")

    def progress(self, total: int, description: str) -> AbstractContextManager[Progress]:
        return _progress(total, description, enabled=self.reporter.interactive)

    def notify(self, text: str, *, broadcast: bool = False) -> None:
        from thor_cli import notify

        with self._lock, self.rt.store.session() as session:
            notify.enqueue(self.rt, session, self.release_row, "broadcast" if broadcast else "reply", text, commit=True)


class _NullProgress:
    def advance(self, label: str = "") -> None:
        pass


class _RichProgress:
    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task
        self._lock = threading.Lock()

    def advance(self, label: str = "") -> None:
        with self._lock:
            self._progress.update(self._task, advance=1, description=label or None)


@contextmanager
def _progress(total: int, description: str, *, enabled: bool) -> Iterator[Progress]:
    if not enabled:
        yield _NullProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:
        yield _RichProgress(bar, bar.add_task(description, total=total))
