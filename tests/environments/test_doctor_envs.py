"""`thor doctor` with environments: the GitHub token and API, each environment's repository, the registries."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import serve_fake, write_config
from tests.fakes import gitrepos as g
from tests.fakes.github_server import FakeGitHub
from tests.fakes.registry_auth import FakeTokenRegistry
from tests.support import disabled, isolate_git

GITOPS = "uc-cdis/gen3-gitops"


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeGitHub(), monkeypatch, THOR_GITHUB_TOKEN="token")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeTokenRegistry(), monkeypatch)


def config(tmp_path: Path, github: FakeGitHub, registry: FakeTokenRegistry, base: str = "master") -> Path:
    remotes = tmp_path / "remotes"
    g.make_remote(remotes, "uc-cdis/fence")
    g.make_remote(remotes, GITOPS, history=[g.Change("qa", {"qa/values/values.yaml": "fence: {}\n"})])
    text = f"""
[repos]
names = ["uc-cdis/fence"]
url = "{g.file_url(remotes)}/{{repo}}.git"

[github]
api_url = "{github.url}"
allow_http = true

[services.registries."quay.io"]
url = "{registry.url}"

[environments.qa]
repo = "{GITOPS}"
path = "qa"
stage = "qa"
base_branch = "{base}"
"""
    no_services = disabled("create-jira-release", "load-tests", "mark-released", "announce")
    return write_config(tmp_path / "thor.toml", text + no_services, f"sqlite:///{tmp_path / 'thor.db'}")


def rows(result) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {c["name"]: (c["status"], c["detail"]) for c in result.json()["checks"]}


def test_everything_the_environments_need_is_checked(tmp_path, run_thor, github, registry) -> None:  # type: ignore[no-untyped-def]
    result = run_thor("--config", str(config(tmp_path, github, registry)), "doctor", "--json")
    assert result.exit_code == 0, result.stdout
    checks = rows(result)
    assert checks[f"github {GITOPS}"] == ("ok", "readable; default branch master")
    assert checks["env qa"] == ("ok", f"{GITOPS}:qa (helm-values, stage qa), base master")
    assert checks["registry quay.io"] == ("ok", f"{registry.url}: answers (Bearer authentication)")


def test_a_missing_token_or_base_branch_is_exit_2_and_a_down_registry_exit_3(  # type: ignore[no-untyped-def]
    tmp_path, run_thor, github, registry, monkeypatch
) -> None:
    path = config(tmp_path, github, registry, base="main")
    monkeypatch.delenv("THOR_GITHUB_TOKEN")
    result = run_thor("--config", str(path), "doctor", "--json")
    assert result.exit_code == 2
    checks = rows(result)
    assert checks[f"github {GITOPS}"] == ("FAIL", "THOR_GITHUB_TOKEN is not set (GitHub pull requests need a token)")
    assert checks["env qa"] == ("FAIL", f"{GITOPS}: base branch main does not exist")
    monkeypatch.setenv("THOR_GITHUB_TOKEN", github.token)
    (tmp_path / "thor.toml").write_text(path.read_text().replace('base_branch = "main"\n', ""))
    registry.down()
    result = run_thor("--config", str(path), "doctor", "--json")
    assert result.exit_code == 3
    assert rows(result)["registry quay.io"][0] == "FAIL" and "connection refused" in rows(result)["registry quay.io"][1]
