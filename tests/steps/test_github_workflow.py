"""``github-workflow``: a month where ``load-tests`` is a GitHub Actions workflow, against the fake GitHub.

PyGithub talks HTTP to ``tests/fakes/github_actions.py``. Racing ticks and a kill right after the dispatch
are forced at a named point: the fake's ``on_dispatch`` hook, called once the run exists on "GitHub" and
before Thor hears back.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from tests.conftest import serve_fake, write_config
from tests.fakes.github_server import FakeGitHub
from tests.support import only, spawn, steps_toml

VERSION = "2021.09"
REPO = "uc-cdis/gen3-code-vigil"
WORKFLOW = "load_tests.yaml"
FEATURE_FREEZE = "2021-09-10T09:00"
CORRELATION = "[thor 2021.09 load-tests #1]"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    fake = FakeGitHub()
    fake_runs = ["RELEASE_VERSION", "thor_correlation"]
    fake.add_workflow(REPO, WORKFLOW, inputs=fake_runs, run_name="Load tests {RELEASE_VERSION} {thor_correlation}")
    yield from serve_fake(fake, monkeypatch, THOR_GITHUB_TOKEN="token")


def config_for(
    tmp_path: Path,
    database_url: str,
    github: FakeGitHub,
    extra: str = "",
    inputs: str = 'RELEASE_VERSION = "{version}"',
    repo: str = REPO,
) -> Path:
    step = f"""uses = "github-workflow"
