"""``jira-version`` / ``jira-release``: the release's JIRA fix version, made at feature freeze, released last.

Both look before they act (through ``JiraClient``), so running them again is harmless: an existing version is
reused, a released one is left alone, release tasks are created once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thor_cli.errors import ConfigError
from thor_cli.steps.base import ReleaseInfo, StepContext, StepResult, StepType

if TYPE_CHECKING:
    from thor_cli.adapters.jira import JiraClient, JiraVersion
    from thor_cli.config import Settings


def description_values(release: ReleaseInfo) -> dict[str, Any]:
    """What ``[jira] description`` may use: the release's template values plus ``{codename_suffix}``
    (" Cobaltite", or "" without a codename) and ``{title}``."""
    suffix = f" {release.codename}" if release.codename else ""
    return release.template_values() | {"codename_suffix": suffix, "title": release.title}


def render_description(template: str, release: ReleaseInfo) -> str:
    try:
        return template.format_map(description_values(release))
    except KeyError as exc:
        raise ConfigError(f"[jira] description: unknown placeholder {{{exc.args[0]}}} in {template!r}") from None
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"[jira] description: invalid template {template!r}: {exc}") from None


def version_link(settings: Settings, version: JiraVersion) -> str:
    """Where a person sees the version in JIRA's web interface."""
    config = settings.config.jira
    return f"{(config.url or '').rstrip('/')}/projects/{config.project}/versions/{version.id}"


def _client(ctx: StepContext) -> tuple[JiraClient, str]:
    from thor_cli.adapters.jira import JiraClient

    client = JiraClient.from_settings(ctx.settings)  # ConfigError when [jira] or the credentials are missing
    return client, str(ctx.settings.config.jira.project)


class CreateVersionStep(StepType):
    type_name = "jira-version"
    summary = "create the release's JIRA version"

    def describe(self, ctx: StepContext) -> str:
        project = ctx.settings.config.jira.project or "(no [jira] project)"
        text = f"ensure JIRA version {ctx.release.version} in project {project}"
        return text + (" with the release story and its sub-tasks" if ctx.settings.config.jira.create_tasks else "")

    def run(self, ctx: StepContext) -> StepResult:
        config = ctx.settings.config.jira
        description = render_description(config.description, ctx.release)
        client, project = _client(ctx)
        release = ctx.release
        version, created = client.ensure_version(
            project,
            release.version,
            description=description,
            start_date=release.local_date(release.feature_freeze),
            release_date=release.local_date(release.code_freeze),
        )
        detail = f"{'created' if created else 'found existing'} JIRA version {version.name} in {project}"
        if config.create_tasks:
            story, made = client.ensure_release_tasks(
                project, version.name, f"Gen3 release {release.title}", _subtask_titles(ctx)
            )
            detail += f"; release story {story} " + ("created or completed" if made else "already complete")
        return StepResult.ok(detail, external_ref=version_link(ctx.settings, version))


def _subtask_titles(ctx: StepContext) -> list[str]:
    """One sub-task per enabled step of the pipeline, named after it."""
    from thor_cli.pipeline import build_pipeline

    return [step.name for step in build_pipeline(ctx.settings.config).enabled]


class MarkReleasedStep(StepType):
    type_name = "jira-release"
    summary = "mark the release's JIRA version released"

    def describe(self, ctx: StepContext) -> str:
        project = ctx.settings.config.jira.project or "(no [jira] project)"
        return f"mark JIRA version {ctx.release.version} in {project} released on {ctx.clock.today()}"

    def run(self, ctx: StepContext) -> StepResult:
        client, project = _client(ctx)
        today = ctx.clock.today()
        version, changed = client.mark_released(project, ctx.release.version, today)
        if changed:
            detail = f"marked JIRA version {version.name} released on {today}"
        else:
            detail = f"JIRA version {version.name} was already released" + (
                f" (on {version.release_date})" if version.release_date else ""
            )
        return StepResult.ok(detail, external_ref=version_link(ctx.settings, version))
