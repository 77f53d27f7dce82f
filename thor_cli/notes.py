"""Release notes: sections of pull request descriptions, the Markdown file, and finding stored notes.

Gen3 pull request descriptions carry sections such as ``### New Features`` and ``### Bug Fixes`` with bullet
points under them; the notes gather those bullets per repository under the same headings, each followed by
a link to its pull request. Pull requests without such sections (or when GitHub could not be asked) are
listed by title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from thor_cli.errors import ServiceUnavailable, ThorError

if TYPE_CHECKING:
    from thor_cli.runtime import Runtime

# In the order the notes show them.
SECTIONS = (
    "New Features",
    "Breaking Changes",
    "Bug Fixes",
    "Improvements",
    "Dependency updates",
    "Deployment changes",
)
_BY_KEY = {name.lower(): name for name in SECTIONS}
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+(?P<title>.*?))?(?:\s+#+)?\s*$")
_BULLET = re.compile(r"^(?P<indent>\s*)(?:[-*+]|\d+[.)])\s+(?P<text>.*\S)\s*$")
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_EMPTY_ITEMS = frozenset({"n/a", "na", "none", "-", "no", "nothing", "tbd"})


class NotesNotFound(ThorError):
    """No release notes for that version, neither in the database nor on disk (exit 1)."""


def parse_sections(body: str | None) -> dict[str, list[str]]:
    """The known sections of a pull request description and their items (bullets, or lines of text)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    text = _COMMENT.sub("", (body or "").replace("\r\n", "\n").replace("\r", "\n"))
    for line in text.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            name = _BY_KEY.get((heading["title"] or "").rstrip(":").strip().lower())
            current = found.setdefault(name, []) if name else None
            continue
        if current is None or not line.strip():
            continue
        bullet = _BULLET.match(line)
        if bullet:
            current.append(bullet["text"])
        elif current and line[:1].isspace():
            current[-1] = f"{current[-1]} {line.strip()}"  # a bullet continued on the next line
        else:
            current.append(line.strip())
    return {
        name: items
        for name in SECTIONS
        if (items := [i for i in found.get(name, []) if i.strip().lower().rstrip(".") not in _EMPTY_ITEMS])
    }


@dataclass
class PullNote:
    number: int
    title: str
    link: str | None = None  # the pull request's page when the repository is on GitHub
    sections: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"[#{self.number}]({self.link})" if self.link else f"#{self.number}"


@dataclass
class RepoNotes:
    repo: str
    since: str | None = None  # the previous release's tag or integration branch
    since_sha: str | None = None
    until: str | None = None  # the integration branch
    until_sha: str | None = None
    pulls: list[PullNote] = field(default_factory=list)
    enriched: bool = False  # the descriptions were read from GitHub
    note: str | None = None  # why the list may be incomplete
    error: str | None = None  # the history could not be read
    previous: str | None = None  # the version of the release ``since`` belongs to (releases.previous_release)


@dataclass
class ReleaseNotes:
    title: str  # "2021.09 Cobaltite"
    version: str
    integration_branch: str
    previous: str | None  # the previous release's version
    repos: list[RepoNotes]
    warnings: list[str] = field(default_factory=list)

    @property
    def pull_count(self) -> int:
        return sum(len(r.pulls) for r in self.repos)


def render_markdown(notes: ReleaseNotes) -> str:
    lines = [f"# Release notes: Gen3 {notes.title}", ""]
    since = f" since the previous release ({notes.previous})" if notes.previous else ""
    repos = _count(len(notes.repos), "repository", "repositories")
    pulls = _count(notes.pull_count, "pull request")
    lines += [f"Pull requests merged into `{notes.integration_branch}`{since}, in {repos}: {pulls}.", ""]
    for warning in notes.warnings:
        lines += [f"> **Warning:** {_inline(warning)}", ""]
    for repo in notes.repos:
        lines += _repo_lines(repo)
    return "\n".join(lines).rstrip() + "\n"


def _repo_lines(repo: RepoNotes) -> list[str]:
    lines = [f"## {repo.repo}", ""]
    if repo.error:
        return [*lines, f"> **Could not read the history:** {_inline(repo.error)}", ""]
    if repo.since and repo.since_sha:
        lines += [
            f"From `{repo.since}` ({repo.since_sha[:7]}) to `{repo.until}` ({(repo.until_sha or '')[:7]}).",
            "",
        ]
    if repo.note:
        lines += [f"_{_inline(repo.note)}_", ""]
    if not repo.pulls:
        return [*lines, "No pull requests.", ""]
    for name in SECTIONS:
        items = [(item, pull) for pull in repo.pulls for item in pull.sections.get(name, [])]
        if items:
            lines += [f"### {name}", "", *(f"- {_inline(item)} ({pull.ref})" for item, pull in items), ""]
    rest = [pull for pull in repo.pulls if not pull.sections]
    if rest:
        heading = "Other pull requests" if len(rest) < len(repo.pulls) else "Pull requests"
        lines += [f"### {heading}", "", *(f"- {_inline(pull.title)} ({pull.ref})" for pull in rest), ""]
    return lines


