"""``command``: run an external program, such as a gen3-release-utils script or the gen3release CLI.

The program gets Thor's environment without Thor's secrets (``proc.run`` removes them from every child),
plus ``env``, plus the release's facts, plus the secrets the step names in ``secrets`` and nothing else:
``secrets = { GITHUB_TOKEN = "THOR_GITHUB_TOKEN" }`` passes one, under the name the program expects, and
masks it in the output like every secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from thor_cli.adapters import proc
from thor_cli.errors import CommandError
from thor_cli.secrets import secret
from thor_cli.steps.base import StepContext, StepResult, StepType

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CommandOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    secrets: dict[str, str] = Field(default_factory=dict)  # variable the program sees -> Thor's variable

    @field_validator("env", "secrets")
    @classmethod
    def _names(cls, value: dict[str, str], info) -> dict[str, str]:  # type: ignore[no-untyped-def]
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{info.field_name}: {name!r} is not an environment variable name")
        if info.field_name == "secrets":
            for name, source in value.items():
                if not _ENV_NAME.match(source):
                    raise ValueError(f"secrets.{name}: {source!r} is not an environment variable name")
        return value


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
        passed: dict[str, str] = {}
        for name, source in options.secrets.items():
            value = secret(source)
            if value is None:
                return StepResult.fail(f"{source} is not set (secrets.{name} passes it to the program)")
            passed[name] = value
        cwd = ctx.settings.resolve(ctx.release.render(options.cwd)) if options.cwd else ctx.settings.base_dir
        argv = self._argv(ctx)
        try:
            result = proc.run(
                argv,
                cwd=cwd,
                env=env | passed,
                secrets=list(passed.values()),
                timeout=ctx.timeout.total_seconds(),
                merge_stderr=True,
            )
        except CommandError as exc:
            return StepResult.fail(exc.message, output=exc.output)
        detail = f"{argv[0]} exited 0" + (f" ({result.note})" if result.note else "")
        return StepResult.ok(detail, output=result.output)

    def validate(self, options: BaseModel, render_check: Callable[[str], None]) -> None:
        assert isinstance(options, CommandOptions)
        for value in [*options.run, *options.env.values(), options.cwd or ""]:
            render_check(value)


def _release_env(ctx: StepContext) -> dict[str, str]:
    """The release's facts as THOR_* variables, so scripts need not parse arguments."""
    values = ctx.release.template_values()
    return {f"THOR_{key.upper()}": str(value) for key, value in values.items()} | {"THOR_STEP": ctx.step_name}