repo = "{repo}"
workflow = "{WORKFLOW}"
inputs = {{ {inputs} }}
after = []
timeout = "10m"
poll_every = "1m"
{extra}"""
    github_toml = f'[github]\napi_url = "{github.url}"\nallow_http = true\ntimeout = 5\nwrite_interval = 0\n'
    return write_config(
        tmp_path / "thor.toml", github_toml + steps_toml(only("load-tests") | {"load-tests": step}), database_url
    )


class Thor:
    def __init__(self, run_thor, config: Path) -> None:  # type: ignore[no-untyped-def]
        self.run_thor, self.config = run_thor, config
        assert self("release", "start", VERSION).exit_code == 0

    def __call__(self, *args: str, now: str = FEATURE_FREEZE):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args, "--now", now)

    def tick(self, now: str = FEATURE_FREEZE):  # type: ignore[no-untyped-def]
        result = self("tick", now=now)
        assert result.exit_code in (0, 1), (result.stdout, result.stderr)
        return result

    def step(self) -> dict:
        return next(s for s in self("status", VERSION, "--json").json()["steps"] if s["name"] == "load-tests")


def at(minutes: int) -> str:
    return f"2021-09-10T09:{minutes:02d}"


def test_a_dispatch_with_run_details_is_recorded_and_followed(run_thor, tmp_path, github) -> None:  # type: ignore[no-untyped-def]
    # SQLite only: tests/e2e/test_github_month.py follows a run on both backends.
    thor = Thor(run_thor, config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github))
    thor.tick()
    step = thor.step()
    assert (step["status"], step["detail"]) == ("waiting", "run 9001 started")
    assert step["link"] == f"https://github.com/{REPO}/actions/runs/9001"
    assert github.dispatches == [
        {"repo": REPO, "workflow": WORKFLOW, "ref": "integration202109",
         "inputs": {"RELEASE_VERSION": VERSION, "thor_correlation": CORRELATION}},
    ]  # fmt: skip

    github.set_run(9001, "in_progress")
    thor.tick(at(2))
    assert (thor.step()["status"], thor.step()["detail"]) == ("waiting", "run 9001 in_progress")
    github.set_run(9001, "completed", "success")
    thor.tick(at(4))
    assert (thor.step()["status"], thor.step()["detail"]) == ("succeeded", "run 9001 succeeded")
    assert len(github.dispatches) == 1


def test_a_204_server_has_its_run_found_by_correlation_never_the_newest(run_thor, tmp_path, github) -> None:  # type: ignore[no-untyped-def]
    github.dispatch_details = False
    github.add_run(REPO, WORKFLOW, "Load tests 2021.08 [thor 2021.08 load-tests #1]")  # another release's
    # Someone starts the same workflow by hand right after Thor: the newest run is not Thor's.
    github.on_dispatch = lambda run: github.add_run(REPO, WORKFLOW, "Load tests 2021.09 (by hand)")
    thor = Thor(run_thor, config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github))
    thor.tick()
    step = thor.step()
    assert (step["status"], step["detail"]) == ("waiting", "run 9002 queued")
    assert step["link"] == f"https://github.com/{REPO}/actions/runs/9002"
    assert [r["id"] for r in github.runs_of(REPO, WORKFLOW)] == [9001, 9002, 9003]
    listing = [p for m, p in github.requests if m == "GET" and p.split("?")[0].endswith(f"/{WORKFLOW}/runs")]
    assert listing and all("event=workflow_dispatch" in p and "created=%3E%3D" in p for p in listing)


def test_a_failed_run_fails_the_step_with_its_conclusion_and_link_and_a_retry_starts_anew(
    run_thor, tmp_path, github
) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(
        run_thor,
        config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github, 'max_attempts = 2\nretry_after = "1m"'),
    )
    thor.tick()
    github.set_run(9001, "completed", "failure")
    thor.tick(at(2))
    step = thor.step()
    assert (
        step["detail"] == f"attempt 1/2 failed: run 9001 of {WORKFLOW} ended failure; retry after 2021-09-10 09:03 UTC"
    )
    assert step["link"] == f"https://github.com/{REPO}/actions/runs/9001"

    thor.tick(at(5))  # the second attempt: the failed run is spent, a new one starts with a new correlation
    step = thor.step()
    assert (step["status"], step["detail"]) == ("waiting", "run 9002 started")
    assert github.dispatches[1]["inputs"]["thor_correlation"] == "[thor 2021.09 load-tests #2]"
    github.set_run(9002, "completed", "cancelled")
    thor.tick(at(7))
    step = thor.step()
    assert (step["status"], step["detail"]) == ("failed", f"run 9002 of {WORKFLOW} ended cancelled (attempt 2 of 2)")
    assert len(github.dispatches) == 2


def test_racing_ticks_start_one_run(run_thor, tmp_path, database_url, github) -> None:  # type: ignore[no-untyped-def]
    config = config_for(tmp_path, database_url, github)
    thor = Thor(run_thor, config)
    reached, go = threading.Event(), threading.Event()

    def hold(run: dict) -> None:  # the first tick's dispatch: held until the second tick has had its go
        reached.set()
        assert go.wait(60)

    github.on_dispatch = hold
    first = spawn(config, "tick", "--now", FEATURE_FREEZE)
    try:
        assert reached.wait(60), "the first tick never dispatched"
        second = thor("tick")  # while the first holds the step, mid-dispatch
        assert second.exit_code == 0, second.stderr
        assert len(github.dispatches) == 1
    finally:
        go.set()
        _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    thor.tick(at(2))
    assert thor.step()["detail"] == "run 9001 queued"
    assert len(github.dispatches) == 1 and len(github.runs_of(REPO, WORKFLOW)) == 1


@pytest.mark.parametrize("details", [True, False], ids=["200", "204"])
def test_a_tick_killed_right_after_the_dispatch_never_starts_a_second_run(
    run_thor, tmp_path, github, details: bool
) -> None:  # type: ignore[no-untyped-def]
    import os

    github.dispatch_details = details
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github)
    thor = Thor(run_thor, config)
    reached, go = threading.Event(), threading.Event()

    def hold(run: dict) -> None:  # the run exists on GitHub; Thor has not heard back
        reached.set()
        go.wait(60)

    github.on_dispatch = hold
    process = spawn(config, "tick", "--now", FEATURE_FREEZE)
    try:
        assert reached.wait(60), "the tick never dispatched"
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        go.set()
    assert process.returncode == -signal.SIGKILL
    github.on_dispatch = None
    assert thor.step()["status"] == "running"

    thor.tick(at(16))  # the lease (10m + 5m) has expired: recovered, the run is found by its correlation
    step = thor.step()
    assert (step["status"], step["detail"]) == ("waiting", "run 9001 queued")
    github.set_run(9001, "completed", "success")
    thor.tick(at(18))
    assert thor.step()["status"] == "succeeded"
    assert len(github.dispatches) == 1 and len(github.runs_of(REPO, WORKFLOW)) == 1


@pytest.mark.parametrize(
    ("cancel", "expected"),
    [(True, "run 9001 cancelled"), (False, "run 9001 left running (cancel_on_timeout is off)")],
    ids=["cancel", "leave"],
)
def test_at_the_timeout_the_run_is_cancelled_when_configured(run_thor, tmp_path, github, cancel, expected) -> None:  # type: ignore[no-untyped-def]
    extra = f"cancel_on_timeout = {str(cancel).lower()}\nmax_attempts = 1"
    thor = Thor(run_thor, config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github, extra))
    thor.tick()
    github.set_run(9001, "in_progress")
    thor.tick(at(11))  # past the 10m timeout: the engine polls once more, then calls timed_out
    step = thor.step()
    assert (step["status"], step["detail"]) == ("failed", f"timed out after 10m; {expected}")
    assert step["link"] == f"https://github.com/{REPO}/actions/runs/9001"
    run = github.runs[9001]
    assert (run["status"], run["conclusion"]) == (("completed", "cancelled") if cancel else ("in_progress", None))
    assert github.count("POST", "/actions/runs/9001/cancel") == (1 if cancel else 0)


def test_a_run_that_ended_by_the_timeout_is_not_timed_out(run_thor, tmp_path, github) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github, "cancel_on_timeout = true"))
    thor.tick()
    github.set_run(9001, "completed", "success")
    thor.tick(at(11))  # the last poll at the timeout sees the success
    assert (thor.step()["status"], thor.step()["detail"]) == ("succeeded", "run 9001 succeeded")
    assert github.count("POST", "/cancel") == 0


def test_an_input_the_workflow_does_not_declare_fails_clearly(run_thor, tmp_path, github) -> None:  # type: ignore[no-untyped-def]
    github.add_workflow(REPO, WORKFLOW, inputs=["RELEASE_VERSION"])  # no correlation input declared
    thor = Thor(run_thor, config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github, "max_attempts = 1"))
    thor.tick()
    step = thor.step()
    assert step["status"] == "failed"
    assert "HTTP 422: Unexpected inputs provided: ['thor_correlation']" in step["detail"]
    assert github.token not in step["detail"]


@pytest.mark.parametrize(
    ("extra", "inputs", "repo", "message"),
    [
        ("", 'thor_correlation = "x"', REPO, "is Thor's correlation input"),
        ('correlation_input = "not valid!"', 'A = "{version}"', REPO, "is not a workflow input name"),
        ("", 'A = "{version}"', "not-a-slug", "must look like owner/name"),
    ],
)
def test_bad_options_are_refused_at_load(run_thor, tmp_path, github, extra, inputs, repo, message) -> None:  # type: ignore[no-untyped-def]
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github, extra, inputs, repo)
    result = run_thor("--config", config, "steps")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_doctor_checks_the_workflow_and_the_token(run_thor, tmp_path, github, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", github)
    assert run_thor("--config", config, "db", "upgrade").exit_code == 0

    def github_row():  # type: ignore[no-untyped-def]
        result = run_thor("--config", config, "doctor", "--json")
        return result.exit_code, next(c for c in result.json()["checks"] if c["name"] == "github")

    code, row = github_row()
    assert (row["status"], row["detail"]) == ("ok", f"{github.url}: {REPO} {WORKFLOW} (load-tests)")

    github.workflows.clear()
    code, row = github_row()
    assert (code, row["status"], row["problem"]) == (2, "FAIL", "config")
    assert f"while reading workflow {REPO} {WORKFLOW} (load-tests)" in row["detail"] and "404" in row["detail"]

    monkeypatch.delenv("THOR_GITHUB_TOKEN")
    code, row = github_row()
    assert (code, row["detail"]) == (2, "THOR_GITHUB_TOKEN is not set, but needed by load-tests")
