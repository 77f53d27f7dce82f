"""``jenkins``: trigger a parameterised Jenkins job (the load tests) and follow its build until it ends.

A build is recognised by its parameters, which must identify the release (``RELEASE_VERSION = "{version}"``).
Before triggering, the step looks for a build or a queued item of the job carrying this release's parameters,
so a tick that died after triggering never starts a second build. What it learns is saved at once: the queue
item id right after the trigger, the build number the moment Jenkins reports it (Jenkins forgets a queue item
about five minutes after it leaves the queue).

A Jenkins outage while following a build does not cost an attempt: the step keeps waiting and looks again
at the next poll (the step's timeout still applies). An outage while triggering fails the attempt, which
the engine retries after its back-off.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from thor_cli.durations import PositiveDuration, format_duration
from thor_cli.errors import ConfigError, ServiceUnavailable, StepError, ThorError
from thor_cli.steps.base import StepContext, StepResult, StepType

if TYPE_CHECKING:
    from thor_cli.adapters.jenkins import Build, JenkinsClient

# Placeholders whose value differs from one release to the next: one of them must be in ``params``.
_RELEASE_FIELDS = frozenset({"version", "integration_branch", "feature_freeze", "code_freeze"})


class JenkinsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job: str = Field(min_length=1)
    params: dict[str, str] = Field(default_factory=dict)
    poll_every: PositiveDuration = timedelta(minutes=5)
    # A build still running when the step times out is stopped, so a stuck load test does not hold an executor.
    abort_on_timeout: bool = True


def _fields(template: str) -> set[str]:
    try:
        return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return set()  # render_check reports the broken template


class JenkinsJobStep(StepType):
    type_name = "jenkins"
    summary = "trigger a Jenkins job and follow its build"
    Options = JenkinsOptions

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _target(ctx: StepContext) -> tuple[str, dict[str, str]]:
        options: JenkinsOptions = ctx.options
        job = ctx.release.render(options.job)
        return job, {key: ctx.release.render(value) for key, value in options.params.items()}

    @staticmethod
    def _client(ctx: StepContext) -> JenkinsClient:
        from thor_cli.adapters.jenkins import JenkinsClient

        return JenkinsClient.from_settings(ctx.settings)

    def describe(self, ctx: StepContext) -> str:
        job, params = self._target(ctx)
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        return f"trigger Jenkins job {job} ({shown}) unless this release's build exists, and follow it"

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, JenkinsOptions)
        for value in [options.job, *options.params.values()]:
            render_check(value)
        if not any(_fields(value) & _RELEASE_FIELDS for value in options.params.values()):
            raise ConfigError(
                f"jenkins job {options.job!r}: params must identify the release so that Thor recognises its "
                'own build, e.g. params = { RELEASE_VERSION = "{version}" }'
            )

    # -- the step -----------------------------------------------------------------------------------

    def run(self, ctx: StepContext) -> StepResult:
        client = self._client(ctx)
        job, params = self._target(ctx)
        state = ctx.state
        number = state.get("build_number")
        if number is not None:
            try:
                build = client.build(job, int(number))
            except ServiceUnavailable:
                raise
            except StepError as exc:  # deleted from Jenkins meanwhile
                ended = f"cannot be read ({exc.message})"
            else:
                if build.building or build.result is None or (build.result == "SUCCESS" and not ctx.force):
                    return self._report(ctx, client, job, build)
                ended = f"ended {build.result}"
            # An earlier attempt's build that failed (or a forced re-run): it is spent, start another.
            spent = max(int(state.get("spent_through") or 0), int(number))
            ctx.save_state(build_number=None, queue_id=None, spent_through=spent)
            ctx.log(f"build #{number} of {job} {ended}: starting a new build")
        elif state.get("queue_id") is not None:
            return self._follow_queue(ctx, client, job, params, int(state["queue_id"]))
        return self._start(ctx, client, job, params)

    def poll(self, ctx: StepContext) -> StepResult:
        client = self._client(ctx)
        job, params = self._target(ctx)
        state = ctx.state
        try:
            if state.get("build_number") is not None:
                return self._report(ctx, client, job, client.build(job, int(state["build_number"])))
            if state.get("queue_id") is not None:
                return self._follow_queue(ctx, client, job, params, int(state["queue_id"]))
            return self._start(ctx, client, job, params)
        except ServiceUnavailable as exc:
            # An outage while a build runs must not cost an attempt: look again at the next poll.
            every = format_duration(ctx.options.poll_every)
            return StepResult.wait(
                f"cannot reach Jenkins ({exc.message}); looking again in {every}",
                poll_after=ctx.options.poll_every,
            )

    def timed_out(self, ctx: StepContext, last: StepResult) -> StepResult:
        """Called after one last poll found the build (or its queue item) still going at the step's timeout."""
        job, _ = self._target(ctx)
        limit = format_duration(ctx.timeout)
        number = ctx.state.get("build_number")
        if number is None:
            return StepResult.fail(f"timed out after {limit}: {last.detail}")
        if not ctx.options.abort_on_timeout:
            return StepResult.fail(
                f"timed out after {limit}: build #{number} still running, left running (abort_on_timeout = false)",
                external_ref=last.external_ref,
            )
        self._client(ctx).stop_build(job, int(number))
        ctx.log(f"build #{number} of {job} still running after {limit}: stopped it")
        return StepResult.fail(
            f"timed out after {limit}: build #{number} still running, stopped it (abort_on_timeout)",
            external_ref=last.external_ref,
        )

    def _start(self, ctx: StepContext, client: JenkinsClient, job: str, params: dict[str, str]) -> StepResult:
        """Look for this release's build or queued item first; trigger only when there is neither."""
        spent = int(ctx.state.get("spent_through") or 0)
        found = client.find_build(job, params)
        if found is not None and found.number > spent:
            ctx.save_state(build_number=found.number, queue_id=None)
            ctx.log(f"build #{found.number} of {job} with this release's parameters exists: following it")
            return self._report(ctx, client, job, found)
        queue_id = client.find_queued(job, params)
        if queue_id is not None:
            ctx.log(f"{job} already has this release's build queued (item {queue_id}): following it")
        else:
            queue_id = client.trigger(job, params)
            ctx.log(f"triggered {job}: queue item {queue_id}")
        ctx.save_state(queue_id=queue_id, build_number=None)
        return self._follow_queue(ctx, client, job, params, queue_id)

    def _follow_queue(
        self, ctx: StepContext, client: JenkinsClient, job: str, params: dict[str, str], queue_id: int
    ) -> StepResult:
        from thor_cli.adapters.jenkins import QueueItemGone

        try:
            number = client.resolve_queue(queue_id)
        except QueueItemGone:
            # Jenkins forgets items ~5 minutes after they start: find the build by its parameters instead.
            found = client.find_build(job, params)
            if found is not None and found.number > int(ctx.state.get("spent_through") or 0):
                ctx.save_state(build_number=found.number, queue_id=None)
                return self._report(ctx, client, job, found)
            ctx.save_state(queue_id=None)
            return StepResult.fail(
                f"Jenkins no longer knows queue item {queue_id} and no build of {job} with this release's "
                "parameters was found"
            )
        except StepError as exc:  # cancelled: the next attempt looks again and triggers a new build
            ctx.save_state(queue_id=None)
            return StepResult.fail(exc.message)
        if number is None:
            return StepResult.wait(f"queued in Jenkins (item {queue_id})", poll_after=ctx.options.poll_every)
        ctx.save_state(build_number=number)
        return self._report(ctx, client, job, client.build(job, number))

    def _report(self, ctx: StepContext, client: JenkinsClient, job: str, build: Build) -> StepResult:
        url = build.url or None
        if build.building or build.result is None:
            return StepResult.wait(
                f"build #{build.number} running", poll_after=ctx.options.poll_every, external_ref=url
            )
        # Jenkins's own measure of the build, where it is worth saying (load tests run for hours).
        took = (
            f" in {format_duration(build.duration)}"
            if build.duration and build.duration >= timedelta(minutes=1)
            else ""
        )
        if build.result == "SUCCESS":
            return StepResult.ok(f"build #{build.number} succeeded{took}", external_ref=url)
        try:
            output = client.console_tail(job, build.number)
        except ThorError as exc:
            output = f"(could not read the console of build #{build.number}: {exc.message})"
        return StepResult.fail(
            f"build #{build.number} of {job} ended {build.result}{took}", output=output, external_ref=url
        )
