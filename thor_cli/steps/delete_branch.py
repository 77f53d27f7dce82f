"""``delete-branch``: not implemented yet."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thor_cli.steps.base import StepContext, StepResult, StepType


class _Options(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class DeleteBranchStep(StepType):
    type_name = "delete-branch"
    Options = _Options

    def run(self, ctx: StepContext) -> StepResult:
        return StepResult.fail("step type 'delete-branch' is not implemented yet")
