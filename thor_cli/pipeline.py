"""The pipeline: the default Gen3 steps (TOML data in the package) merged with the user's ``[steps.NAME]``.

``build_pipeline`` validates everything a tick will need — types, options, dependencies, cycles,
templates — so a bad pipeline is exit 2 before anything runs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ValidationError

from thor_cli.config import StepConfig, ThorConfig
from thor_cli.errors import ConfigError
from thor_cli.steps import BUILTIN_STEP_TYPES, load_step_type, step_type_names
from thor_cli.steps.base import ReleaseInfo, StepType

MILESTONES = ("feature_freeze", "code_freeze")
_SAMPLE_RELEASE = ReleaseInfo(
    version="2021.09",
    codename="Sample",
    feature_freeze=datetime(2021, 9, 10, tzinfo=UTC),
    code_freeze=datetime(2021, 9, 24, tzinfo=UTC),
    integration_branch="integration202109",
    stable_branch="stable",
)


@dataclass(frozen=True)
class Step:
    name: str
    uses: str
    on: str | None
    after: tuple[str, ...]
    enabled: bool
    timeout: timedelta
    max_attempts: int
    retry_after: timedelta
    options: BaseModel
    order: int

    @property
    def step_type(self) -> StepType:
        return load_step_type(self.uses)()


@dataclass(frozen=True)
class Pipeline:
    steps: tuple[Step, ...]  # in run order: dependencies first, declaration order otherwise

    @property
    def enabled(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.enabled)

    def get(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.steps]


@cache
def default_steps() -> dict[str, dict[str, Any]]:
    text = resources.files("thor_cli").joinpath("default_pipeline.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["steps"]


COMMON_KEYS = frozenset(StepConfig.model_fields)


def _merged_tables(config: ThorConfig) -> dict[str, dict[str, Any]]:
    tables = {name: dict(table) for name, table in default_steps().items()}
    for name, override in config.steps.items():
        given = override.model_dump(exclude_unset=True)
        base = tables.get(name, {})
        if "uses" in given and given["uses"] != base.get("uses"):
            # Another type: keep the step's place (milestone, dependencies), drop the old type's own keys.
            base = {key: value for key, value in base.items() if key in COMMON_KEYS}
        tables[name] = {**base, **given}
    return tables


def _step_from_table(name: str, table: dict[str, Any], order: int) -> Step:
    try:
        common = StepConfig.model_validate(table)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"steps.{name}.{where}: {error['msg'].removeprefix('Value error, ')}") from None
    if not common.uses:
        raise ConfigError(f"steps.{name}: 'uses' is required for a new step (one of {', '.join(step_type_names())})")
    if common.uses not in BUILTIN_STEP_TYPES:
        raise ConfigError(
            f"steps.{name}.uses: unknown step type {common.uses!r} (known: {', '.join(step_type_names())})"
        )
    step_type = load_step_type(common.uses)
    try:
        # Strict like the rest of thor.toml: "8" is not a number and "no" is not a boolean.
        options = step_type.Options.model_validate(common.options, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"steps.{name}.{where}: {message}") from None

    def render_check(template: str) -> None:
        try:
            _SAMPLE_RELEASE.render(template)
        except (ValueError, IndexError) as exc:
            raise ConfigError(f"steps.{name}: {exc}") from None

    step_type().validate(options, render_check)
    return Step(
        name=name,
        uses=common.uses,
        on=common.on,
        after=tuple(common.after or ()),
        enabled=True if common.enabled is None else common.enabled,
        timeout=common.timeout or step_type.default_timeout,
        max_attempts=common.max_attempts or step_type.default_max_attempts,
        retry_after=common.retry_after if common.retry_after is not None else step_type.default_retry_after,
        options=options,
        order=order,
    )


def _topological(steps: list[Step]) -> list[Step]:
    by_name = {s.name: s for s in steps}
    for step in steps:
        for dependency in step.after:
            if dependency not in by_name:
                raise ConfigError(f"steps.{step.name}.after: unknown step {dependency!r}")
    ordered: list[Step] = []
    state: dict[str, str] = {}

    def visit(step: Step, path: list[str]) -> None:
        if state.get(step.name) == "done":
            return
        if state.get(step.name) == "visiting":
            cycle = [*path[path.index(step.name) :], step.name]
            raise ConfigError(f"steps: dependency cycle {' -> '.join(cycle)}")
        state[step.name] = "visiting"
        for dependency in step.after:
            visit(by_name[dependency], [*path, step.name])
        state[step.name] = "done"
        ordered.append(step)

    for step in sorted(steps, key=lambda s: s.order):
        visit(step, [])
    return ordered


def build_pipeline(config: ThorConfig) -> Pipeline:
    tables = _merged_tables(config)
    steps = [_step_from_table(name, table, order) for order, (name, table) in enumerate(tables.items())]
    return Pipeline(tuple(_topological(steps)))


def effective_dependencies(pipeline: Pipeline, step: Step) -> list[str]:
    """The enabled steps this one waits for: a disabled dependency passes its own dependencies on."""
    found: list[str] = []
    for name in step.after:
        dependency = pipeline.get(name)
        if dependency is None:
            continue
        if dependency.enabled:
            found.append(name)
        else:
            found.extend(d for d in effective_dependencies(pipeline, dependency) if d not in found)
    return found
