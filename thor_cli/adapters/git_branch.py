"""Cutting and deleting branches on a remote without cloning it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from thor_cli.adapters.git_base import GitError, head_ref, is_sha, ls_remote, repo_label, scratch, short

CutStatus = Literal["created", "exists", "advanced", "conflict", "moved"]


@dataclass(frozen=True)
class CutResult:
    # created | exists | moved: the branch is at ``sha``; advanced: it contains ``sha`` and has moved on
    # (pull requests into the integration branch); conflict: untouched, elsewhere
    status: CutStatus
    sha: str  # where the branch is cut (or should have been, for a conflict)
    detail: str
    previous_sha: str | None = None  # where the branch was before (moved), or is (conflict)

    @property
    def ok(self) -> bool:
        return self.status != "conflict"


def cut_branch(
    repo_url: str,
    branch: str,
    source_branch: str | None = None,
    *,
    force: bool = False,
    expected_sha: str | None = None,
) -> CutResult:
    """Create ``branch`` on the remote at the tip of ``source_branch`` (None: the default branch).

    ``expected_sha`` (a re-run after a partial run) cuts at that commit instead of the current tip. A branch
    already at the SHA is "exists"; elsewhere it is a "conflict" left alone, unless ``force`` moves it.
    """
    label = repo_label(repo_url)
    if expected_sha is not None and not is_sha(expected_sha):
        raise GitError(f"{label}: expected SHA {expected_sha!r} is not a full commit id")
    target_ref = head_ref(branch)
    patterns = [target_ref]
    if expected_sha is None:
        patterns += [head_ref(source_branch)] if source_branch else ["HEAD"]
    refs, symrefs = ls_remote(repo_url, *patterns, symref=expected_sha is None and not source_branch)
    if expected_sha:
        sha, origin = expected_sha, "the recorded commit"
    else:
        source_ref = head_ref(source_branch) if source_branch else symrefs.get("HEAD", "")
        if not source_ref.startswith("refs/heads/"):
            raise GitError(f"{label}: cannot tell the default branch (the remote HEAD points nowhere)")
        origin = source_ref.removeprefix("refs/heads/")
        sha = refs.get(source_ref if source_branch else "HEAD", "")
        if not sha:
            raise GitError(f"{label}: source branch {origin} does not exist")
    current = refs.get(target_ref)
    if current == sha:
        return CutResult("exists", sha, f"{branch} already at {short(sha)}")
    if current and _contains(repo_url, current, sha):
        # Work merged into the integration branch after the cut: rewinding it would throw that work away.
        detail = f"{branch} contains {short(sha)} and has moved on to {short(current)}; left as it is"
        return CutResult("advanced", sha, detail, current)
    if current and not force:
        return _conflict(branch, sha, current)

    with scratch(repo_url) as repo:
        repo.fetch(sha, depth=1)
        pushed = repo.push_one(f"{sha}:{target_ref}", lease=f"{target_ref}:{current or ''}")
    if pushed.ok and pushed.up_to_date:
        return CutResult("exists", sha, f"{branch} already at {short(sha)}")
    if pushed.ok:
        if current:
            return CutResult("moved", sha, f"{branch} moved from {short(current)} to {short(sha)} ({origin})", current)
        return CutResult("created", sha, f"{branch} created at {short(sha)} ({origin})")
    # Someone else changed the branch between our look and our push, or the remote refused it.
    now = ls_remote(repo_url, target_ref)[0].get(target_ref)
    if now == sha:
        return CutResult("exists", sha, f"{branch} already at {short(sha)}")
    if now and now != current and not force:
        return _conflict(branch, sha, now)
    raise GitError(f"{label}: push of {branch} rejected: {pushed.summary}")


def _contains(repo_url: str, tip: str, sha: str) -> bool:
    """Whether ``sha`` is an ancestor of ``tip`` (a blob-less fetch of ``tip``'s history, trees and commits only)."""
    with scratch(repo_url) as repo:
        repo.fetch(tip)
        return repo.git("merge-base", "--is-ancestor", sha, tip, check=False).returncode == 0


def _conflict(branch: str, sha: str, current: str) -> CutResult:
    detail = f"{branch} already exists at {short(current)}, not at {short(sha)}; left untouched (force moves it)"
    return CutResult("conflict", sha, detail, current)


def delete_branch(repo_url: str, branch: str, expected_sha: str | None = None) -> str:
    """Delete a remote branch: "deleted" or "absent". With ``expected_sha`` it must still be there."""
    label = repo_label(repo_url)
    ref = head_ref(branch)
    current = ls_remote(repo_url, ref)[0].get(ref)
    if current is None:
        return "absent"
    if expected_sha and current != expected_sha:
        raise GitError(f"{label}: {branch} is at {short(current)}, not {short(expected_sha)}; not deleted")
    with scratch(repo_url) as repo:
        pushed = repo.push_one(f":{ref}", lease=f"{ref}:{current}")
    if pushed.ok:
        return "deleted"
    if ls_remote(repo_url, ref)[0].get(ref) is None:
        return "absent"
    raise GitError(f"{label}: deleting {branch} rejected: {pushed.summary}")
