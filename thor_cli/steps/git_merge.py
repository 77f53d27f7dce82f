"""``git-merge``: not implemented yet."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thor_cli.steps.base import StepContext, StepResult, StepType


class _Options(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class MergeStableStep(StepType):
    type_name = "git-merge"
    Options = _Options

    def run(self, ctx: StepContext) -> StepResult:
        return StepResult.fail("step type 'git-merge' is not implemented yet")
