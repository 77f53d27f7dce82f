"""Cherry-picking commits onto a stable branch and tagging the result, without a clone or a worktree.

``cherry_pick`` works in a scratch bare repository: it fetches the stable branch and the commits
(``--filter=blob:none``; blobs come lazily as ``merge-tree`` needs them), decides for each commit whether it
is already on stable (an ancestor, a commit carrying its ``(cherry picked from commit …)`` trailer, or one
with the same patch-id) and otherwise replays it with ``git merge-tree --write-tree --merge-base=C^ TIP C``
and ``git commit-tree`` (the original author and date kept, the trailer added). Unless it is a dry run it
then pushes the new commits and a new annotated tag in one atomic push with leases: stable must still be
where it was read and the tag must not exist, so a concurrent run or a tag made meanwhile changes nothing.

Merge commits (a pull request merged with "Merge pull request #N") are replayed against their first parent,
like ``git cherry-pick -m 1``. ``merge-tree --merge-base`` needs git 2.40; on 2.38/2.39 the same three-way
merge is made with two throw-away commits whose only common ancestor carries the base's tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from thor_cli.adapters import proc
from thor_cli.adapters.git_base import (
    GIT_TIMEOUT,
    GitError,
    Scratch,
    git_env,
    head_ref,
    is_sha,
    ls_remote,
    repo_label,
    scratch,
    short,
    summarize,
    tag_ref,
)
from thor_cli.errors import CommandError

PickKind = Literal["pick", "present"]
PATCH_ID_SCAN = 500  # stable commits compared by patch-id (those stable has that the picked commit lacks)
_TRAILER = re.compile(r"^\(cherry picked from commit ([0-9a-f]{40})\)$", re.MULTILINE)
_ABBREVIATED = re.compile(r"^[0-9a-f]{7,39}$")
_MERGE_BASE_OPTION = True  # ``merge-tree --merge-base`` exists (git >= 2.40); cleared at the first refusal


@dataclass(frozen=True)
class Pick:
    sha: str  # the commit asked for (full SHA)
    subject: str
    body: str
    kind: PickKind  # "pick": replayed as ``new_sha``; "present": already on stable
    new_sha: str | None = None
    reason: str = ""  # for "present": how it was recognised
    found_as: str | None = None  # for "present" through the trailer: the commit on stable that carries it

    @property
    def line(self) -> str:
        if self.kind == "present":
            return f"{short(self.sha)} {self.subject}: already on stable ({self.reason})"
        return f"{short(self.sha)} {self.subject}: cherry-picked as {short(self.new_sha)}"


@dataclass(frozen=True)
class CherryPlan:
    stable_branch: str
    stable_sha: str
    picks: list[Pick]
    tip: str  # stable after the picks (== stable_sha when nothing is to be picked)
    tags: dict[str, str] = field(default_factory=dict)  # every tag of the remote -> peeled commit

    @property
    def to_pick(self) -> list[Pick]:
        return [p for p in self.picks if p.kind == "pick"]

    @property
    def nothing_to_do(self) -> bool:
        return not self.to_pick


@dataclass(frozen=True)
class CherryResult:
    plan: CherryPlan
    tag: str | None = None  # the tag created (None: dry run, or nothing to do)
    pushed: bool = False


class CherryConflict(GitError):
    """A commit does not apply onto stable; nothing was changed."""

    def __init__(self, message: str, *, commit: str, paths: list[str]) -> None:
        super().__init__(message)
        self.commit = commit
        self.paths = paths


TagChooser = Callable[[CherryPlan], tuple[str, str]]  # the plan -> (tag name, tag message)


def cherry_pick(
    repo_url: str,
    stable_branch: str,
    commits: Sequence[str],
    *,
    resolve_from: Sequence[str] = (),
    tag: TagChooser | None = None,
) -> CherryResult:
    """Cherry-pick ``commits`` (in order) onto ``stable_branch``; with ``tag`` (which names the new tag from
    the plan), push stable and that annotated tag atomically. Without it (``--dry-run``) nothing is pushed.

    Abbreviated SHAs are looked up among the branches ``resolve_from`` (e.g. the integration branch and the
    default branch); full SHAs are fetched directly. A conflict raises ``CherryConflict`` naming the paths.
    Stable must still be where it was read and the tag must not exist when pushing: otherwise nothing changes
    and a ``GitError`` says what moved (running the hotfix again plans from the new state).
    """
    stable_ref = head_ref(stable_branch)
    refs, _ = ls_remote(repo_url)
    stable = refs.get(stable_ref)
    if stable is None:
        raise GitError(f"{repo_label(repo_url)}: branch {stable_branch} does not exist")
    tags = {
        name.removeprefix("refs/tags/"): refs.get(f"{name}^{{}}") or sha
        for name, sha in refs.items()
        if name.startswith("refs/tags/") and not name.endswith("^{}")
    }
    with scratch(repo_url) as repo:
        repo.fetch(stable, *(c for c in commits if is_sha(c)))
        wanted = [_resolve(repo, c, refs, resolve_from) for c in commits]
        tip = stable
        picks: list[Pick] = []
        for sha in dict.fromkeys(wanted):  # the same commit twice is picked once
            picks.append(_one(repo, sha, tip, stable))
            tip = picks[-1].new_sha or tip
        plan = CherryPlan(stable_branch, stable, picks, tip, tags)
        if tag is None or plan.nothing_to_do:
            return CherryResult(plan)
        name, message = tag(plan)
        tref = tag_ref(name)
        if tref in refs:
            raise GitError(f"{repo.label}: tag {name} already exists; it is never moved")
        repo.git("tag", "--annotate", "--cleanup=whitespace", "--file=-", name, tip, input=message, what="tag")
        updates = ((f"{tip}:{stable_ref}", f"{stable_ref}:{stable}"), (f"{tref}:{tref}", f"{tref}:"))
        outcomes = repo.push(*updates, atomic=True)
    if all(o.ok for o in outcomes.values()):
        return CherryResult(plan, tag=name, pushed=True)
    now, _ = ls_remote(repo_url, stable_ref, tref)
    label = repo_label(repo_url)
    if now.get(tref):
        raise GitError(f"{label}: tag {name} appeared meanwhile; nothing was changed, run the hotfix again")
    if now.get(stable_ref) != stable:
        raise GitError(
            f"{label}: {stable_branch} moved from {short(stable)} to {short(now.get(stable_ref))} meanwhile; "
            "nothing was changed, run the hotfix again"
        )
    reasons = [o.summary for o in outcomes.values() if not o.ok and "atomic push failed" not in o.summary]
    raise GitError(f"{label}: push rejected: {reasons[0] if reasons else 'refused'}")


# -- one commit --------------------------------------------------------------------------------------


def _one(repo: Scratch, sha: str, tip: str, stable: str) -> Pick:
    subject, body = _message(repo, sha)
    present = _already_there(repo, sha, stable)
    if present:
        found_as = present.removeprefix("cherry-picked as ") if present.startswith("cherry-picked as ") else None
        reason = f"cherry-picked as {short(found_as)}" if found_as else present
        return Pick(sha, subject, body, "present", reason=reason, found_as=found_as)
    tree, conflicts = _merge_tree(repo, sha, tip)
    if conflicts:
        raise CherryConflict(
            f"{repo.label}: {short(sha)} ({subject}) conflicts with stable in: {', '.join(conflicts)}; "
            "nothing was changed",
            commit=sha,
            paths=conflicts,
        )
    if tree == _tree(repo, tip):  # applies to nothing: its change is already on stable in another form
        return Pick(sha, subject, body, "present", reason="its changes are already there")
    return Pick(sha, subject, body, "pick", new_sha=_commit(repo, sha, tree, tip))


def _already_there(repo: Scratch, sha: str, stable: str) -> str | None:
    """How ``sha`` is already on stable: an ancestor, the cherry-pick trailer, or the same patch-id."""
    if repo.git("merge-base", "--is-ancestor", sha, stable, check=False).returncode == 0:
        return "it is in its history"
    # Only the commits stable has and the picked commit's base lacks can hold an earlier cherry-pick.
    base = _first_parent(repo, sha)
    scope = [stable, f"^{base}"] if base else [stable]
    log = repo.git("log", "--format=%x1e%H%x1f%P%x1f%B", f"-n{PATCH_ID_SCAN}", *scope, "--", what="log").stdout
    candidates = []
    for record in log.split("\x1e"):
        if not record.strip():
            continue
        candidate, parents, text = [*record.split("\x1f", 2), "", ""][:3]
        if sha in _TRAILER.findall(text):
            return f"cherry-picked as {candidate.strip()}"
        if len(parents.split()) == 1:  # a merge (the release merged into stable) is never a cherry-pick
            candidates.append(candidate.strip())
    wanted = _patch_id(repo, sha)
    if wanted:
        for candidate in candidates:
            if _patch_id(repo, candidate) == wanted:
                return f"same change as {short(candidate)}"
    return None


def _patch_id(repo: Scratch, sha: str) -> str | None:
    """``git patch-id --stable`` of the commit's change against its first parent (blobs fetched lazily)."""
    parent = _first_parent(repo, sha)
    if parent is None:
        return None
    diff = repo.git("diff-tree", "-p", "--no-color", "--full-index", parent, sha, what="diff-tree").stdout
    if not diff.strip():
        return None
    out = repo.git("patch-id", "--stable", input=diff, what="patch-id").stdout.split()
    return out[0] if out else None


