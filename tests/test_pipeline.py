"""The pipeline: the default Gen3 steps plus [steps.NAME] overrides, validated and ordered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support import STEP_NAMES
from thor_cli.config import parse_config
from thor_cli.errors import ConfigError
from thor_cli.pipeline import build_pipeline, effective_dependencies

DEFAULT_ORDER = list(STEP_NAMES)


def pipeline(steps: dict[str, Any]):  # type: ignore[no-untyped-def]
    return build_pipeline(parse_config({"steps": steps}))


def test_the_default_pipeline() -> None:
    default = pipeline({})
    assert default.names == DEFAULT_ORDER
    assert [s.name for s in default.enabled] == DEFAULT_ORDER
    split = default.get("split-branch")
    merge = default.get("merge-stable")
    load = default.get("load-tests")
    assert split is not None and merge is not None and load is not None
    assert (split.uses, split.on, split.after) == ("git-branch", "feature_freeze", ())
    assert (merge.uses, merge.on, merge.after) == ("git-merge", "code_freeze", ("load-tests",))
    assert load.timeout == timedelta(hours=12)
    assert default.get("announce").after == ("mark-released",)  # type: ignore[union-attr]
    assert default.get("nope") is None


def test_overriding_a_step_with_another_type_keeps_its_place_and_drops_the_old_keys() -> None:
    p = pipeline({"load-tests": {"uses": "command", "run": ["make", "test", "{version}"], "max_attempts": 5}})
    load = p.get("load-tests")
    assert load is not None
    assert load.uses == "command"
    assert load.after == ("split-branch",)  # kept
    assert load.timeout == timedelta(hours=12)  # a common key: kept
    assert load.max_attempts == 5
    assert load.options.run == ["make", "test", "{version}"]  # type: ignore[attr-defined]
    assert not hasattr(load.options, "job")  # the jenkins keys are gone
    assert p.names == DEFAULT_ORDER


def test_disabling_and_adding_steps() -> None:
    p = pipeline(
        {
            "create-jira-release": {"enabled": False},
            "smoke": {"uses": "command", "run": ["true"], "after": ["merge-stable"], "retry_after": "5m"},
            "sign-off": {"uses": "gate", "after": ["smoke"]},
        }
    )
    assert p.names == [*DEFAULT_ORDER, "smoke", "sign-off"]
    assert "create-jira-release" not in [s.name for s in p.enabled]
    smoke = p.get("smoke")
    gate = p.get("sign-off")
    assert smoke is not None and gate is not None
    assert smoke.retry_after == timedelta(minutes=5)
    assert smoke.max_attempts == 3 and smoke.timeout == timedelta(hours=1)  # the type's defaults
    assert gate.max_attempts == 1
    assert gate.timeout > timedelta(days=14)  # a person may take the whole cycle to approve


def test_dependencies_run_first_whatever_the_declaration_order() -> None:
    steps = {name: {"enabled": False} for name in DEFAULT_ORDER}
    steps |= {
        "b": {"uses": "command", "run": ["true"], "after": ["c"]},
        "a": {"uses": "command", "run": ["true"]},
        "c": {"uses": "command", "run": ["true"], "after": ["a"]},
    }
    assert [s.name for s in pipeline(steps).enabled] == ["a", "c", "b"]


def test_a_disabled_dependency_passes_its_own_dependencies_on() -> None:
    p = pipeline({"load-tests": {"enabled": False}, "mark-released": {"enabled": False}})
    merge = p.get("merge-stable")
    announce = p.get("announce")
    assert merge is not None and announce is not None
    assert effective_dependencies(p, merge) == ["split-branch"]
    assert effective_dependencies(p, announce) == ["merge-stable"]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ({"x": {"uses": "teleport"}}, "steps.x.uses: unknown step type 'teleport'"),
        ({"x": {"run": ["true"]}}, "steps.x: 'uses' is required"),
        (
            {"x": {"uses": "command", "run": ["true"], "after": ["nope"]}},
            "steps.x.after: unknown step 'nope'",
        ),
        ({"x": {"uses": "command", "run": ["true"], "after": ["x"]}}, "dependency cycle x -> x"),
        (
            {
                "a": {"uses": "command", "run": ["true"], "after": ["b"]},
                "b": {"uses": "command", "run": ["true"], "after": ["a"]},
            },
            "dependency cycle a -> b -> a",
        ),
        ({"split-branch": {"after": ["announce"]}}, "dependency cycle"),
        ({"x": {"uses": "command"}}, "steps.x.run"),
        ({"x": {"uses": "command", "run": []}}, "steps.x.run"),
        ({"x": {"uses": "command", "run": ["true"], "bogus": 1}}, "steps.x.bogus: unknown key"),
        ({"x": {"uses": "command", "run": ["echo {nope}"]}}, "steps.x: unknown placeholder {nope}"),
        (
            {"x": {"uses": "command", "run": ["true"], "env": {"A": "{release}"}}},
            "unknown placeholder {release}",
        ),
        ({"x": {"uses": "gate", "bogus": 1}}, "steps.x.bogus: unknown key"),
        ({"x": {"uses": "command", "run": ["true"], "timeout": "forever"}}, "steps.x.timeout"),
    ],
)
def test_bad_pipelines_are_config_errors(steps: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        pipeline(steps)
    assert message in caught.value.message


def test_all_placeholders_are_known() -> None:
    run = ["echo", "{version}", "{codename}", "{integration_branch}", "{stable_branch}", "{feature_freeze}"]
    p = pipeline({"x": {"uses": "command", "run": [*run, "{code_freeze:%d %B}"], "cwd": "{version}"}})
    assert p.get("x") is not None


def test_step_options_are_strict_like_the_rest_of_thor_toml(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import write_config

    config = write_config(tmp_path / "thor.toml", '[steps.load-tests]\nabort_on_timeout = "no"\n', None)
    result = run_thor("--config", config, "steps")
    assert result.exit_code == 2
    assert result.stderr.startswith("thor: ") and "steps.load-tests.abort_on_timeout" in result.stderr
    assert result.stderr.count("\n") == 1
