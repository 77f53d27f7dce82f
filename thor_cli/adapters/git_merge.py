"""Merging the integration branch into stable and tagging the release, without a worktree.

``plan_merge`` only reads. ``merge_and_tag`` carries a plan out and checks the tag first, so that a tag
already on another commit leaves the remote untouched. Conflicts are reported, never resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from thor_cli.adapters.git_base import (
    GitError,
    Scratch,
    head_ref,
    ls_remote,
    peeled,
    repo_label,
    scratch,
    short,
    summarize,
    tag_ref,
)

PlanKind = Literal["up-to-date", "fast-forward", "merge", "create", "conflict", "missing-branch"]
MergeStatus = Literal["up-to-date", "fast-forward", "merged", "created", "skipped"]
TagStatus = Literal["created", "exists", "conflict"]
_STATUS: dict[str, MergeStatus] = {
    "up-to-date": "up-to-date",
    "fast-forward": "fast-forward",
    "create": "created",
    "merge": "merged",
}


@dataclass(frozen=True)
class MergePlan:
    kind: PlanKind
    stable_sha: str | None  # None: stable does not exist yet
    integration_sha: str | None  # None only for "missing-branch"
    conflicts: list[str] = field(default_factory=list)  # paths, for "conflict"
    integration_branch: str = ""
    stable_branch: str = "stable"

    @property
    def detail(self) -> str:
        i, s = self.integration_branch, self.stable_branch
        old, new = short(self.stable_sha), short(self.integration_sha)
        return {
            "up-to-date": f"{s} ({old}) already contains {i}",
            "fast-forward": f"{s} fast-forwards from {old} to {new}",
            "merge": f"{i} ({new}) merges cleanly into {s} ({old})",
            "create": f"{s} does not exist; it will be created at {new}",
            "conflict": f"merging {i} into {s} conflicts in: {', '.join(self.conflicts)}",
            "missing-branch": f"{i} does not exist",
        }[self.kind]


@dataclass(frozen=True)
class MergeResult:
    status: MergeStatus  # "skipped": nothing was changed because the tag is on another commit
    stable_sha: str | None  # stable's SHA afterwards
    tag_status: TagStatus
    detail: str

    @property
    def ok(self) -> bool:
        return self.tag_status != "conflict"


def plan_merge(repo_url: str, integration_branch: str, stable_branch: str) -> MergePlan:
    """What merging ``integration_branch`` into ``stable_branch`` would do. Changes nothing."""
    refs, _ = ls_remote(repo_url, head_ref(integration_branch), head_ref(stable_branch))
    integration, stable = refs.get(head_ref(integration_branch)), refs.get(head_ref(stable_branch))

    def plan(kind: PlanKind, conflicts: list[str] | None = None) -> MergePlan:
        return MergePlan(kind, stable, integration, conflicts or [], integration_branch, stable_branch)

    if integration is None:
        return plan("missing-branch")
    if stable is None:
        return plan("create")
    if stable == integration:
        return plan("up-to-date")
    with scratch(repo_url) as repo:
        repo.fetch(stable, integration)
        base = repo.merge_base(stable, integration)
        if base == integration:
            return plan("up-to-date")
        if base == stable:
            return plan("fast-forward")
        _, conflicts = _merge_tree(repo, stable, integration)
    return plan("conflict", conflicts) if conflicts else plan("merge")


def merge_and_tag(repo_url: str, plan: MergePlan, *, tag: str, message: str) -> MergeResult:
    """Carry out ``plan`` and put the annotated tag ``tag`` (with ``message``) on the new stable commit.

    Idempotent: after a success, planning again gives "up-to-date" and the tag "exists". A tag already on
    another commit is a "conflict" and nothing is pushed.
    """
    integration_branch, stable_branch = plan.integration_branch, plan.stable_branch
    if plan.kind in ("conflict", "missing-branch") or not plan.integration_sha:
        raise GitError(f"{repo_label(repo_url)}: refusing to merge: {plan.detail}")
    stable_ref, tref = head_ref(stable_branch), tag_ref(tag)
    refs, _ = ls_remote(repo_url, stable_ref, tref, f"{tref}^{{}}")
    stable_now, tagged = refs.get(stable_ref), peeled(refs, tref)
    kind = plan.kind
    if stable_now != plan.stable_sha:
        if kind in ("fast-forward", "create") and stable_now == plan.integration_sha:
            kind = "up-to-date"  # a previous attempt got this far
        else:
            raise GitError(
                f"{repo_label(repo_url)}: {stable_branch} moved from {short(plan.stable_sha)} to "
                f"{short(stable_now)} since the merge was planned; plan again"
            )
    target = {
        "up-to-date": stable_now,
        "fast-forward": plan.integration_sha,
        "create": plan.integration_sha,
    }.get(kind)
    if tagged and tagged != target:
        detail = (
            f"tag {tag} already exists on {short(tagged)}, not on the release commit; "
            f"{stable_branch} left at {short(stable_now)}"
        )
        return MergeResult("skipped", stable_now, "conflict", detail)

    with scratch(repo_url) as repo:
        if kind == "merge":
            repo.fetch(plan.stable_sha or "", plan.integration_sha)
            tree, conflicts = _merge_tree(repo, plan.stable_sha or "", plan.integration_sha)
            if conflicts:
                raise GitError(f"{repo.label}: merge now conflicts in: {', '.join(conflicts)}")
            text = f"Merge branch '{integration_branch}' into {stable_branch}"
            args = ["commit-tree", tree, "-p", plan.stable_sha or "", "-p", plan.integration_sha, "-m", text]
            target = repo.git(*args).stdout.strip()
        else:
            repo.fetch(target or "", depth=1)
        status, tag_status = _push(repo, kind, stable_ref, stable_now, target or "", tag, tagged, message)
    if status == "skipped":
        detail = f"tag {tag} appeared on another commit while merging; {stable_branch} left unchanged"
        return MergeResult(status, stable_now, tag_status, detail)
    s, i, at = stable_branch, integration_branch, short(target)
    what = {
        "up-to-date": f"{s} ({at}) already contains {i}",
        "fast-forward": f"{s} fast-forwarded to {i} ({at})",
        "merged": f"{i} merged into {s} ({at})",
        "created": f"{s} created at {i} ({at})",
    }[status]
    tag_text = {"created": "tagged", "exists": "tag already there", "conflict": "tag is on another commit"}
    return MergeResult(status, target, tag_status, f"{what}; {tag} {tag_text[tag_status]}")


def _merge_tree(repo: Scratch, stable: str, integration: str) -> tuple[str, list[str]]:
    """``git merge-tree --write-tree``: (tree, conflicting paths). Blobs are fetched lazily as needed."""
    args = ["merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", stable, integration]
    result = repo.git(*args, check=False)
    if result.returncode not in (0, 1):
        raise GitError(f"{repo.label}: merge-tree failed: {summarize(result.output)}", output=result.output)
    tree, *paths = [p for p in result.stdout.split("\0") if p]
    return tree.strip(), list(dict.fromkeys(paths)) if result.returncode == 1 else []


def _push(
    repo: Scratch,
    kind: str,
    stable_ref: str,
    old: str | None,
    target: str,
    tag: str,
    tagged: str | None,
    message: str,
) -> tuple[MergeStatus, TagStatus]:
    """Move stable to ``target`` and push the tag in one atomic push (all or nothing), then check the remote
    when it was refused: a concurrent run may have done the same work."""
    status = _STATUS[kind]
    tref = tag_ref(tag)
    updates = []
    if kind != "up-to-date":
        updates.append((f"{target}:{stable_ref}", f"{stable_ref}:{old or ''}"))
    if tagged != target:
        repo.git("tag", "--annotate", "--cleanup=whitespace", "--file=-", tag, target, input=message, what="tag")
        updates.append((f"{tref}:{tref}", f"{tref}:"))
    if not updates:
        return status, "exists"
    outcomes = repo.push(*updates, atomic=len(updates) > 1)
    if all(o.ok for o in outcomes.values()):
        tag_outcome = outcomes.get(tref)
        return status, "created" if tag_outcome and not tag_outcome.up_to_date else "exists"
    refs, _ = ls_remote(repo.url, stable_ref, tref, f"{tref}^{{}}")
    stable_now, tag_now = refs.get(stable_ref), peeled(refs, tref)
    if stable_now != target:
        if tag_now and tag_now != target:
            return "skipped", "conflict"  # atomic: stable was left alone
        branch = stable_ref.removeprefix("refs/heads/")
        reasons = [o.summary for o in outcomes.values() if not o.ok and "atomic push failed" not in o.summary]
        reason = reasons[0] if reasons else outcomes[stable_ref].summary if stable_ref in outcomes else "refused"
        raise GitError(f"{repo.label}: push of {branch} rejected: {reason}")
    if tag_now == target:
        return status, "exists"
    if tag_now:
        return status, "conflict"
    retry = repo.push_one(f"{tref}:{tref}", lease=f"{tref}:")  # stable got there (a concurrent run): tag it
    if not retry.ok:
        raise GitError(f"{repo.label}: push of tag {tag} rejected: {retry.summary}")
    return status, "created"
