"""What every step type is made of.

A step type is a small class: ``Options`` (a pydantic model of its own ``[steps.NAME]`` keys), ``run`` which
does (or starts) the work and ``poll`` which follows asynchronous work it started. Both must be idempotent
against the outside world: look before you create, and treat "already there" as success. The engine owns
claiming, retries, timeouts and recording; a step only talks to the world through ``StepContext``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from thor_cli.clock import Clock
    from thor_cli.config import Settings

Outcome = Literal["succeeded", "failed", "waiting"]


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ReleaseInfo:
    """The release a step works on, with everything its templates may use."""

    version: str
    codename: str | None
    feature_freeze: datetime  # aware, UTC
    code_freeze: datetime
    integration_branch: str
    stable_branch: str
    timezone: str = "UTC"

    @property
    def title(self) -> str:
        return f"{self.version} {self.codename}" if self.codename else self.version

    def local_date(self, moment: datetime) -> date:
        from zoneinfo import ZoneInfo

        return moment.astimezone(ZoneInfo(self.timezone)).date()

    def template_values(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "codename": self.codename or "",
            "integration_branch": self.integration_branch,
            "stable_branch": self.stable_branch,
            "feature_freeze": self.local_date(self.feature_freeze),
            "code_freeze": self.local_date(self.code_freeze),
        }

    def render(self, template: str) -> str:
        """Fill ``{version}``-style placeholders; unknown names are a ValueError naming them."""
        try:
            return template.format_map(self.template_values())
        except KeyError as exc:
            raise ValueError(f"unknown placeholder {{{exc.args[0]}}} in {template!r}") from None


@dataclass
class StepResult:
    status: Outcome
    detail: str = ""
    external_ref: str | None = None  # a link a person can open: build URL, notes file, JIRA version
    output: str | None = None  # captured output; the engine redacts and keeps its tail
    poll_after: timedelta | None = None  # waiting: when to look again; None waits for a person

    @classmethod
    def ok(cls, detail: str = "", **kw: Any) -> StepResult:
        return cls("succeeded", detail, **kw)

    @classmethod
    def fail(cls, detail: str, **kw: Any) -> StepResult:
        return cls("failed", detail, **kw)

    @classmethod
    def wait(cls, detail: str, poll_after: timedelta | None = None, **kw: Any) -> StepResult:
        return cls("waiting", detail, poll_after=poll_after, **kw)


@dataclass
class RepoRecord:
    repo: str
    status: str  # succeeded | failed | skipped | pending
    sha: str | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Progress(Protocol):
    def advance(self, label: str = "") -> None: ...


class StepContext(Protocol):
    """What the engine hands a step. Writes through it are committed at once, so a crash loses nothing."""

    release: ReleaseInfo
    step_name: str
    options: Any  # an instance of the step type's Options
    settings: Settings
    clock: Clock
    force: bool
    attempt: int
    started_at: datetime | None
    timeout: timedelta

    @property
    def state(self) -> dict[str, Any]:
        """What this step saved on earlier attempts or ticks (JSON)."""

    def save_state(self, **values: Any) -> None:
        """Merge values into the step's state and commit now (record a build number the moment it is known)."""

    def repo_results(self, step: str | None = None) -> dict[str, RepoRecord]:
        """Per-repository results of this step (or of another step, e.g. the cut SHAs of split-branch)."""

    def record_repo(self, record: RepoRecord) -> None:
        """Store one repository's result now; thread-safe, so parallel workers may call it."""

    def log(self, message: str) -> None:
        """Append to the release's event log (redacted) and to stderr when verbose."""

    def progress(self, total: int, description: str) -> AbstractContextManager[Progress]:
        """A progress bar on a terminal, nothing otherwise."""

    def notify(self, text: str, *, broadcast: bool = False) -> None:
        """Queue a message in the release's Slack thread (and the channel when ``broadcast``)."""


class StepType:
    """Base class for step types. Subclasses set ``type_name`` and override ``run`` (and ``poll``)."""

    type_name: ClassVar[str]
    summary: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    default_timeout: ClassVar[timedelta] = timedelta(hours=1)
    default_max_attempts: ClassVar[int] = 3
    default_retry_after: ClassVar[timedelta] = timedelta(minutes=30)

    def run(self, ctx: StepContext) -> StepResult:
        raise NotImplementedError

    def poll(self, ctx: StepContext) -> StepResult:
        """Follow work that ``run`` started and answered ``waiting`` for. Default: run again."""
        return self.run(ctx)

    def timed_out(self, ctx: StepContext, last: StepResult) -> StepResult:
        """A waiting step reached its timeout and its last poll (``last``) says the work still goes on.

        Override to stop that work when the step is configured to (a Jenkins build, a workflow run), and say
        in the detail which was done. The result is recorded as the attempt's outcome (normally a failure).
        """
        from thor_cli.durations import format_duration

        return StepResult.fail(f"timed out after {format_duration(ctx.timeout)} ({last.detail})")

    def describe(self, ctx: StepContext) -> str:
        """One line for ``--dry-run``: what running it now would do."""
        return self.summary or self.type_name

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        """Extra checks at pipeline load; ``render_check`` raises for a template with unknown placeholders."""