def _merge_tree(repo: Scratch, sha: str, tip: str) -> tuple[str, list[str]]:
    """The three-way merge of ``sha``'s change onto ``tip`` (base: ``sha``'s first parent): (tree, conflicts)."""
    global _MERGE_BASE_OPTION
    base = _first_parent(repo, sha)
    if base is None:
        raise GitError(f"{repo.label}: {short(sha)} is a root commit; it cannot be cherry-picked")
    args = ["merge-tree", "--write-tree", "-z", "--name-only", "--no-messages"]
    if _MERGE_BASE_OPTION:
        result = repo.git(*args, f"--merge-base={base}", tip, sha, check=False)
        if result.returncode not in (0, 1) and "merge-base" in result.stderr:
            _MERGE_BASE_OPTION = False  # git 2.38/2.39: no --merge-base yet
    if not _MERGE_BASE_OPTION:
        # The same merge without the option: two throw-away commits with the trees of ``tip`` and ``sha`` whose
        # only common ancestor is a root commit with the base's tree. They stay in the scratch repository.
        root = _commit_tree(repo, f"{base}^{{tree}}", [])
        ours = _commit_tree(repo, f"{tip}^{{tree}}", [root])
        theirs = _commit_tree(repo, f"{sha}^{{tree}}", [root])
        result = repo.git(*args, ours, theirs, check=False)
    if result.returncode not in (0, 1):
        raise GitError(f"{repo.label}: merge-tree failed: {summarize(result.output)}", output=result.output)
    tree, *paths = [p for p in result.stdout.split("\0") if p]
    return tree.strip(), list(dict.fromkeys(paths)) if result.returncode == 1 else []


