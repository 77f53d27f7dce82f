"""The scheduler's pure decisions: which steps are due at a moment, and why the others wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import ENVIRONMENT_STEPS
from thor_cli.config import parse_config
from thor_cli.engine.scheduler import decide, decisions, next_due_step
from thor_cli.pipeline import Pipeline, build_pipeline
from thor_cli.store.models import Release, ReleaseStatus, StepRun, StepStatus

FF = datetime(2021, 9, 10, tzinfo=UTC)
CF = datetime(2021, 9, 24, tzinfo=UTC)
OFF = {"enabled": False}
ENVIRONMENTS_OFF = dict.fromkeys(ENVIRONMENT_STEPS, OFF)


def command(**extra: Any) -> dict[str, Any]:
    return {"uses": "command", "run": ["true"], **extra}


@pytest.fixture
def pipeline() -> Pipeline:
    return build_pipeline(
        parse_config(
            {
                "steps": {
                    **ENVIRONMENTS_OFF,
                    "create-jira-release": OFF,
                    "mark-released": OFF,
                    "announce": OFF,
                    "split-branch": command(timeout="1h"),
                    "load-tests": {"uses": "gate", "timeout": "2d"},
                    "release-notes": command(),
                    "merge-stable": command(),
                }
            }
        )
    )


def release(**values: Any) -> Release:
    base: dict[str, Any] = dict(
        id=1, version="2021.09", feature_freeze=FF, code_freeze=CF, integration_branch="integration202109",
        stable_branch="stable", created_at=FF, updated_at=FF,
    )  # fmt: skip
    return Release(**(base | values))


def run(name: str, status: str = StepStatus.PENDING, **values: Any) -> StepRun:
    return StepRun(release_id=1, name=name, status=status, updated_at=FF, **values)


def due(pipeline: Pipeline, runs: dict[str, StepRun], now: datetime, rel: Release | None = None) -> dict[str, str]:
    return {d.step.name: d.mode for d in decisions(pipeline, rel or release(), runs, now) if d.due}  # type: ignore[misc]


def decision(pipeline: Pipeline, name: str, runs: dict[str, StepRun], now: datetime, rel: Release | None = None):  # type: ignore[no-untyped-def]
    step = pipeline.get(name)
    assert step is not None
    return decide(pipeline, rel or release(), runs, step, now)


def test_nothing_is_due_before_the_feature_freeze(pipeline: Pipeline) -> None:
    before = FF - timedelta(seconds=1)
    assert due(pipeline, {}, before) == {}
    waiting = decision(pipeline, "split-branch", {}, before)
    assert waiting.reason == "waits for feature freeze"
    assert waiting.wake_at == FF


def test_at_the_feature_freeze_the_first_steps_are_due(pipeline: Pipeline) -> None:
    assert due(pipeline, {}, FF) == {"split-branch": "run"}
    assert decision(pipeline, "release-notes", {}, FF).reason == "waits for split-branch"
    # merge-stable waits for its milestone before its dependencies.
    assert decision(pipeline, "merge-stable", {}, FF).reason == "waits for code freeze"


def test_dependants_become_due_when_dependencies_are_done(pipeline: Pipeline) -> None:
    for done in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
        runs = {"split-branch": run("split-branch", done)}
        assert due(pipeline, runs, FF) == {"load-tests": "run", "release-notes": "run"}


def test_a_failed_dependency_blocks_and_a_failed_step_is_not_retried(pipeline: Pipeline) -> None:
    runs = {"split-branch": run("split-branch", StepStatus.FAILED, attempts=3)}
    assert due(pipeline, runs, FF + timedelta(days=1)) == {}
    assert "thor retry" in decision(pipeline, "split-branch", runs, FF).reason
    assert decision(pipeline, "release-notes", runs, FF).reason == "waits for split-branch"


def test_code_freeze_steps_need_the_milestone_and_their_dependencies(pipeline: Pipeline) -> None:
    runs = {"split-branch": run("split-branch", StepStatus.SUCCEEDED)}
    assert "merge-stable" not in due(pipeline, runs, CF)  # load-tests (a gate) is not approved
    runs["load-tests"] = run("load-tests", StepStatus.SUCCEEDED)
    assert "merge-stable" not in due(pipeline, runs, CF - timedelta(seconds=1))
    assert due(pipeline, runs, CF)["merge-stable"] == "run"


def test_retry_backoff(pipeline: Pipeline) -> None:
    retry_at = FF + timedelta(minutes=30)
    runs = {"split-branch": run("split-branch", attempts=1, next_attempt_at=retry_at)}
    early = decision(pipeline, "split-branch", runs, retry_at - timedelta(seconds=1))
    assert not early.due and early.wake_at == retry_at and early.reason.startswith("retry after")
    assert decision(pipeline, "split-branch", runs, retry_at).mode == "run"


def test_a_running_step_is_left_alone_until_its_lease_expires(pipeline: Pipeline) -> None:
    expires = FF + timedelta(hours=1, minutes=5)
    runs = {"split-branch": run("split-branch", StepStatus.RUNNING, lease_owner="other", lease_expires_at=expires)}
    held = decision(pipeline, "split-branch", runs, expires - timedelta(seconds=1))
    assert not held.due and "other" in held.reason and held.wake_at == expires
    assert decision(pipeline, "split-branch", runs, expires).mode == "recover"
    # Naive datetimes (SQLite) mean UTC.
    runs["split-branch"].lease_expires_at = expires.replace(tzinfo=None)
    assert decision(pipeline, "split-branch", runs, expires + timedelta(minutes=1)).mode == "recover"


def test_a_waiting_step_is_polled_when_asked_and_times_out(pipeline: Pipeline) -> None:
    done = {"split-branch": run("split-branch", StepStatus.SUCCEEDED)}
    gate = run("load-tests", StepStatus.WAITING, started_at=FF, detail="waiting for approval")
    runs = done | {"load-tests": gate}
    person = decision(pipeline, "load-tests", runs, FF + timedelta(hours=1))
    assert not person.due and person.reason == "waiting for approval" and person.wake_at is None
    gate.next_attempt_at = FF + timedelta(minutes=10)
    assert decision(pipeline, "load-tests", runs, FF + timedelta(minutes=9)).wake_at == FF + timedelta(minutes=10)
    assert decision(pipeline, "load-tests", runs, FF + timedelta(minutes=10)).mode == "poll"
    assert decision(pipeline, "load-tests", runs, FF + timedelta(days=2)).mode == "timeout"


def test_closed_or_unstarted_releases_run_nothing(pipeline: Pipeline) -> None:
    for rel in (
        release(status=ReleaseStatus.CANCELLED),
        release(status=ReleaseStatus.RELEASED),
        release(started=False),
    ):
        assert due(pipeline, {}, FF + timedelta(days=1), rel) == {}
        assert decision(pipeline, "split-branch", {}, FF, rel).reason.startswith("release ")
    # A blocked release still runs what does not depend on the failure.
    blocked = release(status=ReleaseStatus.BLOCKED)
    runs = {"split-branch": run("split-branch", StepStatus.FAILED)}
    assert due(pipeline, runs, FF, blocked) == {}
    assert due(pipeline, {}, FF, blocked) == {"split-branch": "run"}


def test_a_disabled_step_is_never_decided_and_passes_its_dependencies_on() -> None:
    p = build_pipeline(
        parse_config(
            {
                "steps": {
                    **ENVIRONMENTS_OFF,
                    "create-jira-release": OFF, "load-tests": OFF, "mark-released": OFF, "announce": OFF,
                    "split-branch": command(), "release-notes": command(), "merge-stable": command(),
                }
            }
        )
    )  # fmt: skip
    runs = {"split-branch": run("split-branch", StepStatus.SUCCEEDED)}
    assert [d.step.name for d in decisions(p, release(), runs, CF)] == [
        "split-branch",
        "release-notes",
        "merge-stable",
    ]
    assert due(p, runs, CF) == {"release-notes": "run", "merge-stable": "run"}


def test_next_due_step(pipeline: Pipeline) -> None:
    assert next_due_step(pipeline, release(), {}, FF) == "split-branch"
    runs = {
        "split-branch": run("split-branch", StepStatus.SUCCEEDED),
        "load-tests": run("load-tests", StepStatus.SKIPPED),
    }
    assert next_due_step(pipeline, release(), runs, FF) == "release-notes"
    runs |= {name: run(name, StepStatus.SUCCEEDED) for name in ("release-notes", "merge-stable")}
    assert next_due_step(pipeline, release(), runs, CF) is None
