"""``git-branch`` (built-in ``split-branch``): cut the release's integration branch in every repository.

Per repository, and idempotent: the branch is created at the tip of the source branch (a repository's
override, else ``[repos] source_branch``, else the remote's default branch); a branch already at that commit
is success; a branch elsewhere is a conflict left untouched unless forced (``thor step ... --force`` or
``force = true``). The commit each repository is cut at is recorded on the first attempt, even when that
attempt fails, so a re-run cuts the failed repositories at the commit the others were cut at. A re-run
skips the repositories that succeeded, unless forced.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thor_cli.repos import Repo
from thor_cli.steps.base import RepoRecord, StepContext, StepResult, StepType
from thor_cli.steps.repo_fanout import RepoOutcome, error_reason, plural, run_repo_step, short

_KINDS = {"created": "created", "exists": "already there", "advanced": "already cut and moved on", "moved": "moved"}


class SplitBranchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    force: bool = False  # move an integration branch found elsewhere (as `thor step ... --force` does)


class SplitBranchStep(StepType):
    type_name = "git-branch"
    summary = "cut the integration branch in every repository"
    Options = SplitBranchOptions

    def describe(self, ctx: StepContext) -> str:
        branch = ctx.release.integration_branch
        return (
            f"cut {branch} in every repository of [repos] at the tip of its source branch "
            f"(an existing {branch} elsewhere is left alone unless forced)"
        )

    def run(self, ctx: StepContext) -> StepResult:
        force = ctx.force or ctx.options.force
        branch = ctx.release.integration_branch
        recorded = ctx.repo_results()
        return run_repo_step(
            ctx,
            lambda repo: _cut(ctx, repo, branch, recorded.get(repo.name), force=force),
            description=f"cutting {branch}",
            headline=lambda total, counts: f"{plural(total, 'repo')}: {counts}",
            force=force,
            recorded=recorded,
        )


def source_tip(repo: Repo) -> tuple[str, str]:
    """(source branch, its tip): the configured branch, else the remote's default branch, in one look."""
    from thor_cli.adapters.git import GitError, ls_remote, remote_heads, repo_label

    if repo.source_branch:
        sha = remote_heads(repo.url, repo.source_branch).get(repo.source_branch)
        if not sha:
            raise GitError(f"{repo_label(repo.url)}: source branch {repo.source_branch} does not exist")
        return repo.source_branch, sha
    refs, symrefs = ls_remote(repo.url, "HEAD", symref=True)
    target = symrefs.get("HEAD", "")
    if not target.startswith("refs/heads/") or not refs.get("HEAD"):
        raise GitError(f"{repo_label(repo.url)}: cannot tell the default branch (the remote HEAD points nowhere)")
    return target.removeprefix("refs/heads/"), refs["HEAD"]


def _cut(ctx: StepContext, repo: Repo, branch: str, previous: RepoRecord | None, *, force: bool) -> RepoOutcome:
    from thor_cli.adapters.git import GitError, cut_branch
    from thor_cli.adapters.git_base import is_sha

    before = previous.data if previous else {}
    pinned = before.get("cut_sha")
    if isinstance(pinned, str) and is_sha(pinned):
        source, sha = str(before.get("source_branch") or repo.source_branch or ""), pinned
    else:
        source, sha = source_tip(repo)
    data = {"source_branch": source, "cut_sha": sha}
    try:
        # Always by commit: the one seen on the first attempt, so every repository is cut at the same moment.
        result = cut_branch(repo.url, branch, source or None, force=force, expected_sha=sha)
    except GitError as exc:
        return RepoOutcome.failure(error_reason(exc, repo), kind="error", data=data)
    if result.status == "conflict":
        reason = f"conflict ({branch} is at {short(result.previous_sha)}, source at {short(sha)})"
        return RepoOutcome.failure(reason, kind="conflict", data=data)
    where = f"{short(sha)} ({source})" if source else short(sha)
    if result.status == "moved":
        detail = f"{branch} moved from {short(result.previous_sha)} to {where}"
        ctx.log(f"{repo.name}: {detail} (forced)")
    elif result.status == "exists":
        detail = f"{branch} already at {where}"
    elif result.status == "advanced":
        detail = f"{branch} cut at {where}, since moved on to {short(result.previous_sha)}"
    else:
        detail = f"{branch} created at {where}"
    return RepoOutcome.success(_KINDS[result.status], detail, sha=result.sha, data=data)
