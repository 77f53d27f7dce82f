"""``command``: run an external program, such as a gen3-release-utils script or the gen3release CLI."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from thor_cli.adapters import proc
from thor_cli.errors import CommandError
from thor_cli.steps.base import StepContext, StepResult, StepType


class CommandOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


class CommandStep(StepType):
    type_name = "command"
    summary = "run a program"
    Options = CommandOptions

    def _argv(self, ctx: StepContext) -> list[str]:
        return [ctx.release.render(arg) for arg in ctx.options.run]

    def describe(self, ctx: StepContext) -> str:
        return "run " + " ".join(self._argv(ctx))

    def run(self, ctx: StepContext) -> StepResult:
        options: CommandOptions = ctx.options
        env = {key: ctx.release.render(value) for key, value in options.env.items()}
        env.update(_release_env(ctx))
        cwd = ctx.settings.resolve(ctx.release.render(options.cwd)) if options.cwd else ctx.settings.base_dir
        argv = self._argv(ctx)
        try:
            result = proc.run(argv, cwd=cwd, env=env, timeout=ctx.timeout.total_seconds(), merge_stderr=True)
        except CommandError as exc:
            return StepResult.fail(exc.message, output=exc.output)
        return StepResult.ok(f"{argv[0]} exited 0", output=result.output)

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, CommandOptions)
        for value in [*options.run, *options.env.values(), options.cwd or ""]:
            render_check(value)


def _release_env(ctx: StepContext) -> dict[str, str]:
    """The release's facts as THOR_* variables, so scripts need not parse arguments."""
    values = ctx.release.template_values()
    return {f"THOR_{key.upper()}": str(value) for key, value in values.items()} | {"THOR_STEP": ctx.step_name}
