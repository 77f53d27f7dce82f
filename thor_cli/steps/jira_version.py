"""``jira-version`` / ``jira-release``: not implemented yet."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thor_cli.steps.base import StepContext, StepResult, StepType


class _Options(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class CreateVersionStep(StepType):
    type_name = "jira-version"
    Options = _Options

    def run(self, ctx: StepContext) -> StepResult:
        return StepResult.fail("step type 'jira-version' is not implemented yet")


class MarkReleasedStep(StepType):
    type_name = "jira-release"
    Options = _Options

    def run(self, ctx: StepContext) -> StepResult:
        return StepResult.fail("step type 'jira-release' is not implemented yet")
