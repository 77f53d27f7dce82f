"""``announce``: the final message, in the release's Slack thread and in the channel itself.

The step only queues the message (``ctx.notify``): the outbox delivers it exactly once, whenever Slack can be
reached, so the step never depends on Slack being up. Running the step again does not queue it twice.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from thor_cli.config import TEMPLATE_FIELDS
from thor_cli.errors import ConfigError
from thor_cli.steps.base import StepContext, StepResult, StepType

# What a message template may use besides the release's own template values.
EXTRA_FIELDS = ("title", "codename_suffix", "repos", "notes")


class AnnounceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str | None = None  # a template; {title} {version} {repos} {notes} ... see EXTRA_FIELDS
    notes_url: str | None = None  # a template; default: the release-notes step's file, when it exists


def default_message(values: dict[str, Any]) -> str:
    text = f"Gen3 release {values['title']} is out: tag {values['version']}"
    if values["repos"]:
        text += f" in {values['repos']} repositories"
    if values["notes"]:
        text += f", release notes: {values['notes']}"
    return text


class AnnounceStep(StepType):
    type_name = "announce"
    summary = "announce the release in its Slack thread and the channel"
    Options = AnnounceOptions

    def describe(self, ctx: StepContext) -> str:
        return f"queue the announcement of {ctx.release.title} for the release thread and the channel"

    def run(self, ctx: StepContext) -> StepResult:
        config = ctx.settings.config
        if not (config.slack.channel or config.notify.file or config.notify.echo):
            # One rule for every service: an enabled step whose service is not configured is a configuration
            # problem (as JIRA and Jenkins steps are), not a success that announced nothing.
            raise ConfigError(
                "[slack] channel is not set in thor.toml (nor [notify] file or echo): announce has nowhere to "
                "announce to (configure it or disable the step)"
            )
        if ctx.state.get("announced") and not ctx.force:
            return StepResult.ok("already announced")
        text = self._text(ctx)
        ctx.notify(text, broadcast=True)
        # A crash between the two commits would queue the announcement again on the next attempt: a
        # window of milliseconds, and the other order could lose the announcement instead.
        ctx.save_state(announced=True)
        return StepResult.ok("announcement queued for the release thread and the channel", output=text)

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, AnnounceOptions)
        if options.notes_url:
            render_check(options.notes_url)
        if options.message:
            known = {*TEMPLATE_FIELDS, *EXTRA_FIELDS}
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(options.message) if name is not None}
            except ValueError as exc:
                raise ConfigError(f"announce: invalid message template {options.message!r}: {exc}") from None
            unknown = sorted(n for n in names if n.split(".")[0].split("[")[0] not in known)
            if unknown:
                raise ConfigError(
                    f"announce: unknown placeholder {{{unknown[0]}}} in message (known: {', '.join(sorted(known))})"
                )

    # -- the text -----------------------------------------------------------------------------------

    def _text(self, ctx: StepContext) -> str:
        values = self._values(ctx)
        options: AnnounceOptions = ctx.options
        if not options.message:
            return default_message(values)
        try:
            return options.message.format_map(values)
        except (KeyError, ValueError, IndexError) as exc:
            raise ConfigError(f"announce: cannot fill the message template: {exc}") from None

    def _values(self, ctx: StepContext) -> dict[str, Any]:
        release = ctx.release
        return release.template_values() | {
            "title": release.title,
            "codename_suffix": f" {release.codename}" if release.codename else "",
            "repos": _tagged_repos(ctx),
            "notes": _notes_link(ctx),
        }


def _tagged_repos(ctx: StepContext) -> int:
    """How many repositories the merge step(s) of the pipeline merged and tagged."""
    from thor_cli.pipeline import build_pipeline

    merges = [s.name for s in build_pipeline(ctx.settings.config).enabled if s.uses == "git-merge"]
    return sum(1 for name in merges for record in ctx.repo_results(name).values() if record.status == "succeeded")


def _notes_link(ctx: StepContext) -> str:
    options: AnnounceOptions = ctx.options
    if options.notes_url:
        return ctx.release.render(options.notes_url)
    from thor_cli.notes import notes_files, shown_path
    from thor_cli.pipeline import build_pipeline

    steps = [s for s in build_pipeline(ctx.settings.config).enabled if s.uses == "release-notes"]
    found = next((path for path in notes_files(ctx.settings, ctx.release, steps) if path.is_file()), None)
    return shown_path(ctx.settings, found) if found else ""
