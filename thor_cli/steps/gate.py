"""``gate``: a manual approval. It waits until someone runs ``thor approve VERSION STEP``."""

from __future__ import annotations

from datetime import timedelta

from thor_cli.steps.base import StepContext, StepResult, StepType


class GateStep(StepType):
    type_name = "gate"
    summary = "wait for a person's approval"
    default_max_attempts = 1
    # A person may take days to approve; the step timeout still bounds it if configured.
    default_timeout = timedelta(days=60)

    def describe(self, ctx: StepContext) -> str:
        return f"wait for `thor approve {ctx.release.version} {ctx.step_name}`"

    def run(self, ctx: StepContext) -> StepResult:
        approval = ctx.state.get("approved_by")
        if approval:
            return StepResult.ok(f"approved by {approval}")
        return StepResult.wait(f"waiting for `thor approve {ctx.release.version} {ctx.step_name}`")
