"""Put some files on a branch and keep exactly one pull request for them.

Used by the rollout step (an environment's GitOps files) and by anything else that proposes files through a
pull request (published release notes). One call, ``ensure_pull_request(settings, spec, edit)``, safe to
repeat after a crash at any point:

1. Look at GitHub first: the pull requests whose head is ``spec.branch`` (any state, newest first). A merged
   one means the work is done (``merged``); one closed without merging means the owner said no
   (``declined``: never reopened or replaced silently). Neither touches git.
2. Fetch the base tip and the branch tip (if the branch exists) without a clone (``adapters/git_files``).
   ``edit(snapshot)`` returns the files to write, path -> text, computed from that snapshot's files. Nothing
   to change on the base and no open pull request: ``up-to-date``, no branch, no pull request.
3. Commit on the branch tip (or the base when the branch does not exist yet) only if the files there differ;
   push with a lease on the branch as it was fetched. A crash after the push finds the branch already
   right and pushes nothing.
4. Find or create the pull request by head (a 422 "already exists" from a racing process is answered by
   looking again), then bring its title, body and labels to what ``spec`` says.

``pull_state`` reads one pull request's state (open / merged / declined) and approvals for the waiting
steps. Errors are Thor's: ``GitError``, ``GitHubError`` (one request), ``GitHubUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from thor_cli.adapters.git_base import GitError, repo_label, short
from thor_cli.adapters.git_files import Snapshot, open_branches
from thor_cli.adapters.github_api import error_status, github_client, github_errors

if TYPE_CHECKING:
    from thor_cli.config import Settings

PullStatus = Literal["opened", "merged", "declined", "up-to-date"]
Edit = Callable[[Snapshot], Mapping[str, str]]


@dataclass(frozen=True)
class PullSpec:
    repo: str  # "owner/name" on GitHub
    url: str  # where git pushes (the same repository)
    branch: str  # the work branch, e.g. "thor/2021.09/qa"
    title: str
    body: str | Callable[[], str]  # a function is called after ``edit`` has seen the base (to describe it)
    message: str  # the commit message
    base: str | None = None  # None: the repository's default branch
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class PullOutcome:
    status: PullStatus
    number: int | None = None
    url: str | None = None
    created: bool = False  # this call opened the pull request
    pushed: str | None = None  # the commit this call pushed, if it pushed
    files: tuple[str, ...] = ()  # the paths that differ from the base (what the pull request changes)
    opened_at: datetime | None = None
    merged_at: datetime | None = None
    detail: str = ""


@dataclass(frozen=True)
class PullState:
    status: Literal["open", "merged", "declined"]
    number: int
    url: str
    opened_at: datetime | None
    merged_at: datetime | None
    closed_at: datetime | None
    approvals: int  # reviewers whose latest review approves


def ensure_pull_request(settings: Settings, spec: PullSpec, edit: Edit, *, reopen: bool = False) -> PullOutcome:
    """``reopen``: a pull request closed without merging is reopened (asked again) instead of reported
    ``declined`` — only when a person asks for it (``thor step … --force``)."""
    owner = spec.repo.partition("/")[0]
    head = f"{owner}:{spec.branch}"
    with github_client(settings) as gh:
        with github_errors(f"looking for pull requests from {spec.branch} in {spec.repo}", settings):
            repo = gh.get_repo(spec.repo)
            pulls = list(repo.get_pulls(state="all", head=head))
        current = next((p for p in pulls if p.state == "open"), None)
        if current is None and pulls:
            newest = pulls[0]
            if newest.merged_at is not None:
                return _outcome("merged", newest, detail=f"{spec.repo}#{newest.number} merged")
            if not reopen:
                return _outcome("declined", newest, detail=f"{spec.repo}#{newest.number} closed without merging")
            with github_errors(f"reopening {spec.repo}#{newest.number}", settings):
                newest.edit(state="open")
            current = newest

        with open_branches(spec.url, spec.base, spec.branch) as branches:
            on_base = _changes(edit(branches.snapshot(branches.base_sha)), branches.snapshot(branches.base_sha))
            if not on_base and current is None:
                return PullOutcome("up-to-date", detail=f"{spec.repo} {branches.base} already has the files")
            start = branches.branch_sha or branches.base_sha
            start_files = branches.snapshot(start)
            needed = _changes(edit(start_files), start_files)
            pushed = None
            if needed:
                commit = branches.commit_files(start, needed, spec.message)
                outcome = branches.push_branch(commit)
                if not outcome.ok:
                    raise GitError(
                        f"{repo_label(spec.url)}: {spec.branch} changed while Thor pushed to it "
                        f"({outcome.summary}); the next attempt starts from where it is now"
                    )
                pushed = commit
            base = branches.base

        body = spec.body() if callable(spec.body) else spec.body
        created = False
        with github_errors(f"opening the pull request from {spec.branch} in {spec.repo}", settings):
            if current is None:
                current, created = _create_or_find(repo, spec, body, head, base, settings)
            if current.title != spec.title or (current.body or "") != body:
                current.edit(title=spec.title, body=body)
            have = {label.name for label in current.labels}
            missing = [label for label in spec.labels if label not in have]
            if missing:
                current.add_to_labels(*missing)
        verb = "opened" if created else "updated" if pushed else "open"
        detail = f"{spec.repo}#{current.number} {verb}" + (f" ({short(pushed)} pushed)" if pushed else "")
        return _outcome("opened", current, created=created, pushed=pushed, files=tuple(sorted(on_base)), detail=detail)


def _create_or_find(repo: Any, spec: PullSpec, body: str, head: str, base: str, settings: Settings) -> tuple[Any, bool]:
    from thor_cli.adapters.github import GitHubError

    try:
        with github_errors(f"opening the pull request from {spec.branch} in {spec.repo}", settings):
            return repo.create_pull(title=spec.title, body=body, head=spec.branch, base=base), True
    except GitHubError as exc:
        if error_status(exc) != 422:
            raise
        # Another process opened it between our look and our request: use that one.
        found = [p for p in repo.get_pulls(state="open", head=head)]
        if not found:
            raise
        return found[0], False


def _changes(wanted: Mapping[str, str], snapshot: Snapshot) -> dict[str, str]:
    return {path: text for path, text in wanted.items() if snapshot.read(path) != text}


def _outcome(status: PullStatus, pull: Any, **kw: Any) -> PullOutcome:
    return PullOutcome(
        status,
        number=pull.number,
        url=pull.html_url,
        opened_at=_utc(pull.created_at),
        merged_at=_utc(pull.merged_at),
        **kw,
    )


def close_pull_request(settings: Settings, repo_name: str, number: int) -> None:
    """Close an open pull request (a rollout's timeout, when configured to)."""
    with github_client(settings) as gh, github_errors(f"closing {repo_name}#{number}", settings):
        pull = gh.get_repo(repo_name).get_pull(number)
        if pull.state == "open":
            pull.edit(state="closed")


def pull_state(settings: Settings, repo_name: str, number: int, *, gh: Any = None) -> PullState:
    """One pull request's state and how many reviewers approve it (their latest review says APPROVED)."""
    if gh is None:
        with github_client(settings) as client:
            return pull_state(settings, repo_name, number, gh=client)
    with github_errors(f"reading {repo_name}#{number}", settings):
        pull = gh.get_repo(repo_name).get_pull(number)
        latest: dict[str, str] = {}
        for review in pull.get_reviews():
            if review.user is not None and review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[review.user.login] = review.state
        merged_at, closed_at = _utc(pull.merged_at), _utc(pull.closed_at)
        status = "merged" if merged_at else "declined" if pull.state == "closed" else "open"
        return PullState(
            status=status,
            number=pull.number,
            url=pull.html_url,
            opened_at=_utc(pull.created_at),
            merged_at=merged_at,
            closed_at=closed_at,
            approvals=sum(1 for state in latest.values() if state == "APPROVED"),
        )


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
