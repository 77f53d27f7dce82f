"""``release-notes``: the pull requests each repository's integration branch adds over the previous release.

Per repository, by commit range (never by dates): from the previous release, the last one that shipped (the
newest earlier calendar version whose tag the remote has, so cancelled and never-started months are passed
over; ``thor_cli.releases.previous_release``), else the previous integration branch, else the last commits
with a note saying no previous release was found; up to the commit the ``git-branch`` step recorded for that
repository. Pull requests come from merge and squash subjects. With ``$THOR_GITHUB_TOKEN`` their descriptions
are read from GitHub (``[github] api_url``) and their sections (``### New Features``, ...) gathered; GitHub
failing only costs that enrichment, with a warning in the notes. The Markdown goes to ``[notes] dir`` (or the
step's ``dir``) as ``VERSION.md`` and into the step's state, where ``thor notes VERSION`` finds it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from thor_cli.errors import StepError
from thor_cli.notes import (
    PullNote,
    ReleaseNotes,
    RepoNotes,
    notes_dir,
    parse_sections,
    render_markdown,
    shown_path,
)
from thor_cli.repos import Repo
from thor_cli.steps.base import RepoRecord, StepContext, StepResult, StepType
from thor_cli.steps.repo_fanout import (
    NO_REPOS,
    RepoOutcome,
    cut_records,
    failure_summary,
    failures,
    plural,
    recorded_cut,
    release_repos,
    report_lines,
    run_over_repos,
    short,
)

if TYPE_CHECKING:
    from thor_cli.adapters.github import GitHubClient
    from thor_cli.calendar import Cycle


class ReleaseNotesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dir: str | None = None  # a template; default [notes] dir. Relative paths are relative to thor.toml.


class ReleaseNotesStep(StepType):
    type_name = "release-notes"
    summary = "write the release notes from the pull requests merged since the previous release"
    Options = ReleaseNotesOptions

    def describe(self, ctx: StepContext) -> str:
        path = notes_dir(ctx.settings, ctx.release, ctx.options.dir) / f"{ctx.release.version}.md"
        branch = ctx.release.integration_branch
        return f"list the pull requests {branch} adds in every repository and write {path}"

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, ReleaseNotesOptions)
        if options.dir:
            render_check(options.dir)

    def run(self, ctx: StepContext) -> StepResult:
        from thor_cli.adapters.github import GitHubClient
        from thor_cli.releases import earlier_cycles

        repos = release_repos(ctx)
        if not repos:
            return StepResult.fail(NO_REPOS)
        release = ctx.release
        candidates = earlier_cycles(ctx.settings, release, ctx.clock)
        cuts = cut_records(ctx)
        client = GitHubClient.from_settings(ctx.settings)
        enricher = Enricher(client, ctx.settings.config.github.api_url) if client else None
        outcomes = run_over_repos(
            ctx,
            repos,
            lambda repo: _repo_notes(ctx, repo, candidates, cuts.get(repo.name), enricher),
            description="reading pull requests",
        )
        notes = ReleaseNotes(
            title=release.title,
            version=release.version,
            integration_branch=release.integration_branch,
            previous=_overall_previous(outcomes),
            repos=[o.extra if o.ok else RepoNotes(name, error=o.detail) for name, o in outcomes.items()],
            warnings=sorted(enricher.warnings) if enricher else [],  # the same notes whatever the timing
        )
        markdown = render_markdown(notes)
        path = notes_dir(ctx.settings, release, ctx.options.dir) / f"{release.version}.md"
        _write(path, markdown)
        shown = shown_path(ctx.settings, path)
        counts = f"{plural(notes.pull_count, 'PR')} in {plural(len(repos), 'repo')}"
        unchanged = ctx.state.get("notes_markdown") == markdown and ctx.state.get("notes_notified")
        ctx.save_state(notes_markdown=markdown, notes_path=str(path), notes_pull_requests=notes.pull_count)
        output = report_lines(outcomes)
        failed = failures(outcomes)
        if failed:
            summary = failure_summary(failed, len(repos), "could not be read")
            return StepResult.fail(
                f"{summary}; notes written without them to {shown}", external_ref=str(path), output=output
            )
        if not unchanged:
            ctx.notify(f"release notes ready: {counts} — {shown}")
            ctx.save_state(notes_notified=True)
        detail = f"{counts} written to {shown}"
        if notes.warnings:
            ctx.log("; ".join(notes.warnings))
            detail += f" ({plural(len(notes.warnings), 'warning')}: {notes.warnings[0]})"
        return StepResult.ok(detail, external_ref=str(path), output=output)


def _overall_previous(outcomes: dict[str, RepoOutcome]) -> str | None:
    """The previous release the notes name in their heading: the one most repositories start from."""
    versions = [o.extra.previous for o in outcomes.values() if o.ok and o.extra.previous]
    return max(versions, key=versions.count) if versions else None


def _repo_notes(
    ctx: StepContext, repo: Repo, candidates: list[Cycle], cut: RepoRecord | None, enricher: Enricher | None
) -> RepoOutcome:
    from thor_cli.adapters.git import first_parent_log, parse_pull_requests, remote_heads
    from thor_cli.adapters.github import pull_link
    from thor_cli.releases import previous_release

    branch = ctx.release.integration_branch
    notes: list[str] = []
    until = recorded_cut(cut)
    if not until:
        until = remote_heads(repo.url, branch).get(branch)
        if not until:
            raise StepError(_no_branch(ctx, branch, cut))
        notes.append(f"{_unrecorded(cut)}: the tip of {branch} ({short(until)}) is used")
    previous = previous_release(repo.url, candidates)
    since = previous.ref
    log = first_parent_log(repo.url, since, until)
    why = previous.explain()
    if since is None:
        notes.append(f"no previous release found ({why}): the last {plural(len(log), 'commit')} are listed")
    elif why:
        notes.append(why)
    if since is not None and log.note:
        notes.append(log.note)
    api_url = ctx.settings.config.github.api_url
    pulls = [PullNote(p.number, p.title, pull_link(repo.url, api_url, p.number)) for p in parse_pull_requests(log)]
    enriched = enricher.enrich_safely(repo, pulls) if enricher and pulls else False
    result = RepoNotes(
        repo=repo.name,
        previous=previous.version,
        since=since,
        since_sha=log.since_sha,
        until=branch,
        until_sha=until,
        pulls=pulls,
        enriched=enriched,
        note="; ".join(notes) or None,
    )
    data = {"since": since, "since_sha": log.since_sha, "pull_requests": len(pulls)}
    detail = f"{plural(len(pulls), 'pull request')} since {since or 'the last ' + plural(len(log), 'commit')}"
    return RepoOutcome.success("read", detail, sha=until, data=data, extra=result)


def _recorded_sha(cut: RepoRecord | None) -> str | None:
    sha = (cut.data.get("cut_sha") or cut.sha) if cut is not None else None
    return str(sha) if sha else None


def _unrecorded(cut: RepoRecord | None) -> str:
    """Why the recorded cut is not used: none recorded, or one recorded that did not succeed."""
    sha = _recorded_sha(cut)
    if cut is None or not sha:
        return "no cut was recorded for this repository"
    return f"the cut at {short(sha)} was recorded but did not succeed ({cut.status}: {cut.detail or 'no detail'})"


def _no_branch(ctx: StepContext, branch: str, cut: RepoRecord | None) -> str:
    """What really is when the integration branch is missing: say whether a cut was chosen and what became of it."""
    sha = _recorded_sha(cut)
    if cut is None or not sha:
        return f"{branch} does not exist and no cut was recorded for this repository"
    again = f"`thor step split-branch {ctx.release.version}`"
    return (
        f"{branch} does not exist: the cut at {short(sha)} was recorded but its push did not succeed "
        f"({cut.detail or cut.status}); run {again} again"
    )


class Enricher:
    """Reads pull request descriptions from GitHub for all repositories; the first outage ends it for all."""

    def __init__(self, client: GitHubClient, api_url: str) -> None:
        self.client = client
        self.api_url = api_url
        self.warnings: list[str] = []
        self._down = False
        self._lock = threading.Lock()

    def _warn(self, text: str, *, down: bool = False) -> None:
        with self._lock:
            if down:
                if self._down:
                    return
                self._down = True
            self.warnings.append(text)

    def enrich_safely(self, repo: Repo, pulls: list[PullNote]) -> bool:
        """``enrich``, where even an unexpected error only costs the enrichment (with a warning)."""
        from thor_cli.adapters.net import one_line

        try:
            return self.enrich(repo, pulls)
        except Exception as exc:
            self._warn(f"reading pull requests from GitHub failed: {type(exc).__name__}: {one_line(str(exc))}")
            return False

    def enrich(self, repo: Repo, pulls: list[PullNote]) -> bool:
        """Fill in the sections of ``pulls``; whether every description was read."""
        from thor_cli.adapters.github import GitHubError, GitHubUnavailable, api_slug

        slug = api_slug(repo.name, repo.url, self.api_url)
        if slug is None:
            self._warn(f"{repo.name} is not a GitHub repository: its pull request descriptions are not included")
            return False
        complete = True
        for pull in pulls:
            if self._down:
                return False
            try:
                found = self.client.pull_request(slug, pull.number)
            except GitHubUnavailable as exc:
                self._warn(f"{exc.message}: pull request descriptions are left out", down=True)
                return False
            except GitHubError as exc:
                self._warn(exc.message)
                complete = False
                continue
            pull.title = found.title or pull.title
            pull.sections = parse_sections(found.body)
        return complete


def _write(path: Path, text: str) -> None:
    """Write the notes whole or not at all (a reader never sees half a file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StepError(f"cannot write the release notes to {path}: {exc.strerror or exc}") from None
