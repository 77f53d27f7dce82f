"""``image-check``: wait until every image the release needs is in its registry.

The images are those of the release's repositories (``[repos]``) as ``[services]`` maps them
(``quay.io/cdis/fence``, two for ``etl``), with the tag the ``tag`` option renders (``{version}`` or
``{integration_branch}``). Each is looked up through the OCI Distribution API (``adapters/registry``).
CI builds images after the branch or tag appears, so missing images keep the step waiting and it looks
again every ``poll_every``; the detail names what is missing. One record per image (key: the full
reference, ``quay.io/cdis/fence:2021.09``; ``data.status`` present / missing / denied / unknown), written
when it changes; an image found present is not asked about again.

With no ``[environments]`` configured, nothing is rolled out, so nothing is checked: the step succeeds
at once saying it was skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from thor_cli.durations import PositiveDuration, format_duration
from thor_cli.errors import ServiceUnavailable
from thor_cli.steps.base import RepoRecord, StepContext, StepResult, StepType

if TYPE_CHECKING:
    from thor_cli.adapters.registry import ImageCheck, Registries

NO_ENVIRONMENTS = "skipped: no [environments] configured"
_SHOWN = 5  # missing images named in the detail


class ImageCheckOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tag: str = "{version}"
    poll_every: PositiveDuration = timedelta(minutes=10)


class ImageCheckStep(StepType):
    type_name = "image-check"
    summary = "wait until the release's images are in their registries"
    Options = ImageCheckOptions
    default_timeout = timedelta(hours=6)
    default_max_attempts = 1  # waiting is the retry: a timeout means CI did not build the images

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, ImageCheckOptions)
        render_check(options.tag)

    def describe(self, ctx: StepContext) -> str:
        if not ctx.settings.config.environments:
            return NO_ENVIRONMENTS
        return f"check that the release's images exist with tag {ctx.release.render(ctx.options.tag)}"

    def _wanted(self, ctx: StepContext) -> list[str]:
        from thor_cli.environments.services import release_components

        tag = ctx.release.render(ctx.options.tag)
        return list(dict.fromkeys(c.ref(tag) for c in release_components(ctx.settings)))

    def run(self, ctx: StepContext) -> StepResult:
        if not ctx.settings.config.environments:
            return StepResult.ok(NO_ENVIRONMENTS)
        from thor_cli.adapters.registry import Registries

        wanted = self._wanted(ctx)
        if not wanted:
            return StepResult.ok("no images to check: no deployed repositories in [repos]")
        earlier = ctx.repo_results()
        todo = [ref for ref in wanted if ctx.force or earlier.get(ref) is None or earlier[ref].status != "succeeded"]
        registries = Registries(ctx.settings.config.services)
        workers = min(ctx.settings.config.repos.concurrency, max(1, len(todo)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda ref: _check(registries, ref), todo))
        for ref, (status, check, error) in zip(todo, results, strict=True):
            previous = earlier.get(ref)
            if previous is None or previous.data.get("status") != status or ctx.force:
                detail = error or (check.detail if check else "")
                ctx.record_repo(
                    RepoRecord(
                        ref,
                        "succeeded" if status == "present" else "pending",
                        detail=detail or status,
                        # the digest ("sha256:" + 64 hex) is longer than the sha column
                        data={"status": status, "digest": check.digest if check else None},
                    )
                )
        missing = [ref for ref, (status, _, _) in zip(todo, results, strict=True) if status != "present"]
        if not missing:
            return StepResult.ok(f"{len(wanted)} images present with tag {ctx.release.render(ctx.options.tag)}")
        shown = ", ".join(_describe(ref, results[todo.index(ref)]) for ref in missing[:_SHOWN])
        more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
        every = format_duration(ctx.options.poll_every)
        return StepResult.wait(
            f"{len(missing)} of {len(wanted)} images not there yet: {shown}{more}; looking again in {every}",
            poll_after=ctx.options.poll_every,
        )

    def poll(self, ctx: StepContext) -> StepResult:
        return self.run(ctx)

    def timed_out(self, ctx: StepContext, last_result: StepResult) -> StepResult:
        return StepResult.fail(f"timed out waiting for images: {last_result.detail}")


def _check(registries: Registries, ref: str) -> tuple[str, ImageCheck | None, str | None]:
    """(status, check, error): an outage of one registry is "unknown" and keeps the step waiting."""
    try:
        check = registries.check(ref)
    except ServiceUnavailable as exc:
        return "unknown", None, exc.message
    return check.status, check, None


def _describe(ref: str, result: tuple[str, ImageCheck | None, str | None]) -> str:
    status, _, error = result
    if status == "missing":
        return ref
    if status == "denied":
        return f"{ref} (no access)"
    return f"{ref} (registry unavailable: {error})"
