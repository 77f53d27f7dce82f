"""The rollout and image-check steps on their own: through `thor tick` with real git and the fake GitHub, plus
the timeout policies through a small in-memory StepContext (the engine calls ``timed_out`` at the timeout)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import serve_fake, write_config
from tests.fakes import gitrepos as g
from tests.fakes.github_server import FakeGitHub
from tests.reliability.helpers import Cli
from tests.support import isolate_git, only, steps_toml
from thor_cli.config import Settings, parse_config
from thor_cli.pipeline import build_pipeline
from thor_cli.steps.base import ReleaseInfo, RepoRecord, StepResult
from thor_cli.steps.rollout import RolloutStep

GITOPS = "uc-cdis/gen3-gitops"
UP_TO_DATE = 'fence:\n  image:\n    tag: "2021.09"\n'
BEHIND = 'fence:\n  image:\n    tag: "2021.08"  # last month\n'


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeGitHub(), monkeypatch, THOR_GITHUB_TOKEN="token")


def environments(*names: str) -> str:
    return "".join(f'\n[environments.{n}]\nrepo = "{GITOPS}"\npath = "{n}"\nstage = "{n}"\n' for n in names)


def setup(tmp_path: Path, github: FakeGitHub, files: dict[str, str], envs: str, rollout: str = "") -> Cli:
    remotes = tmp_path / "remotes"
    g.make_remote(remotes, "uc-cdis/fence")
    g.make_remote(remotes, GITOPS, history=[g.Change("environments", files)])
    text = (
        f'[repos]\nnames = ["uc-cdis/fence"]\nurl = "{g.file_url(remotes)}/{{repo}}.git"\n'
        f'[github]\napi_url = "{github.url}"\nallow_http = true\nwrite_interval = 0\n'
        + envs
        + steps_toml(only("rollout") | {"rollout": rollout or 'poll_every = "10m"'})
    )
    return Cli(_run_thor, write_config(tmp_path / "thor.toml", text, f"sqlite:///{tmp_path / 'thor.db'}"))


_run_thor: Any = None


@pytest.fixture(autouse=True)
def bind_cli(run_thor) -> None:  # type: ignore[no-untyped-def]
    global _run_thor
    _run_thor = run_thor


def test_an_environment_at_the_tag_gets_no_pull_request_and_a_broken_one_fails_alone(
    tmp_path: Path, github: FakeGitHub
) -> None:
    files = {"qa/values/values.yaml": UP_TO_DATE, "staging/values/values.yaml": "fence: [unclosed\n"}
    files["prod/values/values.yaml"] = BEHIND
    thor = setup(tmp_path, github, files, environments("qa", "staging", "prod"))
    first = thor.tick("2021-09-10T09:00")
    assert first.exit_code == 0, first.stderr
    rollout = thor.steps()["rollout"]
    assert rollout["status"] == "pending" and rollout["attempts"] == 1  # failed once, retried later
    assert "staging: staging/values/values.yaml: not valid YAML" in rollout["detail"]
    assert [p["head"]["ref"] for p in github.pulls_of(GITOPS)] == ["thor/2021.09/prod"]
    assert "thor/2021.09/qa" not in g.heads(tmp_path / "remotes" / f"{GITOPS}.git")

    # Someone fixes staging's file; the retry opens only staging's pull request.
    g.commit_on(tmp_path / "remotes" / f"{GITOPS}.git", "master", {"staging/values/values.yaml": BEHIND}, "fix")
    second = thor.tick("2021-09-10T09:40")
    assert second.exit_code == 0, second.stderr
    assert sorted(p["head"]["ref"] for p in github.pulls_of(GITOPS)) == ["thor/2021.09/prod", "thor/2021.09/staging"]
    assert thor.steps()["rollout"]["status"] == "waiting"
    envs = {e["name"]: e for e in thor("envs", "--json").json()["environments"]}
    assert [r["status"] for r in envs["qa"]["rollouts"]] == ["up-to-date"]
    assert envs["qa"]["release"] == "2021.09"


def test_github_down_while_waiting_keeps_waiting(tmp_path: Path, github: FakeGitHub) -> None:
    thor = setup(tmp_path, github, {"qa/values/values.yaml": BEHIND}, environments("qa"))
    assert thor.tick("2021-09-10T09:00").exit_code == 0
    assert thor.steps()["rollout"]["status"] == "waiting"
    github.down()
    assert thor.tick("2021-09-10T09:11").exit_code == 0
    rollout = thor.steps()["rollout"]
    assert (rollout["status"], rollout["attempts"]) == ("waiting", 1)
    assert "unreachable: qa" in rollout["detail"]
    github.up()
    github.merge_pull(GITOPS, 1)
    assert thor.tick("2021-09-10T09:22").exit_code == 0
    assert thor.steps()["rollout"]["status"] == "succeeded"


def test_a_declined_environment_is_asked_again_only_when_forced(tmp_path: Path, github: FakeGitHub) -> None:
    thor = setup(tmp_path, github, {"qa/values/values.yaml": BEHIND}, environments("qa"))
    assert thor.tick("2021-09-10T09:00").exit_code == 0
    github.close_pull(GITOPS, 1)
    assert thor.tick("2021-09-10T09:11").exit_code == 0
    assert thor.steps()["rollout"]["status"] == "succeeded"  # declined is final: later ticks leave it
    assert thor.tick("2021-09-10T09:20").exit_code == 0
    assert github.pulls_of(GITOPS)[0]["state"] == "closed"
    forced = thor("step", "rollout", "2021.09", "--force", "--now", "2021-09-10T09:30")
    assert forced.exit_code == 0, forced.stderr
    [pull] = github.pulls_of(GITOPS)
    assert pull["state"] == "open"  # reopened, not a second one
    assert thor.steps()["rollout"]["status"] == "waiting"
    envs = {e["name"]: e for e in thor("envs", "--json").json()["environments"]}
    assert [r["status"] for r in envs["qa"]["rollouts"]] == ["opened"]


def test_without_environments_the_environment_steps_skip(tmp_path: Path, run_thor) -> None:  # type: ignore[no-untyped-def]
    config = write_config(
        tmp_path / "thor.toml",
        steps_toml(only("check-images", "rollout-ci", "check-release-images", "rollout")),
        f"sqlite:///{tmp_path / 'thor.db'}",
    )
    thor = Cli(run_thor, config)
    assert thor.tick("2021-09-10T09:00").exit_code == 0
    steps = thor.steps()
    for name in ("check-images", "rollout-ci", "check-release-images", "rollout"):
        assert (steps[name]["status"], steps[name]["detail"]) == ("succeeded", "skipped: no [environments] configured")
    assert thor("envs").stdout.startswith("No environments configured")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[environments.qa]\nrepo = "gen3-gitops"\npath = "qa"\nstage = "qa"\n', "must be owner/name"),
        (
            '[environments.qa]\nrepo = "o/r"\npath = "qa"\nstage = "qa"\nformat = "kustomize"\n',
            "environments.qa.format",
        ),
        ('[environments.qa]\nrepo = "o/r"\npath = "../x"\nstage = "qa"\n', "must be a folder inside"),
        ('[environments.qa]\nrepo = "o/r"\npath = "qa"\n', "environments.qa.stage"),
        ('[environments.qa]\nrepo = "o/r"\npath = "qa"\nstage = "qa"\nslack_user = "jane"\n', "not a Slack user id"),
        ('[services.repos.fence]\nimages = ["x"]\n', "unknown key 'services.repos.fence.images'"),
        ('[steps.rollout]\nbranch = "thor/{version}"\n', "must contain {environment}"),
        ('[steps.rollout]\nat_timeout = "shrug"\n', "steps.rollout.at_timeout"),
    ],
)
def test_bad_environment_configuration_is_one_line_and_exit_2(
    tmp_path: Path, run_thor, toml: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "thor.toml", toml, f"sqlite:///{tmp_path / 'thor.db'}")
    result = run_thor("--config", str(config), "envs")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("thor: ") and expected in result.stderr
    assert not (tmp_path / "thor.db").exists()


# -- the timeout policies ------------------------------------------------------------------------------


SEPTEMBER = ReleaseInfo(
    "2021.09", None, datetime(2021, 9, 10, tzinfo=UTC), datetime(2021, 9, 24, tzinfo=UTC), "integration202109", "stable"
)


@dataclass
class MemoryContext:
    """The StepContext protocol in memory: what a step sees, without the engine."""

    settings: Settings
    options: Any
    records: dict[str, RepoRecord] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    release: ReleaseInfo = field(default_factory=lambda: SEPTEMBER)
    step_name: str = "rollout"
    force: bool = False
    attempt: int = 1
    started_at: datetime | None = None
    timeout: timedelta = timedelta(hours=1)
    clock: Any = None
    state: dict[str, Any] = field(default_factory=dict)

    def repo_results(self, step: str | None = None) -> dict[str, RepoRecord]:
        return dict(self.records)

    def record_repo(self, record: RepoRecord) -> None:
        self.records[record.repo] = record

    def notify(self, text: str, *, broadcast: bool = False) -> None:
        self.notes.append(text)

    def log(self, message: str) -> None:
        pass

    def save_state(self, **values: Any) -> None:
        self.state.update(values)


@pytest.mark.parametrize("policy", ["fail", "succeed", "close"])
def test_what_happens_at_the_timeout(policy: str, tmp_path: Path, github: FakeGitHub) -> None:
    thor = setup(tmp_path, github, {"qa/values/values.yaml": BEHIND}, environments("qa"), f'at_timeout = "{policy}"')
    assert thor.tick("2021-09-10T09:00").exit_code == 0
    settings = Settings(parse_config(tomllib.loads(thor.config.read_text())), thor.config, "sqlite://")
    step = build_pipeline(settings.config).get("rollout")
    assert step is not None
    data = {"status": "opened", "pr_number": 1, "pr_url": github.pulls_of(GITOPS)[0]["html_url"]}
    ctx = MemoryContext(settings, step.options, {"qa": RepoRecord("qa", "pending", None, "", data)})
    result = RolloutStep().timed_out(ctx, StepResult.wait("opened: qa"))  # type: ignore[arg-type]
    expected = {"fail": ("failed", "timed out waiting for: qa"), "succeed": ("succeeded", "timed out; left open: qa")}
    expected["close"] = ("succeeded", "timed out; closed: qa")
    assert (result.status, result.detail) == expected[policy]
    closed = github.pulls_of(GITOPS)[0]["state"] == "closed"
    assert closed == (policy == "close")
    if policy == "close":
        assert ctx.records["qa"].data["status"] == "declined" and ctx.notes
