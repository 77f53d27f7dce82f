"""Messages and hints: versions people mistype, hints that carry the real version and never suggest a command
that is then refused, GitHub links and errors that are one right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.http import FakeServer, Response
from tests.support import command, disabled, steps_toml
from thor_cli.adapters.github import GitHubClient, GitHubError, pull_link


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("2021.9", "no release cycle has version '2021.9': did you mean 2021.09?"),
        ("2021.09 ", "invalid version '2021.09 ' (spaces around it): did you mean 2021.09?"),
        (" 2021.09", "did you mean 2021.09?"),
        ("2040.01", "no release cycle has version '2040.01': the calendar runs from 2000.01 to "),
        ("1999.12", "the calendar runs from 2000.01 to "),
        ("abc", "no release cycle has version 'abc' (versions look like 2021.09)"),
    ],
)
def test_version_hints(run_thor, version: str, message: str) -> None:  # type: ignore[no-untyped-def]
    result = run_thor("status", version, "--now", "2021-09-01")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "looks like 2021.09" not in result.stderr or version == "abc"


def test_notes_of_a_cancelled_release_suggest_only_what_works(tmp_path: Path, monkeypatch, run_thor) -> None:  # type: ignore[no-untyped-def]
    steps = {n: command("true") for n in ("split-branch", "load-tests", "release-notes", "merge-stable")}
    (tmp_path / "thor.toml").write_text(disabled() + steps_toml(steps))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THOR_DATABASE_URL", f"sqlite:///{tmp_path / 'thor.db'}")
    monkeypatch.setenv("THOR_NOW", "2021-10-20")  # 2021.11 is less than a cycle away
    assert run_thor("release", "cancel", "2021.11").exit_code == 0
    notes = run_thor("notes", "2021.11")
    assert notes.exit_code == 1 and "thor step" not in notes.stderr
    suggested = notes.stderr.split("`")[1]
    assert suggested == "thor release start 2021.11"
    assert run_thor(*suggested.split()[1:]).exit_code == 0  # what it suggests is accepted


def test_enterprise_links_keep_the_port() -> None:
    api = "https://git.example.org:8443/api/v3"
    assert pull_link("https://git.example.org:8443/gen3/fence.git", api, 3) == (
        "https://git.example.org:8443/gen3/fence/pull/3"
    )
    # An ssh URL's port is ssh's: the web link takes the API's.
    assert pull_link("ssh://git@git.example.org:2222/gen3/fence.git", api, 3) == (
        "https://git.example.org:8443/gen3/fence/pull/3"
    )
    assert pull_link("https://github.com/uc-cdis/fence.git", "https://api.github.com", 3) == (
        "https://github.com/uc-cdis/fence/pull/3"
    )


class HtmlNotFound(FakeServer):
    """A GitHub Enterprise behind a proxy that answers unknown API paths with a whole HTML page."""

    name = "proxy"

    def __init__(self) -> None:
        super().__init__()
        page = "<!DOCTYPE html>\n<html><head><title>404</title></head><body>" + "<p>Not here</p>\n" * 200
        self.route("GET", r"/.*", lambda request, match: Response.text(page, 404, content_type="text/html"))


def test_a_github_404_is_one_line_without_the_html_page() -> None:
    with HtmlNotFound() as proxy, pytest.raises(GitHubError) as info:
        GitHubClient(proxy.url, "token", timeout=5).pull_request("uc-cdis/fence", 3)
    message = str(info.value)
    assert "<" not in message and "\n" not in message and len(message) < 200, message
    assert "not found on GitHub (HTTP 404)" in message


def test_the_release_notes_path_is_shown_once(tmp_path: Path, monkeypatch, run_thor) -> None:  # type: ignore[no-untyped-def]
    from thor_cli.cli.status_cmd import shown_link

    detail = "11 PRs in 5 repos written to release-notes/2021.09.md"
    assert shown_link(detail, str(tmp_path / "release-notes" / "2021.09.md")) is None
    assert shown_link("build 12 passed", "https://jenkins.example.org/job/x/12/") == (
        "https://jenkins.example.org/job/x/12/"
    )
