"""``git-branch``: not implemented yet."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thor_cli.steps.base import StepContext, StepResult, StepType


class _Options(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class SplitBranchStep(StepType):
    type_name = "git-branch"
    Options = _Options

    def run(self, ctx: StepContext) -> StepResult:
        return StepResult.fail("step type 'git-branch' is not implemented yet")
