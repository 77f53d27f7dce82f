"""``publish-notes``: the release notes as a pull request on a repository (Gen3: the manifest repository).

Runs after ``release-notes``. It reads the notes file that step wrote (hotfix sections that ``thor hotfix``
appended included) and hands it to ``adapters/pull_requests.ensure_pull_request``, the one implementation
of "put these files on a branch and keep one pull request for them" (the environment rollouts use it too):
one branch (``thor/release-notes-{version}``), one commit per change of the notes, one pull request, found
again by its head on every run, so repeating the step (a crash, a race, ``--force``) never opens a second
one. The file goes to a templated path, by default ``releases/YYYY/MM/gen3-release-notes.md`` for the month
of the feature freeze.

It succeeds when the pull request is open, or, with ``wait_for_merge``, once it is merged; while it waits
every poll brings the branch up to date with the notes (regenerated notes, a hotfix) in the same pull
request. A pull request closed without merging fails the step: Thor never reopens or replaces it silently.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from thor_cli.durations import PositiveDuration, format_duration
from thor_cli.errors import ConfigError, ServiceUnavailable, StepError
from thor_cli.steps.base import StepContext, StepResult, StepType

DEFAULT_PATH = "releases/{feature_freeze:%Y}/{feature_freeze:%m}/gen3-release-notes.md"
DEFAULT_BODY = (
    "Release notes of Gen3 {version} {codename} (feature freeze {feature_freeze}, code freeze {code_freeze}), "
    "from the integration branches `{integration_branch}`.\n\nOpened by Thor; `thor notes {version}` shows them "
    "too. Thor updates this pull request when the notes change."
)


class PublishNotesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str = Field(min_length=1)  # owner/name on GitHub
    url: str | None = None  # where git pushes; default: [repos] url with {repo}
    path: str = DEFAULT_PATH
    branch: str = "thor/release-notes-{version}"
    base: str | None = None  # default: the repository's default branch
    title: str = "Gen3 release notes {version}"
    body: str = DEFAULT_BODY
    release_url: str | None = None  # a link to the release (JIRA version, release page), added to the body
    labels: list[str] = Field(default_factory=list)
    notes_step: str = "release-notes"  # whose notes file to publish
    wait_for_merge: bool = False
    poll_every: PositiveDuration = timedelta(minutes=30)


class PublishNotesStep(StepType):
    type_name = "publish-notes"
    summary = "open (once) a pull request with the release notes"
    Options = PublishNotesOptions
    default_timeout = timedelta(days=14)  # with wait_for_merge: people review the notes

    def describe(self, ctx: StepContext) -> str:
        o: PublishNotesOptions = ctx.options
        return (
            f"put the release notes at {ctx.release.render(o.path)} on {ctx.release.render(o.branch)} of {o.repo} "
            "and keep one pull request for them" + (", then wait until it is merged" if o.wait_for_merge else "")
        )

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, PublishNotesOptions)
        for value in (options.path, options.branch, options.title, options.body, options.release_url, options.url):
            if value:
                render_check(value)
        if options.path.startswith("/") or ".." in Path(options.path).parts:
            raise ConfigError(f"publish-notes path {options.path!r} must be relative, inside the repository")

    def run(self, ctx: StepContext) -> StepResult:
        return self._publish(ctx)

    def poll(self, ctx: StepContext) -> StepResult:
        try:
            return self._publish(ctx)
        except ServiceUnavailable as exc:  # waiting for a merge: an outage costs no attempt
            every = ctx.options.poll_every
            return StepResult.wait(
                f"cannot reach GitHub ({exc.message}); looking again in {format_duration(every)}",
                poll_after=every,
                external_ref=ctx.state.get("pull_url"),
            )

    def _publish(self, ctx: StepContext) -> StepResult:
        from thor_cli.adapters.pull_requests import PullSpec, ensure_pull_request

        o: PublishNotesOptions = ctx.options
        render = ctx.release.render
        markdown = _notes(ctx)
        path = render(o.path)
        body = render(o.body) + (f"\n\nRelease: {render(o.release_url)}" if o.release_url else "")
        spec = PullSpec(
            repo=o.repo,
            url=render(o.url) if o.url else ctx.settings.config.repos.url.replace("{repo}", o.repo),
            branch=render(o.branch),
            title=render(o.title),
            body=body,
            message=f"Gen3 {ctx.release.version} release notes",
            base=render(o.base) if o.base else None,
            labels=tuple(o.labels),
        )
        outcome = ensure_pull_request(ctx.settings, spec, lambda snapshot: {path: markdown})
        if outcome.number is not None:
            ctx.save_state(pull_number=outcome.number, pull_url=outcome.url)
        if outcome.created:
            ctx.notify(f"release notes pull request opened: {outcome.url}")
        if outcome.pushed:
            ctx.log(f"{outcome.detail}: {path}")
        link = outcome.url
        if outcome.status == "up-to-date":
            return StepResult.ok(f"{o.repo} already has these notes at {path}")
        if outcome.status == "merged":
            return StepResult.ok(f"{o.repo}#{outcome.number} merged", external_ref=link)
        if outcome.status == "declined":
            raise StepError(
                f"{o.repo}#{outcome.number} was closed without merging; reopen it, or `thor skip` this step"
            )
        if o.wait_for_merge:
            return StepResult.wait(
                f"{o.repo}#{outcome.number} open; waiting until it is merged",
                poll_after=o.poll_every,
                external_ref=link,
            )
        return StepResult.ok(f"{outcome.detail}: {path}", external_ref=link)


def _notes(ctx: StepContext) -> str:
    """The notes file the ``notes_step`` wrote for this release."""
    from thor_cli.notes import notes_files
    from thor_cli.pipeline import build_pipeline

    pipeline = build_pipeline(ctx.settings.config)
    step = pipeline.get(ctx.options.notes_step)
    if step is None or step.uses != "release-notes":
        raise ConfigError(f"publish-notes: notes_step {ctx.options.notes_step!r} is not a release-notes step")
    for path in notes_files(ctx.settings, ctx.release, [step]):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise StepError(
        f"no release notes for {ctx.release.version} yet (run `thor step {step.name} {ctx.release.version}`)"
    )
