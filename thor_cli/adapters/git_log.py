"""First-parent history for release notes, fetched as commits only (``--filter=tree:0``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from thor_cli.adapters.git_base import (
    GitError,
    head_ref,
    is_sha,
    ls_remote,
    peeled,
    repo_label,
    scratch,
    tag_ref,
)

FALLBACK_LIMIT = 200  # commits listed when the previous release cannot be found
_ABBREVIATED_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_MERGE_PR = re.compile(r"^Merge pull request #(?P<number>\d+) from (?P<branch>\S+)")
_SQUASH_PR = re.compile(r"^(?P<title>.*\S)\s+\(#(?P<number>\d+)\)$")


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    body: str


@dataclass(frozen=True)
class PullRef:
    number: int
    title: str
    sha: str


class CommitLog(list[Commit]):
    """Commits, newest first. ``note`` says why the list may be incomplete (the start was not found)."""

    def __init__(self, commits: Iterable[Commit] = (), *, since_sha: str | None = None, note: str | None = None):
        super().__init__(commits)
        self.since_sha = since_sha
        self.note = note

    @property
    def complete(self) -> bool:
        return self.note is None


def first_parent_log(
    repo_url: str, since_ref_or_sha: str | None, until_sha: str, *, limit: int = FALLBACK_LIMIT
) -> CommitLog:
    """``git log --first-parent since..until``. ``since`` is a tag, a branch or a SHA; when it is missing or
    cannot be found, the last ``limit`` commits up to ``until`` are returned and ``note`` says so."""
    label = repo_label(repo_url)
    since = (since_ref_or_sha or "").strip()
    since_sha: str | None = None
    if since:
        refs, _ = ls_remote(repo_url, tag_ref(since), f"{tag_ref(since)}^{{}}", head_ref(since))
        since_sha = peeled(refs, tag_ref(since)) or refs.get(head_ref(since))
    with scratch(repo_url) as repo:
        if since_sha:
            repo.fetch(until_sha, since_sha, filter="tree:0")
        elif since and _ABBREVIATED_SHA.match(since):
            repo.fetch(until_sha, filter="tree:0")
            if is_sha(since) and not repo.has_commit(since):
                with contextlib.suppress(GitError):  # not on the remote: fall back below
                    repo.fetch(since, filter="tree:0")
            since_sha = repo.has_commit(since)
        else:
            repo.fetch(until_sha, filter="tree:0", depth=limit)
        if since_sha:
            return CommitLog(_log(repo, f"{since_sha}..{until_sha}"), since_sha=since_sha)
        commits = _log(repo, until_sha, "-n", str(limit))
    why = f"{since} was not found in {label}" if since else "no previous release was given"
    return CommitLog(commits, note=f"{why}; listing the last {len(commits)} commits (at most {limit})")


def _log(repo, *args: str) -> list[Commit]:
    fmt = "--format=%x1e%H%x1f%s%x1f%b"
    output = repo.git("log", "--first-parent", fmt, *args, "--", what="log").stdout
    commits = []
    for record in output.split("\x1e"):
        if record.strip():
            sha, subject, body = [*record.split("\x1f", 2), "", ""][:3]
            commits.append(Commit(sha.strip(), subject.strip(), body.strip()))
    return commits


def parse_pull_requests(commits: Iterable[Commit]) -> list[PullRef]:
    """Pull requests named by merge commits ("Merge pull request #12 from org/x", title from the body) and
    squash commits ("Title (#12)"), in the order given, each number once."""
    found: dict[int, PullRef] = {}
    for commit in commits:
        merge = _MERGE_PR.match(commit.subject)
        if merge:
            number = int(merge["number"])
            body_lines = [line.strip() for line in commit.body.splitlines() if line.strip()]
            title = body_lines[0] if body_lines else merge["branch"]
        else:
            squash = _SQUASH_PR.match(commit.subject)
            if not squash:
                continue
            number, title = int(squash["number"]), squash["title"]
        found.setdefault(number, PullRef(number, title, commit.sha))
    return list(found.values())
