"""The PyGithub client Thor builds, against the fake GitHub: auth, errors mapped to one line, rate limits."""

from __future__ import annotations

import pytest

from tests.conftest import serve_fake
from tests.fakes.github_server import FakeGitHub
from thor_cli.adapters.github import GitHubUnavailable, check_api_url
from thor_cli.adapters.github_api import GitHubRequestError, github_client, github_errors
from thor_cli.config import Settings, parse_config
from thor_cli.errors import ConfigError, ExitCode


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeGitHub(), monkeypatch, THOR_GITHUB_TOKEN="token")


def settings_for(api_url: str) -> Settings:
    config = parse_config({"github": {"api_url": api_url, "timeout": 5, "write_interval": 0, "allow_http": True}})
    return Settings(config=config, path=None, database_url="sqlite://")


def test_opens_lists_and_labels_a_pull_request(github: FakeGitHub) -> None:
    settings = settings_for(github.url)
    with github_client(settings) as gh, github_errors("opening a pull request", settings):
        repo = gh.get_repo("uc-cdis/gen3-gitops")
        pull = repo.create_pull(
            title="Gen3 Monthly Release 2021.09 qa", body="b", head="thor/2021.09-qa", base="master"
        )
        pull.add_to_labels("gen3-release")
        found = list(repo.get_pulls(state="all", head="uc-cdis:thor/2021.09-qa"))
    assert [p.number for p in found] == [pull.number]
    assert github.pulls_of("uc-cdis/gen3-gitops")[0]["labels"][0]["name"] == "gen3-release"
    assert all(h["authorization"].endswith(github.token) for h in github.headers_seen)


def test_a_duplicate_pull_request_is_a_step_error_with_its_status(github: FakeGitHub) -> None:
    settings = settings_for(github.url)
    with github_client(settings) as gh:
        repo = gh.get_repo("o/r")
        repo.create_pull(title="t", body="", head="b", base="master")
        with pytest.raises(GitHubRequestError) as caught, github_errors("opening o/r#b", settings):
            repo.create_pull(title="t", body="", head="b", base="master")
    assert caught.value.status == 422
    assert "A pull request already exists for o:b" in caught.value.message
    assert caught.value.exit_code == ExitCode.STEP_FAILED


def default_branch(settings: Settings, repo: str = "o/r") -> str:
    with github_client(settings) as gh, github_errors(f"reading {repo}", settings):
        return gh.get_repo(repo).default_branch


def test_bad_token_down_server_and_spent_rate_limit_are_unavailable(github: FakeGitHub, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(github.url)
    monkeypatch.setenv("THOR_GITHUB_TOKEN", "ghp_wrongwrongwrongwrongwrong1234")
    with pytest.raises(GitHubUnavailable, match="refused the token") as caught:
        default_branch(settings)
    assert "ghp_wrong" not in caught.value.message
    monkeypatch.setenv("THOR_GITHUB_TOKEN", github.token)
    github.rate_limit_next(5, reset_in=3600)  # an hour away: longer than Thor waits
    with pytest.raises(GitHubUnavailable, match="rate limit"):
        default_branch(settings)
    github.clear_faults()
    github.down()
    with pytest.raises(GitHubUnavailable, match="unreachable: connection refused"):
        default_branch(settings)


def test_a_short_rate_limit_is_waited_out(github: FakeGitHub) -> None:
    settings = settings_for(github.url)
    github.rate_limit_next(1, reset_in=0)
    assert default_branch(settings) == "master"
    assert github.count("GET", "/repos/o/r") == 2


def test_missing_token_and_plain_http_to_another_host_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="THOR_GITHUB_TOKEN is not set"), github_client(settings_for("https://x")):
        pass
    monkeypatch.setenv("THOR_GITHUB_TOKEN", "t")
    # Refused when the configuration is loaded, before any client exists (see test_github_token_transport.py).
    with pytest.raises(ConfigError, match="allow_http is only for a loopback test server"):
        settings_for("http://github.example.com")
    for url in ("http://127.0.0.1:9/api/v3", "http://localhost:8080", "http://[::1]:80", "https://ghe.example.com"):
        check_api_url(url, allow_http=True)
