"""``github-workflow``: start a GitHub Actions workflow (``workflow_dispatch``) and follow its run until it ends.

Exactly once. Thor passes a correlation value as an extra input (``correlation_input``, default
``thor_correlation``; the workflow declares it and shows it in its ``run-name``), unique to the release, the
step and the attempt's run (``[thor 2021.09 load-tests #1]``). Before dispatching, the step looks for a run
it already started: the run id it recorded, else a ``workflow_dispatch`` run whose title shows the value.
The moment it dispatches is saved before the request and the run id as soon as GitHub gives it (the ``200``
answer to ``return_run_details``), so a tick killed anywhere in between finds the run instead of starting a
second one. A server answering ``204`` (no run details) has its run found the same way, by the correlation
value among the runs created since the dispatch, never as "the newest run".

A run that ends other than ``success`` fails the attempt with its conclusion and link; the next attempt
starts a new run (the old one is remembered as spent). A GitHub outage while following a run costs no
attempt. At the step's timeout the engine polls once more, then ``timed_out`` cancels the run when
``cancel_on_timeout`` is set and says which it did.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from thor_cli.durations import PositiveDuration, format_duration
from thor_cli.errors import ConfigError, ServiceUnavailable, ThorError
from thor_cli.steps.base import StepContext, StepResult, StepType

if TYPE_CHECKING:
    from thor_cli.adapters.github_actions import ActionsClient, Run

CLOCK_SKEW = timedelta(minutes=5)  # runs created this long before Thor's "now" still count as ours
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class GitHubWorkflowOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str = Field(min_length=1)  # owner/name (a template)
    workflow: str = Field(min_length=1)  # file name (load_tests.yaml) or id
    ref: str = "{integration_branch}"
    inputs: dict[str, str] = Field(default_factory=dict)  # templates
    correlation_input: str = "thor_correlation"  # "" sends none (then a crash may go unnoticed: see the docs)
    cancel_on_timeout: bool = False
    poll_every: PositiveDuration = timedelta(minutes=2)
    appear_within: PositiveDuration = timedelta(minutes=10)  # a 204 dispatch whose run does not show up by then fails

    @field_validator("correlation_input")
    @classmethod
    def _input_name(cls, value: str) -> str:
        if value and not _INPUT_NAME.match(value):
            raise ValueError(f"{value!r} is not a workflow input name")
        return value


class GitHubWorkflowStep(StepType):
    type_name = "github-workflow"
    summary = "start a GitHub Actions workflow and follow its run"
    Options = GitHubWorkflowOptions
    default_timeout = timedelta(hours=6)

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _target(ctx: StepContext) -> tuple[str, str, str, dict[str, str]]:
        o: GitHubWorkflowOptions = ctx.options
        render = ctx.release.render
        return render(o.repo), render(o.workflow), render(o.ref), {k: render(v) for k, v in o.inputs.items()}

    @staticmethod
    def _client(ctx: StepContext, repo: str) -> ActionsClient:
        from thor_cli.adapters.github_actions import ActionsClient

        return ActionsClient(ctx.settings, repo)

    @staticmethod
    def correlation(ctx: StepContext) -> str:
        """Unique to the release, the step and the run: an attempt after a spent run gets a new one."""
        number = len(ctx.state.get("spent_runs") or []) + 1
        return f"[thor {ctx.release.version} {ctx.step_name} #{number}]"

    def describe(self, ctx: StepContext) -> str:
        repo, workflow, ref, inputs = self._target(ctx)
        shown = ", ".join(f"{k}={v}" for k, v in inputs.items())
        return f"start {workflow} of {repo} on {ref} ({shown}) unless this release's run exists, and follow it"

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, GitHubWorkflowOptions)
        for value in [options.repo, options.workflow, options.ref, *options.inputs.values()]:
            render_check(value)
        if not _has_fields(options.repo) and not _SLUG.match(options.repo):
            raise ConfigError(f"github-workflow repo {options.repo!r} must look like owner/name")
        if options.correlation_input in options.inputs:
            raise ConfigError(f"github-workflow: input {options.correlation_input!r} is Thor's correlation input")

    # -- the step -----------------------------------------------------------------------------------

    def run(self, ctx: StepContext) -> StepResult:
        return self._follow(ctx, new_attempt=True)

    def poll(self, ctx: StepContext) -> StepResult:
        try:
            return self._follow(ctx, new_attempt=False)
        except ServiceUnavailable as exc:  # an outage while a run goes on must not cost an attempt
            every = ctx.options.poll_every
            return StepResult.wait(
                f"cannot reach GitHub ({exc.message}); looking again in {format_duration(every)}",
                poll_after=every,
                external_ref=ctx.state.get("run_url"),
            )

    def timed_out(self, ctx: StepContext, last: StepResult | None = None) -> StepResult:
        """Called by the engine when the run is still going at the step's timeout (after a last poll)."""
        limit = format_duration(ctx.timeout)
        run_id, url = ctx.state.get("run_id"), ctx.state.get("run_url")
        if run_id is None:
            return StepResult.fail(f"timed out after {limit}; no run of the workflow was found")
        if not ctx.options.cancel_on_timeout:
            return StepResult.fail(
                f"timed out after {limit}; run {run_id} left running (cancel_on_timeout is off)", external_ref=url
            )
        repo, *_ = self._target(ctx)
        try:
            cancelled = self._client(ctx, repo).cancel_run(int(run_id))
        except ThorError as exc:
            return StepResult.fail(
                f"timed out after {limit}; cancelling run {run_id} failed: {exc.message}", external_ref=url
            )
        what = "cancelled" if cancelled else "not cancelled: it had already ended"
        ctx.log(f"run {run_id} {what} at the timeout")
        return StepResult.fail(f"timed out after {limit}; run {run_id} {what}", external_ref=url)

    # -- following ----------------------------------------------------------------------------------

    def _follow(self, ctx: StepContext, *, new_attempt: bool) -> StepResult:
        """A poll reports the recorded run however it ended; a new attempt (or a forced run) starts a new run
        when the recorded one ended unsuccessfully (or at all, when forced)."""
        repo, workflow, ref, inputs = self._target(ctx)
        client = self._client(ctx, repo)
        state = ctx.state
        run_id = state.get("run_id")
        if run_id is not None:
            run = client.get_run(int(run_id))
            spent = new_attempt and run.completed and (run.conclusion != "success" or ctx.force)
            if not spent:
                return self._report(ctx, workflow, run)
            self._spend(ctx, run)  # an earlier attempt's run that ended (or a forced re-run): start another
        elif state.get("dispatch_started_at"):
            return self._after_dispatch(ctx, client, workflow, ref, inputs)
        return self._start(ctx, client, workflow, ref, inputs)

    def _start(
        self, ctx: StepContext, client: ActionsClient, workflow: str, ref: str, inputs: dict[str, str]
    ) -> StepResult:
        correlation = self.correlation(ctx)
        name = ctx.options.correlation_input
        since = _as_utc(ctx.started_at) if ctx.started_at else ctx.clock.now()
        found = self._lookup(ctx, client, workflow, since) if name else None
        if found is not None:
            ctx.log(f"run {found.id} of {workflow} for this release exists: following it")
            return self._record(ctx, workflow, found)
        # Saved before the request: a process killed during it leaves a trace the next tick looks up.
        ctx.save_state(dispatch_started_at=ctx.clock.now().isoformat(), dispatch_acknowledged=False)
        sent = {**inputs, **({name: correlation} if name else {})}
        dispatched = client.dispatch(workflow, ref, sent)
        if dispatched.run_id is not None:
            ctx.save_state(run_id=dispatched.run_id, run_url=dispatched.html_url, dispatch_acknowledged=True)
            ctx.log(f"started {workflow} on {ref}: run {dispatched.run_id}")
            return StepResult.wait(
                f"run {dispatched.run_id} started", poll_after=ctx.options.poll_every, external_ref=dispatched.html_url
            )
        ctx.save_state(dispatch_acknowledged=True)
        ctx.log(f"started {workflow} on {ref} (the server gave no run id: looking it up by {correlation})")
        return self._after_dispatch(ctx, client, workflow, ref, inputs)

    def _after_dispatch(
        self, ctx: StepContext, client: ActionsClient, workflow: str, ref: str, inputs: dict[str, str]
    ) -> StepResult:
        """A dispatch was made (or begun) but no run id is known: find its run, never dispatch twice for it."""
        state = ctx.state
        started = datetime.fromisoformat(str(state["dispatch_started_at"]))
        found = self._lookup(ctx, client, workflow, started) if ctx.options.correlation_input else None
        if found is not None:
            return self._record(ctx, workflow, found)
        waited = ctx.clock.now() - started
        if waited < ctx.options.appear_within:
            return StepResult.wait(
                f"dispatched {workflow}; waiting for its run to appear", poll_after=min(ctx.options.poll_every, _HALF)
            )
        if not state.get("dispatch_acknowledged"):
            # The process that began the dispatch died before GitHub answered, and no run appeared: it never
            # reached GitHub. Dispatching now is the first dispatch, not a second one.
            ctx.save_state(dispatch_started_at=None)
            ctx.log(f"the interrupted dispatch of {workflow} started no run: dispatching again")
            return self._start(ctx, client, workflow, ref, inputs)
        hint = (
            f"does the workflow's run-name show inputs.{ctx.options.correlation_input}?"
            if ctx.options.correlation_input
            else "without correlation_input Thor cannot find a run the server did not name"
        )
        ctx.save_state(dispatch_started_at=None)
        return StepResult.fail(
            f"{workflow} was dispatched {format_duration(waited)} ago but no run showing "
            f"{self.correlation(ctx)} appeared ({hint})"
        )

    def _lookup(self, ctx: StepContext, client: ActionsClient, workflow: str, since: datetime) -> Run | None:
        spent = [int(i) for i in ctx.state.get("spent_runs") or []]
        return client.find_run(workflow, self.correlation(ctx), _as_utc(since) - CLOCK_SKEW, skip=spent)

    def _record(self, ctx: StepContext, workflow: str, run: Run) -> StepResult:
        ctx.save_state(run_id=run.id, run_url=run.html_url, dispatch_started_at=None)
        return self._report(ctx, workflow, run)

    @staticmethod
    def _spend(ctx: StepContext, run: Run) -> None:
        spent = [*(ctx.state.get("spent_runs") or []), run.id]
        ctx.save_state(run_id=None, run_url=None, dispatch_started_at=None, spent_runs=spent)
        ctx.log(f"run {run.id} ended {run.conclusion}: starting a new run")

    @staticmethod
    def _report(ctx: StepContext, workflow: str, run: Run) -> StepResult:
        url = run.html_url or None
        if not run.completed:
            return StepResult.wait(f"run {run.id} {run.status}", poll_after=ctx.options.poll_every, external_ref=url)
        if run.conclusion == "success":
            return StepResult.ok(f"run {run.id} succeeded", external_ref=url)
        return StepResult.fail(
            f"run {run.id} of {workflow} ended {run.conclusion or 'without a conclusion'}", external_ref=url
        )


_HALF = timedelta(seconds=30)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _has_fields(template: str) -> bool:
    try:
        return any(name for _, name, _, _ in string.Formatter().parse(template))
    except ValueError:
        return False
