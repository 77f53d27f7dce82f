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
        if repo.is_ancestor(integration, stable):
            return plan("up-to-date")
        if repo.is_ancestor(stable, integration):
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
                raise GitError(f"{repo_label(repo_url)}: merge now conflicts in: {', '.join(conflicts)}")
            text = f"Merge branch '{integration_branch}' into {stable_branch}"
            args = ["commit-tree", tree, "-p", plan.stable_sha or "", "-p", plan.integration_sha, "-m", text]
            target = repo.git(*args).stdout.strip()
        else:
            repo.fetch(target or "", depth=1)
        status = _push_stable(repo, kind, stable_ref, stable_now, target or "")
        if tagged == target:
            tag_status: TagStatus = "exists"
        else:
            tag_status = _push_tag(repo, tag, target or "", message)
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


def _push_stable(repo: Scratch, kind: str, stable_ref: str, old: str | None, target: str) -> MergeStatus:
    if kind == "up-to-date":
        return "up-to-date"
    pushed = repo.push(f"{target}:{stable_ref}", lease=f"{stable_ref}:{old or ''}")
    if pushed.ok and pushed.up_to_date:
        return "up-to-date"
    if not pushed.ok:
        now = ls_remote(repo.url, stable_ref)[0].get(stable_ref)
        if now != target:
            branch = stable_ref.removeprefix("refs/heads/")
            raise GitError(f"{repo.label}: push of {branch} rejected: {pushed.summary}")
    return {"fast-forward": "fast-forward", "create": "created"}.get(kind, "merged")  # type: ignore[return-value]


def _push_tag(repo: Scratch, tag: str, target: str, message: str) -> TagStatus:
    ref = tag_ref(tag)
    repo.git("tag", "--annotate", "--cleanup=whitespace", "--file=-", tag, target, input=message, what="tag")
    pushed = repo.push(f"{ref}:{ref}", lease=f"{ref}:")
    if pushed.ok:
        return "exists" if pushed.up_to_date else "created"
    refs, _ = ls_remote(repo.url, ref, f"{ref}^{{}}")
    now = peeled(refs, ref)
    if now == target:
        return "exists"
    if now:
        return "conflict"
    raise GitError(f"{repo.label}: push of tag {tag} rejected: {pushed.summary}")
