"""``delete-branch``: delete a branch (by default the release's integration branch) in every repository.

Not in the built-in pipeline. Per repository and idempotent: a branch already absent is success. Deleting
the integration branch is guarded by the commit the ``git-branch`` step recorded for that repository: a
branch that moved since it was cut is left alone (that repository fails). Other branches are guarded by
the commit seen just before deleting.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from thor_cli.repos import Repo
from thor_cli.steps.base import StepContext, StepResult, StepType
from thor_cli.steps.repo_fanout import RepoOutcome, cut_records, plural, recorded_cut, run_repo_step

_KINDS = {"deleted": "deleted", "absent": "already absent"}


class DeleteBranchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    branch: str = Field(default="{integration_branch}", min_length=1)  # a template


class DeleteBranchStep(StepType):
    type_name = "delete-branch"
    summary = "delete a branch in every repository"
    Options = DeleteBranchOptions

    def describe(self, ctx: StepContext) -> str:
        return f"delete {ctx.release.render(ctx.options.branch)} in every repository of [repos] where it exists"

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, DeleteBranchOptions)
        render_check(options.branch)

    def run(self, ctx: StepContext) -> StepResult:
        branch = ctx.release.render(ctx.options.branch)
        guards = cut_records(ctx) if branch == ctx.release.integration_branch else {}
        return run_repo_step(
            ctx,
            lambda r: _delete(r, branch, recorded_cut(guards.get(r.name))),
            description=f"deleting {branch}",
            headline=lambda total, counts: f"{branch} in {plural(total, 'repo')}: {counts}",
            force=ctx.force,
        )


def _delete(repo: Repo, branch: str, expected: str | None) -> RepoOutcome:
    from thor_cli.adapters.git import delete_branch

    status = delete_branch(repo.url, branch, expected_sha=expected)
    detail = f"{branch} deleted" if status == "deleted" else f"{branch} was already absent"
    return RepoOutcome.success(_KINDS[status], detail, data={"branch": branch, "expected_sha": expected})
