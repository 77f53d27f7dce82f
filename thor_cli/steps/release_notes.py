"""``release-notes``: not implemented yet."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thor_cli.steps.base import StepContext, StepResult, StepType


class _Options(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ReleaseNotesStep(StepType):
    type_name = "release-notes"
    Options = _Options

    def run(self, ctx: StepContext) -> StepResult:
        return StepResult.fail("step type 'release-notes' is not implemented yet")