def _commit_tree(repo: Scratch, tree: str, parents: list[str]) -> str:
    args = ["commit-tree", tree, *(a for p in parents for a in ("-p", p)), "-m", "thor: merge base"]
    return repo.git(*args, what="commit-tree").stdout.strip()


def _commit(repo: Scratch, sha: str, tree: str, parent: str) -> str:
    """``commit-tree`` with the original author and author date, and the cherry-pick trailer."""
    fields = repo.git("log", "-1", "--format=%an%x00%ae%x00%ad%x00%B", "--date=raw", sha, what="log").stdout
    name, email, date, text = fields.split("\0", 3)
    text = text.rstrip("\n")
    trailer = f"(cherry picked from commit {sha})"
    message = text if trailer in text else f"{text}\n\n{trailer}"
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
    return _git_with_env(repo, ["commit-tree", tree, "-p", parent, "-F", "-"], env, input=message).strip()


def _git_with_env(repo: Scratch, args: list[str], extra: Mapping[str, str], *, input: str) -> str:
    """``Scratch.git`` with extra environment (the author), which ``commit-tree`` only takes from there."""
    argv = ["git", "--git-dir", str(repo.path), "-c", f"remote.origin.url={repo.url}", "-c", "commit.gpgSign=false"]
    try:
        return proc.run([*argv, *args], env={**git_env(repo.url), **extra}, timeout=GIT_TIMEOUT, input=input).stdout
    except CommandError as exc:
        raise GitError(f"{repo.label}: {args[0]} failed: {summarize(exc.output)}", output=exc.output) from None


# -- small reads --------------------------------------------------------------------------------------


def _resolve(repo: Scratch, commit: str, refs: dict[str, str], branches: Sequence[str]) -> str:
    text = commit.strip().lower()
    if not (is_sha(text) or _ABBREVIATED.match(text)):
        raise GitError(f"{repo.label}: {commit!r} is not a commit SHA")
    found = repo.has_commit(text)
    if found is None and not is_sha(text):
        heads = [refs[head_ref(b)] for b in branches if head_ref(b) in refs] + (
            [refs["HEAD"]] if "HEAD" in refs else []
        )
        if heads:
            repo.fetch(*heads)
            found = repo.has_commit(text)
    if found is None:
        raise GitError(f"{repo.label}: commit {commit} was not found (give its full SHA)")
    return found


def _first_parent(repo: Scratch, sha: str) -> str | None:
    return repo.has_commit(f"{sha}^1")


def _message(repo: Scratch, sha: str) -> tuple[str, str]:
    subject, _, body = repo.git("log", "-1", "--format=%s%x00%b", sha, what="log").stdout.partition("\0")
    return subject.strip(), body.strip()


def _tree(repo: Scratch, sha: str) -> str:
    return repo.git("rev-parse", f"{sha}^{{tree}}", what="rev-parse").stdout.strip()