def _inline(text: str) -> str:
    return " ".join(text.split())


def _count(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


# -- stored notes (`thor notes`) ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredNotes:
    version: str
    markdown: str
    path: str | None
    source: str  # "database" or "file"


def stored_notes(rt: Runtime, version: str) -> StoredNotes:
    """The notes the release-notes step stored for ``version``, else its file on disk.

    ``UsageError`` (exit 2) for a version the calendar cannot have; ``NotesNotFound`` (exit 1) when neither
    the database nor the notes directory has them.
    """
    from thor_cli.releases import resolve_cycle

    steps = [s for s in rt.pipeline.steps if s.uses == "release-notes"]
    steps.sort(key=lambda s: not s.enabled)
    unreachable: ServiceUnavailable | None = None
    try:
        found = _from_database(rt, version, [s.name for s in steps])
    except ServiceUnavailable as exc:  # the file may still be there
        found, unreachable = None, exc
    if found is not None:
        return found
    cycle = resolve_cycle(rt, version)
    for path in _candidate_files(rt, cycle, steps):
        if path.is_file():
            return StoredNotes(version, path.read_text(encoding="utf-8"), str(path), "file")
    if unreachable is not None:
        raise unreachable
    name = steps[0].name if steps else "release-notes"
    raise NotesNotFound(f"no release notes yet for {version} ({_next_move(rt, version, name)})")


def _next_move(rt: Runtime, version: str, step_name: str) -> str:
    """What to run to get notes: never a command that would then be refused (a cancelled release runs no step)."""
    from thor_cli.releases import find_release
    from thor_cli.store.models import ReleaseStatus

    try:
        release = find_release(rt, version)
    except ServiceUnavailable:
        release = None
    if release is not None and release.status == ReleaseStatus.CANCELLED:
        return f"the release is cancelled; `thor release start {version}` starts it again"
    if release is None or not release.started:
        return f"the release has not started; `thor release start {version}` starts it"
    return f"run `thor step {step_name} {version}`"


def _from_database(rt: Runtime, version: str, step_names: list[str]) -> StoredNotes | None:
    from thor_cli.releases import find_release
    from thor_cli.store import leases, queries

    release = find_release(rt, version)
    if release is None:
        return None
    with rt.store.session() as session:
        runs = queries.step_runs(session, release.id)  # type: ignore[arg-type]
    for name in step_names:
        run = runs.get(name)
        state = leases.load_state(run) if run is not None else {}
        if state.get("notes_markdown"):
            markdown = str(state["notes_markdown"])
            with rt.store.session() as session:  # `thor hotfix` appends its sections to the notes
                events = queries.events(session, release.id)  # type: ignore[arg-type]
            hotfixes = [e.output for e in events if e.kind == "hotfix" and e.output]
            if hotfixes:
                markdown = markdown.rstrip("\n") + "\n" + "".join(f"\n{section}" for section in hotfixes)
            return StoredNotes(version, markdown, state.get("notes_path"), "database")
    return None


def _candidate_files(rt: Runtime, cycle, steps) -> list[Path]:  # type: ignore[no-untyped-def]
    from thor_cli.steps.base import ReleaseInfo

    info = ReleaseInfo(
        version=cycle.version,
        codename=cycle.codename,
        feature_freeze=cycle.feature_freeze,
        code_freeze=cycle.code_freeze,
        integration_branch=cycle.integration_branch,
        stable_branch=cycle.stable_branch,
        timezone=rt.settings.config.schedule.timezone,
    )
    return notes_files(rt.settings, info, steps)


def notes_files(settings, release, steps) -> list[Path]:  # type: ignore[no-untyped-def]
    """Where the release-notes steps of the pipeline write this release's notes, most specific first."""
    dirs = [notes_dir(settings, release, getattr(s.options, "dir", None)) for s in steps]
    dirs.append(notes_dir(settings, release, None))
    return [d / f"{release.version}.md" for d in dict.fromkeys(dirs)]


def shown_path(settings, path: Path) -> str:  # type: ignore[no-untyped-def]
    """A notes path as a person reads it: relative to thor.toml when it lies below it."""
    try:
        return str(path.resolve().relative_to(settings.base_dir.resolve()))
    except ValueError:
        return str(path)


def notes_dir(settings, release, override: str | None) -> Path:  # type: ignore[no-untyped-def]
    """Where the notes go: the step's ``dir`` (a template) or ``[notes] dir``, relative to thor.toml."""
    chosen = release.render(override) if override else settings.config.notes.dir
    return settings.resolve(chosen)
