"""The engine's implementation of ``StepContext``: every write a step makes goes through one guarded path.

``_guarded`` opens a unit of work, renews the lease with the same UPDATE that proves this process still holds
it, and only then writes what the step asked for (its state, a per-repository result, an event, a Slack
message). A holder that lost its lease therefore writes nothing at all, and learns it at its next write
(``LeaseLost``). A background heartbeat renews the lease while the step works, so a slow but live step is never
taken over; the same thread enforces the step's timeout on the work it started, by stopping its children.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from thor_cli.durations import format_duration
from thor_cli.engine.holder import Holder
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


class StepTimedOut(StepError):
    """The step ran past its timeout; its children were stopped."""


def lease_length(rt: Runtime) -> timedelta:
    return rt.settings.config.engine.lease


def child_groups() -> list[int]:
    from thor_cli.adapters import proc

    return proc.live_process_groups()


def stop_children() -> None:
    from thor_cli.adapters import proc

    proc.terminate_children()


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
        deadline: datetime | None = None,
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
        self.run_id: int = run.id  # type: ignore[assignment]
        self.reporter = reporter
        self.actor = actor
        self.deadline = deadline
        self.lost: str | None = None  # why this process no longer holds the step
        self.timed_out = False
        self._state = leases.load_state(run)
        self._lock = threading.RLock()

    # -- the guarded path ---------------------------------------------------------------------------

    def guarded(
        self, write: Callable[[Session], None] | None = None, *, final: bool = False, **run_values: Any
    ) -> None:
        """One unit of work: prove we hold the lease (renewing it), then write; nothing at all otherwise.

        ``final`` is the engine recording the turn's result, which a step past its timeout still may.
        """
        with self._lock:
            if self.lost:
                raise LeaseLost(self.lost)
            if self.timed_out and not final:
                raise StepTimedOut(f"timed out after {format_duration(self.timeout)}")
            now = self.clock.now()
            # Renew the lease with the write itself; a final write (the result) releases it instead.
            values: dict[str, Any] = {
                "lease_expires_at": now + lease_length(self.rt),
                "lease_holder": Holder.me(child_groups()).dump(),
                "updated_at": now,
                **run_values,
            }
            with self.rt.store.transaction() as tx:
                if not leases.held(tx, self.run_id, self.rt.owner, **values):
                    self.lost = f"{self.step_name}: another process took this step over"
                    raise LeaseLost(self.lost)
                if write is not None:
                    write(tx)

    def heartbeat(self) -> bool:
        """Renew the lease and enforce the timeout; False once the step must stop."""
        if self.deadline is not None and self.clock.now() >= self.deadline and not self.timed_out:
            self.timed_out = True
            stop_children()
            return False
        try:
            self.guarded()
        except (LeaseLost, StepTimedOut):
            stop_children()  # they work for a step this process no longer holds
            return False
        except Exception:
            return True
        return True

    # -- StepContext ---------------------------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        return dict(self._state)

    def save_state(self, **values: Any) -> None:
        with self._lock:
            state = self._state | values
            self.guarded(state=leases.dump_state(state))
            self._state = state

    def repo_results(self, step: str | None = None) -> dict[str, RepoRecord]:
        with self.rt.store.session() as session:
            rows = queries.repo_results(session, self.release_row.id, step or self.step_name)  # type: ignore[arg-type]
        return {
            row.repo: RepoRecord(row.repo, row.status, row.sha, row.detail, json.loads(row.data or "{}"))
            for row in rows
        }

    def record_repo(self, record: RepoRecord) -> None:
        def write(tx: Session) -> None:
            queries.upsert_repo_result(
                tx,
                release_id=self.release_row.id,  # type: ignore[arg-type]
                step=self.step_name,
                repo=record.repo,
                status=record.status,
                sha=record.sha,
                detail=record.detail,
                data=record.data,
                now=self.clock.now(),
            )

        self.guarded(write)

    def log(self, message: str) -> None:
        def write(tx: Session) -> None:
            queries.add_event(
                tx,
                at=self.clock.now(),
                actor=self.actor,
                kind="log",
                message=message,
                release_id=self.release_row.id,
                step=self.step_name,
            )

        self.guarded(write)
        self.reporter.detail(f"{self.release.version} {self.step_name}: {redact(message)}")

    def progress(self, total: int, description: str) -> AbstractContextManager[Progress]:
        return _progress(total, description, enabled=self.reporter.interactive)

    def notify(self, text: str, *, broadcast: bool = False) -> None:
        from thor_cli import notify

        def write(tx: Session) -> None:
            notify.enqueue(self.rt, tx, self.release_row, "broadcast" if broadcast else "reply", text)

        self.guarded(write)


class Heartbeat:
    """Beats every third of a lease (at least once a second) until stopped or the step must stop, and soon
    after a child process starts, so that the lease names its group (a takeover after a crash stops it).

    Children are recorded by this thread, not by the thread that starts them: a step that runs four git
    commands in each of 30 repositories starts 120 children in a few seconds, and one write per
    ``SPAWN_COALESCE`` covers every group started meanwhile (one write per child was most of such a step's
    database work). Children die with the Thor process anyway (``adapters/children``); the record is for a
    holder that hangs without dying.
    """

    SPAWN_COALESCE = 0.2  # seconds: at most this long between a child's start and the write that names it

    def __init__(self, ctx: EngineStepContext) -> None:
        self.ctx = ctx
        lease = lease_length(ctx.rt).total_seconds()
        self.every = max(min(lease / 3, 60.0), 0.2)
        if ctx.deadline is not None:  # notice the timeout promptly, without beating all the time
            self.every = min(self.every, max((ctx.deadline - ctx.clock.now()).total_seconds() / 4, 0.2))
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by _child_started and by __exit__
        self._thread = threading.Thread(target=self._run, name="thor-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        from thor_cli.adapters import proc

        proc.add_spawn_listener(self._child_started)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        from thor_cli.adapters import proc

        proc.remove_spawn_listener(self._child_started)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _child_started(self, _pgid: int) -> None:
        self._wake.set()

    def _run(self) -> None:
        next_beat = time.monotonic() + self.every
        while True:
            woken = self._wake.wait(max(next_beat - time.monotonic(), 0))
            if self._stop.is_set():
                return
            if woken:  # a child started: let the others of its burst start too, then one write for all
                self._stop.wait(self.SPAWN_COALESCE)
                if self._stop.is_set():
                    return
                self._wake.clear()
            if not self.ctx.heartbeat():
                return
            next_beat = time.monotonic() + self.every


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
