"""``git-merge`` (built-in ``merge-stable``): merge the integration branch into stable and tag the release.

First a read-only pre-check of every repository still to do (a merge without a worktree, in parallel): if any
repository would conflict, lacks the integration branch or cannot be checked, the step fails listing them
and no repository is changed. Thor never resolves a conflict by picking a side. Then, per repository: a
fast-forward when possible, else a merge commit; a missing stable branch is created; the annotated tag
``{version}`` goes on the result. Stable already containing the branch and the tag already on the right
commit are success; a tag on another commit fails that repository and leaves its remote untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from thor_cli.repos import Repo
from thor_cli.steps.base import RepoRecord, StepContext, StepResult, StepType
from thor_cli.steps.repo_fanout import (
    NO_REPOS,
    RepoOutcome,
    error_reason,
    failure_summary,
    failures,
    plural,
    release_repos,
    report_lines,
    run_over_repos,
    summarise,
    to_retry,
)

if TYPE_CHECKING:
    from thor_cli.adapters.git import MergePlan
    from thor_cli.adapters.git_merge import MergeWorkspace

_BLOCKING = ("conflict", "missing-branch")
_MERGED = {
    "fast-forward": "fast-forwarded",
    "merged": "merged with a merge commit",
    "created": "stable created",
    "up-to-date": "already merged",
}


class MergeStableOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tag_message: str = "Gen3 Core Release {version}"  # a template: the annotated tag's message


def stable_branch(repo: Repo, ctx: StepContext) -> str:
    return repo.stable_branch or ctx.release.stable_branch


class MergeStableStep(StepType):
    type_name = "git-merge"
    summary = "merge the integration branch into stable and tag the release"
    Options = MergeStableOptions

    def describe(self, ctx: StepContext) -> str:
        release = ctx.release
        return (
            f"check that {release.integration_branch} merges into {release.stable_branch} without conflict "
            f"in every repository of [repos], then merge it and tag {release.version}"
        )

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, MergeStableOptions)
        render_check(options.tag_message)

    def run(self, ctx: StepContext) -> StepResult:
        repos = release_repos(ctx)
        if not repos:
            return StepResult.fail(NO_REPOS)
        from thor_cli.adapters.git_merge import merge_workspace

        # The pre-check's scratch repositories wait in the workspace for the merges, which reuse what they
        # fetched (and the tree merge-tree wrote); all of it is removed when the step ends.
        with merge_workspace() as workspace:
            return self._run(ctx, repos, workspace)

    def _run(self, ctx: StepContext, repos: list[Repo], workspace: MergeWorkspace) -> StepResult:
        release = ctx.release
        todo, earlier = to_retry(repos, ctx.repo_results(), force=ctx.force)

        tag = release.version
        checks = run_over_repos(
            ctx, todo, lambda r: _check(ctx, r, workspace, tag), description="checking merges", record=False
        )
        blocked = failures(checks)
        if blocked:
            for name, outcome in checks.items():
                if outcome.ok:
                    waiting = f"not merged: the pre-check failed elsewhere ({outcome.detail})"
                    ctx.record_repo(RepoRecord(name, "pending", None, waiting, dict(outcome.data)))
                else:
                    ctx.record_repo(outcome.record(name))
            summary = failure_summary(blocked, len(repos), "cannot be merged")
            return StepResult.fail(
                f"{summary}; no repository was changed",
                output=report_lines(checks, (r.name for r in earlier)),
            )

        message = release.render(ctx.options.tag_message)
        # Real merges first: each costs several fast-forwards (trees, blobs, merge-tree, new objects to
        # push), and started last they would be the tail the other workers wait for.
        started = run_over_repos(
            ctx,
            sorted(todo, key=lambda r: checks[r.name].extra.kind != "merge"),
            lambda r: _merge(ctx, r, checks[r.name].extra, workspace, tag=tag, message=message),
            description=f"merging and tagging {tag}",
        )
        outcomes = {r.name: started[r.name] for r in todo}  # reported in the configured order

        def headline(total: int, counts: str) -> str:
            return f"{plural(total, 'repo')} merged and tagged {tag}: {counts}"

        return summarise(outcomes, earlier, len(repos), headline, _MERGED)


def _check(ctx: StepContext, repo: Repo, workspace: MergeWorkspace, tag: str) -> RepoOutcome:
    """The read-only pre-check: a plan (with the tag as it finds it), or why this repository cannot be merged."""
    from thor_cli.adapters.git import plan_merge

    stable = stable_branch(repo, ctx)
    plan = plan_merge(repo.url, ctx.release.integration_branch, stable, tag=tag, workspace=workspace)
    data = {"stable_branch": stable, "plan": plan.kind}
    if plan.kind in _BLOCKING:
        return RepoOutcome.failure(plan.detail, kind=plan.kind, sha=plan.stable_sha, data=data, extra=plan)
    return RepoOutcome.success(plan.kind, plan.detail, sha=plan.stable_sha, data=data, extra=plan)


def _merge(
    ctx: StepContext, repo: Repo, plan: MergePlan, workspace: MergeWorkspace, *, tag: str, message: str
) -> RepoOutcome:
    from thor_cli.adapters.git import GitError, merge_and_tag

    data = {"stable_branch": plan.stable_branch, "tag": tag}
    try:
        result = merge_and_tag(repo.url, plan, tag=tag, message=message, workspace=workspace)
    except GitError as exc:
        return RepoOutcome.failure(error_reason(exc, repo), kind="error", data=data)
    finally:
        workspace.discard(plan.scratch)  # here, in this repository's thread, not all at once at the end
    data |= {"merge": result.status, "tag_status": result.tag_status}
    if not result.ok:
        ctx.log(f"{repo.name}: {result.detail}")
        return RepoOutcome.failure(result.detail, kind="tag conflict", sha=result.stable_sha, data=data)
    return RepoOutcome.success(result.status, result.detail, sha=result.stable_sha, data=data)
