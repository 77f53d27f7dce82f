"""``thor hotfix VERSION --repo REPO COMMIT...``: cherry-pick fixes onto a release's stable branch and tag them.

The git work (no clone, no worktree, one atomic push with leases) is in ``adapters/git_cherry``. Here: which
repository and branch, the next tag from ``[hotfix] tag`` (default ``{version}.{n}``: 2021.09.1, 2021.09.2,
…, one more than the highest existing; an existing tag is never moved), and what is recorded once the push
is through: a ``hotfix`` event on the release (``thor status VERSION`` lists them), a message in the release's
Slack thread and the hotfix's pull requests appended to the release notes.

Safe to re-run: a commit already on stable (in its history, carrying its ``(cherry picked from commit …)``
trailer, or with the same patch-id) is not picked again; when every commit is there nothing is pushed. If a
run pushed but died before recording, the re-run finds the tag on the commit that carries the trailer and
records the hotfix then.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from thor_cli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from thor_cli.adapters.git_cherry import CherryPlan, Pick
    from thor_cli.repos import Repo
    from thor_cli.runtime import Runtime
    from thor_cli.steps.base import ReleaseInfo
    from thor_cli.store.models import Release

EVENT_KIND = "hotfix"
_N = "\x00n\x00"  # stands for {n} while turning the tag template into a pattern


@dataclass(frozen=True)
class HotfixResult:
    version: str
    repo: str
    stable_branch: str
    outcome: str  # "planned" (dry run), "created", "nothing-to-do", "recorded" (found on the remote)
    tag: str | None
    lines: list[str]  # one per commit
    stable_before: str
    stable_after: str
    notes_path: str | None = None
    pulls: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        picked = sum(1 for line in self.lines if "already on stable" not in line)
        where = f"{self.repo} {self.stable_branch}"
        if self.outcome == "planned":
            if not picked:
                return f"{where}: every commit is already there; nothing would change"
            return f"{where}: would cherry-pick {_commits(picked)} and tag {self.tag}"
        if self.outcome == "nothing-to-do":
            return f"{where}: every commit is already there; nothing changed"
        if self.outcome == "recorded":
            return f"{where}: hotfix {self.tag} was already pushed; recorded it now"
        return f"{where}: cherry-picked {_commits(picked)}, tagged {self.tag}"


def hotfix(rt: Runtime, version: str, repo_name: str, commits: list[str], *, dry_run: bool = False) -> HotfixResult:
    from thor_cli.adapters.git_cherry import cherry_pick
    from thor_cli.releases import release_info, require_release

    if not commits:
        raise UsageError("give at least one commit to cherry-pick")
    release = require_release(rt, version)
    repo = _find_repo(rt, repo_name)
    info = release_info(release, rt.settings.config.schedule.timezone)
    stable = repo.stable_branch or release.stable_branch
    config = rt.settings.config.hotfix
    _check_template(config.tag, info)

    def choose(plan: CherryPlan) -> tuple[str, str]:
        number = next_number(config.tag, info, plan.tags)
        values = {**info.template_values(), "n": number}
        body = "\n".join(f"- {p.line}" for p in plan.picks)
        return config.tag.format_map(values), f"{config.tag_message.format_map(values)}\n\n{body}\n"

    branches = [release.integration_branch, *([repo.source_branch] if repo.source_branch else [])]
    result = cherry_pick(repo.url, stable, commits, resolve_from=branches, tag=None if dry_run else choose)
    plan = result.plan
    lines = [p.line for p in plan.picks]
    outcome = "planned" if dry_run else "created" if result.pushed else "nothing-to-do"
    tag = result.tag or (choose(plan)[0] if dry_run and not plan.nothing_to_do else None)
    done = HotfixResult(version, repo.name, stable, outcome, tag, lines, plan.stable_sha, plan.tip)
    if dry_run:
        return done
    if result.pushed:
        return _record(rt, release, info, repo, done, plan.to_pick)
    found = _unrecorded_tag(rt, release, repo, plan)
    if found is not None:  # pushed by a run that died before recording it
        picked = [p for p in plan.picks if p.found_as]
        recorded = HotfixResult(version, repo.name, stable, "recorded", found, lines, plan.stable_sha, plan.tip)
        return _record(rt, release, info, repo, recorded, picked)
    return done


def _commits(count: int) -> str:
    return f"{count} commit" + ("" if count == 1 else "s")


# -- the tag -----------------------------------------------------------------------------------------


def _check_template(template: str, info: ReleaseInfo) -> None:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        template.format_map({**info.template_values(), "n": 1})
        tag_pattern(template, info)  # {n} with a format spec ({n:02d}) cannot be matched back: refused here
    except (KeyError, ValueError, IndexError) as exc:
        raise ConfigError(f"[hotfix] tag: cannot use {template!r} ({exc})") from None
    if "n" not in fields:
        raise ConfigError(f"[hotfix] tag {template!r} must contain {{n}}, or a second hotfix could not be tagged")


def next_number(template: str, info: ReleaseInfo, tags: dict[str, str] | list[str]) -> int:
    """One more than the highest ``{n}`` among the existing tags made by ``template`` for this release."""
    pattern = tag_pattern(template, info)
    numbers = [int(m["n"]) for name in tags if (m := pattern.match(name))]
    return max(numbers, default=0) + 1


def tag_pattern(template: str, info: ReleaseInfo) -> re.Pattern[str]:
    rendered = template.format_map({**info.template_values(), "n": _N})
    return re.compile("^" + re.escape(rendered).replace(re.escape(_N), r"(?P<n>\d+)") + "$")


# -- recording ---------------------------------------------------------------------------------------


def _find_repo(rt: Runtime, name: str) -> Repo:
    from thor_cli.repos import load_repos

    repos = load_repos(rt.settings)
    for repo in repos:
        if repo.name == name:
            return repo
    known = ", ".join(r.name for r in repos[:5]) + (", …" if len(repos) > 5 else "")
    raise UsageError(f"repository {name!r} is not in [repos]" + (f" (known: {known})" if repos else ""))


def _unrecorded_tag(rt: Runtime, release: Release, repo: Repo, plan: CherryPlan) -> str | None:
    """A hotfix tag on one of the commits that carry this hotfix's trailers that no event mentions yet."""
    from thor_cli.releases import release_info
    from thor_cli.store import queries

    carriers = {p.found_as for p in plan.picks if p.found_as}
    if not carriers:
        return None
    pattern = tag_pattern(rt.settings.config.hotfix.tag, release_info(release, rt.settings.config.schedule.timezone))
    tagged = sorted(name for name, sha in plan.tags.items() if sha in carriers and pattern.match(name))
    if not tagged:
        return None
    with rt.store.session() as session:
        seen = [e.message for e in queries.events(session, release.id) if e.kind == EVENT_KIND]  # type: ignore[arg-type]
    for name in tagged:
        if not any(message.startswith(f"hotfix {name} in {repo.name}:") for message in seen):
            return name
    return None


