"""Merging the integration branch into stable and tagging the release, without a worktree.

``plan_merge`` only reads. ``merge_and_tag`` carries a plan out and checks the tag first, so that a tag
already on another commit leaves the remote untouched. Conflicts are reported, never resolved.

What is fetched is the least each case needs (see docs/performance.md for the measurements):

- the relation of the two branches comes from commits only (``--filter=tree:0``): the last
  ``HISTORY_WINDOW`` commits of each, and the whole history only when that window cannot tell (stable
  further behind, or a merge base the window cannot prove to be the true one);
- a fast-forward (or a new stable branch, or stable already containing the branch) needs nothing more: the
  push sends the tag object alone;
- a real merge fetches, in one round trip, the trees of the two tips and of their merge bases (no file
  contents), then ``git merge-tree --write-tree`` fetches the blobs its content merges need in one batch.

Given a ``MergeWorkspace`` (the ``git-merge`` step holds one across its pre-check and its merges), the
scratch repository of the pre-check is kept and the merge reuses it, with the tree ``merge-tree`` wrote.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Literal

from thor_cli.adapters.git_base import (
    GitError,
    Scratch,
    head_ref,
    ls_remote,
    peeled,
    repo_label,
    short,
    summarize,
    tag_ref,
)
from thor_cli.adapters.git_merge_scratch import MergeScratch, MergeWorkspace, merge_workspace, scratch_for

# Commits of each branch fetched first to tell a fast-forward from a merge. Stable is usually 30-60 pull
# requests (first-parent commits) behind; a window that does not reach far enough costs one more fetch.
HISTORY_WINDOW = 64
__all__ = [
    "HISTORY_WINDOW",
    "MergePlan",
    "MergeResult",
    "MergeWorkspace",
    "merge_and_tag",
    "merge_workspace",
    "plan_merge",
]

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
    tree: str | None = None  # the tree merge-tree wrote, for "merge"
    # With plan_merge(tag=...): the tag as the pre-check saw it (tag_sha None: absent), so that the merge
    # does not read the remote again; the atomic push's leases refuse it if either ref moved meanwhile.
    tag: str | None = None
    tag_sha: str | None = None
    # The pre-check's scratch repository, kept in a MergeWorkspace for the merge (not part of the plan's value).
    scratch: MergeScratch | None = field(default=None, compare=False, repr=False)

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


def plan_merge(
    repo_url: str,
    integration_branch: str,
    stable_branch: str,
    *,
    tag: str | None = None,
    workspace: MergeWorkspace | None = None,
) -> MergePlan:
    """What merging ``integration_branch`` into ``stable_branch`` would do. Changes nothing on the remote.

    With ``tag``, the same look reads the tag too and ``merge_and_tag`` of that tag reads nothing more
    before it pushes. With ``workspace``, the scratch repository is kept there for ``merge_and_tag``."""
    wanted = [head_ref(integration_branch), head_ref(stable_branch)]
    if tag is not None:
        wanted += [tag_ref(tag), f"{tag_ref(tag)}^{{}}"]
    refs, _ = ls_remote(repo_url, *wanted)
    integration, stable = refs.get(head_ref(integration_branch)), refs.get(head_ref(stable_branch))
    seen_tag = {"tag": tag, "tag_sha": peeled(refs, tag_ref(tag))} if tag is not None else {}

    def plan(kind: PlanKind, conflicts: list[str] | None = None, **kw: object) -> MergePlan:
        return MergePlan(
            kind, stable, integration, conflicts or [], integration_branch, stable_branch, **seen_tag, **kw
        )  # type: ignore[arg-type]

    if integration is None:
        return plan("missing-branch")
    if stable is None:
        return plan("create")
    if stable == integration:
        return plan("up-to-date")
    with scratch_for(repo_url, workspace) as repo:
        kind, tree, conflicts = _examine(repo, stable, integration)
        kept = repo if workspace is not None and kind != "conflict" else None
        return plan(kind, conflicts, tree=tree, scratch=kept)


def _examine(repo: MergeScratch, stable: str, integration: str) -> tuple[PlanKind, str | None, list[str]]:
    """(kind, tree, conflicts) for two commits, fetching into ``repo`` only what telling them apart needs."""
    repo.fetch_objects(stable, integration, filter="tree:0", depth=HISTORY_WINDOW)
    repo.commits.update((stable, integration))
    kind, bases, trees = _relation(repo, stable, integration)
    if kind is None:  # the window cannot tell: the whole history (commits only) decides
        repo.fetch_objects(stable, integration, filter="tree:0", unshallow=True)
        kind, bases, trees = _relation(repo, stable, integration)
    if kind != "merge":
        return kind or "merge", None, []
    if not trees:
        listed = repo.local("log", "--no-walk=unsorted", "--format=%H %T", stable, integration, *bases, what="log")
        trees = dict(line.split() for line in listed.stdout.splitlines())
    wanted = [trees[commit] for commit in (stable, integration, *bases)]
    repo.fetch_objects(*wanted, filter="blob:none")  # every tree merge-tree reads, at once
    tree, conflicts = _merge_tree(repo, stable, integration)
    # The merge base is known and every commit below the window is below it: the push needs no more
    # history. Without this, git would push from a shallow repository, reading the trees of every commit
    # the remote has a branch on (each a lazy fetch); as a complete one it reads only the merge's parents'.
    (repo.path / "shallow").unlink(missing_ok=True)
    return ("conflict" if conflicts else "merge"), tree, conflicts


def _relation(repo: MergeScratch, stable: str, integration: str) -> tuple[PlanKind | None, list[str], dict[str, str]]:
    """(up-to-date, fast-forward or merge, the merge bases, and the trees of the tips and bases when they were
    read on the way) from the commits fetched; None when a shallow window cannot tell.

    An ancestry found in a shallow window is real (every parent link in it is). A merge base found there
    is the true one when it is the only one and every commit where the window stops is one of its
    ancestors: then every commit left out is an ancestor of it too, so none can be a better common
    ancestor, nor make it redundant. Otherwise the whole history decides."""
    result = repo.local("merge-base", "--all", stable, integration, check=False)
    if result.returncode not in (0, 1):
        raise GitError(f"{repo.label}: merge-base failed: {summarize(result.output)}", output=result.output)
    bases = result.stdout.split()
    if bases == [integration]:
        return "up-to-date", bases, {}
    if bases == [stable]:
        return "fast-forward", bases, {}
    if not repo.shallow:
        return "merge", bases, {}
    if len(bases) == 1:
        # One read of the window's commits (tree and parents each) gives both the proof and the trees.
        listed = repo.local("log", "--format=%H %T %P", stable, integration, what="log")
        window = {sha: rest for sha, *rest in (line.split() for line in listed.stdout.splitlines())}
        edge = set((repo.path / "shallow").read_text().split())
        if edge <= _ancestors(window, bases[0]):
            return "merge", bases, {sha: window[sha][0] for sha in (stable, integration, *bases)}
    return None, bases, {}


def _ancestors(window: dict[str, list[str]], start: str) -> set[str]:
    """``start`` and every commit of ``window`` ({sha: [tree, *parents]}) it reaches through parents."""
    seen, todo = {start}, [start]
    while todo:
        for parent in window.get(todo.pop(), [])[1:]:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def merge_and_tag(
    repo_url: str,
    plan: MergePlan,
    *,
    tag: str,
    message: str,
    workspace: MergeWorkspace | None = None,
) -> MergeResult:
    """Carry out ``plan`` and put the annotated tag ``tag`` (with ``message``) on the new stable commit.

    Idempotent: after a success, planning again gives "up-to-date" and the tag "exists". A tag already on
    another commit is a "conflict" and nothing is pushed. The plan's scratch repository is reused when it
    was kept in ``workspace``; otherwise a new one fetches what this case needs.
    """
    integration_branch, stable_branch = plan.integration_branch, plan.stable_branch
    if plan.kind in ("conflict", "missing-branch") or not plan.integration_sha:
        raise GitError(f"{repo_label(repo_url)}: refusing to merge: {plan.detail}")
    stable_ref, tref, iref = head_ref(stable_branch), tag_ref(tag), head_ref(integration_branch)
    if plan.tag == tag:
        # The plan's look is the last one (the step holds its lease from the pre-check to here): a ref that
        # moved since makes the atomic push's leases refuse it, and _push reads the remote then.
        refs = {stable_ref: plan.stable_sha} if plan.stable_sha else {}
        stable_now, tagged = plan.stable_sha, plan.tag_sha
    else:
        refs, _ = ls_remote(repo_url, stable_ref, tref, f"{tref}^{{}}", iref)
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
    if kind == "up-to-date" and tagged == target:
        return _result("up-to-date", target, "exists", stable_branch, integration_branch, tag)

    kept = plan.scratch if plan.scratch is not None and plan.scratch.path.exists() else None
    with scratch_for(repo_url, None) if kept is None else nullcontext(kept) as repo:
        if kind == "merge":
            tree = plan.tree if kept is not None else None
            if tree is None:
                _, tree, conflicts = _examine(repo, plan.stable_sha or "", plan.integration_sha)
                if conflicts or tree is None:
                    raise GitError(f"{repo.label}: merge now conflicts in: {', '.join(conflicts)}")
            text = f"Merge branch '{integration_branch}' into {stable_branch}"
            args = ["commit-tree", tree, "-p", plan.stable_sha or "", "-p", plan.integration_sha, "-m", text]
            target = repo.local(*args).stdout.strip()
        else:
            # The commit the tag points at, and stable's: without it, git push would fetch stable's whole
            # history lazily to see whether the update is a fast-forward.
            wanted = [c for c in (target, stable_now) if c and c not in repo.commits]
            if wanted:
                repo.fetch_objects(*wanted, filter="tree:0", depth=1)
                repo.commits.update(wanted)
        moved = refs.get(iref)
        if moved and moved != plan.integration_sha and moved not in repo.commits:
            # A pull request landed on the integration branch since the plan: without its tip the push
            # could not see that the remote has the planned commit, and would send its whole tree.
            repo.fetch_objects(moved, filter="tree:0", depth=HISTORY_WINDOW if repo.shallow else None)
            repo.commits.add(moved)
        status, tag_status = _push(repo, kind, stable_ref, stable_now, target or "", tag, tagged, message)
    if status == "skipped":
        detail = f"tag {tag} appeared on another commit while merging; {stable_branch} left unchanged"
        return MergeResult(status, stable_now, tag_status, detail)
    return _result(status, target, tag_status, stable_branch, integration_branch, tag)


def _result(
    status: MergeStatus, target: str | None, tag_status: TagStatus, stable: str, integration: str, tag: str
) -> MergeResult:
    at = short(target)
    what = {
        "up-to-date": f"{stable} ({at}) already contains {integration}",
        "fast-forward": f"{stable} fast-forwarded to {integration} ({at})",
        "merged": f"{integration} merged into {stable} ({at})",
        "created": f"{stable} created at {integration} ({at})",
    }[status]
    tag_text = {"created": "tagged", "exists": "tag already there", "conflict": "tag is on another commit"}
    return MergeResult(status, target, tag_status, f"{what}; {tag} {tag_text[tag_status]}")


def _merge_tree(repo: Scratch, stable: str, integration: str) -> tuple[str, list[str]]:
    """``git merge-tree --write-tree``: (tree, conflicting paths). The trees are there; the blobs its content
    merges need it fetches itself, in one batch (merge-ort prefetches them from the promisor remote)."""
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
        repo.local("tag", "--annotate", "--cleanup=whitespace", "--file=-", tag, target, input=message, what="tag")
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
        if stable_now != old:  # the lease refused it: someone pushed to stable after the plan's look
            raise GitError(
                f"{repo.label}: {branch} moved from {short(old)} to {short(stable_now)} since the merge was "
                "planned; plan again"
            )
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