def _record(
    rt: Runtime, release: Release, info: ReleaseInfo, repo: Repo, result: HotfixResult, picks: list[Pick]
) -> HotfixResult:
    from thor_cli.adapters.git_base import short

    section, pulls = notes_section(rt, repo, result, picks)
    path = _append_notes(rt, info, section)
    message = (
        f"hotfix {result.tag} in {repo.name}: {_commits(len(picks))} cherry-picked onto {result.stable_branch} "
        f"({short(result.stable_before)} → {short(result.stable_after)})"
    )
    _write_event(rt, release, message, section)
    return HotfixResult(
        result.version,
        result.repo,
        result.stable_branch,
        result.outcome,
        result.tag,
        result.lines,
        result.stable_before,
        result.stable_after,
        notes_path=str(path) if path else None,
        pulls=pulls,
    )


def _write_event(rt: Runtime, release: Release, message: str, section: str) -> None:
    """The event and its Slack message, in one transaction (kept small: the only database write here)."""
    from thor_cli import notify
    from thor_cli.store import queries

    now = rt.clock.now()
    with rt.store.transaction() as tx:
        queries.add_event(
            tx, at=now, actor=rt.who, kind=EVENT_KIND, release_id=release.id, message=message, output=section
        )
        notify.enqueue(rt, tx, release, "reply", f"🩹 {release.version} {message}")


def notes_section(rt: Runtime, repo: Repo, result: HotfixResult, picks: list[Pick]) -> tuple[str, list[str]]:
    """The Markdown appended to the release notes: the pull requests cherry-picked, else the commits."""
    from thor_cli.adapters.git_log import Commit, parse_pull_requests
    from thor_cli.adapters.github import pull_link

    api_url = rt.settings.config.github.api_url
    lines, pulls = [], []
    for pick in picks:
        found = parse_pull_requests([Commit(pick.sha, pick.subject, pick.body)])
        if found:
            pull = found[0]
            link = pull_link(repo.url, api_url, pull.number)
            ref = f"[#{pull.number}]({link})" if link else f"#{pull.number}"
            lines.append(f"- {pull.title} ({ref})")
            pulls.append(f"#{pull.number} {pull.title}")
        else:
            lines.append(f"- {pick.subject} (`{pick.sha[:12]}`)")
    heading = f"## Hotfix {result.tag}: {repo.name}"
    return f"{heading}\n\nCherry-picked onto `{result.stable_branch}`:\n\n" + "\n".join(lines) + "\n", pulls


def _append_notes(rt: Runtime, info: ReleaseInfo, section: str) -> Path | None:
    """Append to the release's notes file (where the release-notes step wrote it), creating it if need be."""
    from thor_cli.notes import notes_files

    steps = [s for s in rt.pipeline.steps if s.uses == "release-notes"]
    steps.sort(key=lambda s: not s.enabled)
    candidates = notes_files(rt.settings, info, steps)
    path = next((p for p in candidates if p.is_file()), candidates[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.is_file() else f"# Gen3 release {info.title}\n"
    if section in existing:  # recorded once even if appending is repeated
        return path
    path.write_text(existing.rstrip("\n") + "\n\n" + section, encoding="utf-8")
    return path
