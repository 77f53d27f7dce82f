"""``release-notes``, ``thor notes``, the GitHub adapter and the PR-description sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import serve_fake, write_config
from tests.fakes import gitrepos as g
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitrepos import DEFAULT_HISTORY, Tag
from tests.support import SERVICE_STEPS, disabled, dump_text, git_config, isolate_git
from thor_cli.adapters.github import (
    GitHubClient,
    GitHubError,
    GitHubUnavailable,
    api_slug,
    github_slug,
    pull_link,
)
from thor_cli.notes import PullNote, ReleaseNotes, RepoNotes, parse_sections, render_markdown

VERSION = "2021.09"  # feature freeze Fri 2021-09-10; the previous release is 2021.08
BRANCH = "integration202109"
NAMES = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/sheepdog")
STRANGE_TOKEN = "ghp_ThorNotesTokenMustNeverShow9876543210"
QUIET = disabled(*SERVICE_STEPS, "load-tests") + '\n[notify]\nfile = "messages.log"\n'


@pytest.fixture(autouse=True)
def git_home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def github(monkeypatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeGitHub(), monkeypatch, THOR_GITHUB_TOKEN="token")


class Thor:
    """Three repositories after a month of work, the release started and its branch cut.

    fence has the previous release's tag (2021.08), indexd only the previous integration branch, sheepdog
    neither. Pull requests #3 (merge), #4 (squash) in fence and #5 (squash) in indexd are new; #6 was merged
    after the cut and must not appear.
    """

    def __init__(self, run_thor, tmp_path: Path, database_url: str, extra: str = "") -> None:  # type: ignore[no-untyped-def]
        self.run_thor, self.dir, self.database_url = run_thor, tmp_path, database_url
        root = tmp_path / "remotes"
        fence = g.make_remote(root, "uc-cdis/fence", history=[*DEFAULT_HISTORY, Tag("2021.08", "Gen3 2021.08")])
        indexd = g.make_remote(root, "uc-cdis/indexd")
        sheepdog = g.make_remote(root, "uc-cdis/sheepdog")
        g.set_ref(indexd, "integration202108", g.heads(indexd)["master"])
        g.add_pr(fence, 3, "Add data upload endpoint")
        g.add_pr(fence, 4, "Fix pagination of the index", squash=True)
        g.add_pr(indexd, 5, "Speed up bulk lookups", squash=True)
        self.remotes = {"uc-cdis/fence": fence, "uc-cdis/indexd": indexd, "uc-cdis/sheepdog": sheepdog}
        self.config = git_config(tmp_path, NAMES, QUIET + extra, database_url)
        self.outputs: list[str] = []
        assert self("release", "start", VERSION).exit_code == 0
        assert self("step", "split-branch", VERSION).exit_code == 0
        g.add_pr(fence, 6, "Merged after the cut")

    def __call__(self, *args: str):  # type: ignore[no-untyped-def]
        result = self.run_thor("--config", self.config, *args, "--now", "2021-09-10T09:00")
        self.outputs += [result.stdout, result.stderr]
        return result

    def notes(self):  # type: ignore[no-untyped-def]
        return self("step", "release-notes", VERSION)

    def step(self) -> dict:
        steps = self("status", VERSION, "--json").json()["steps"]
        return next(s for s in steps if s["name"] == "release-notes")

    @property
    def path(self) -> Path:
        return self.dir / "release-notes" / f"{VERSION}.md"

    shown = f"release-notes/{VERSION}.md"  # as details and messages show it: relative to thor.toml

    def dump(self) -> str:
        return dump_text(self.database_url)


FENCE_SECTION = """## uc-cdis/fence

From `2021.08` ({since}) to `integration202109` ({until}).

### Pull requests

- Fix pagination of the index (#4)
- Add data upload endpoint (#3)
"""


def test_notes_between_the_previous_release_and_the_cut(run_thor, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(run_thor, tmp_path, database_url)
    result = thor.notes()
    assert result.exit_code == 0, (result.stdout, result.stderr)

    markdown = thor.path.read_text()
    fence = thor.remotes["uc-cdis/fence"]
    since, until = g.tags(fence)["2021.08"][:7], g.heads(fence)[BRANCH][:7]
    assert markdown.startswith(
        "# Release notes: Gen3 2021.09\n\nPull requests merged into `integration202109` since the previous "
        "release (2021.08), in 3 repositories: 5 pull requests.\n\n## uc-cdis/fence\n"
    )
    assert FENCE_SECTION.format(since=since, until=until) in markdown
    indexd = markdown.split("## uc-cdis/indexd\n")[1].split("\n## ")[0]
    assert "From `integration202108` (" in indexd and "- Speed up bulk lookups (#5)" in indexd
    assert "Add health check endpoint" not in indexd  # before the previous release
    sheepdog = markdown.split("## uc-cdis/sheepdog\n")[1]
    why = "no tag from 2021.08 back to 2020.09, and no branch integration202108"
    assert f"_no previous release found ({why}): the last 4 commits" in sheepdog
    assert "- Fix token refresh on expiry (#2)\n- Add health check endpoint (#1)\n" in sheepdog
    assert "#6" not in markdown and "Merged after the cut" not in markdown

    step = thor.step()
    assert step["status"] == "succeeded"
    assert step["detail"] == f"5 PRs in 3 repos written to {thor.shown}"
    assert step["link"] == str(thor.path)
    messages = (tmp_path / "messages.log").read_text()
    assert f"release notes ready: 5 PRs in 3 repos — {thor.shown}" in messages

    printed = thor("notes", VERSION)
    assert (printed.exit_code, printed.stdout) == (0, markdown)
    as_json = thor("notes", VERSION, "--json").json()
    assert as_json == {"version": VERSION, "path": str(thor.path), "source": "database", "markdown": markdown}

    # Run again: the same notes, the same file, no second message.
    assert thor("step", "release-notes", VERSION, "--force").exit_code == 0
    assert thor.path.read_text() == markdown
    assert (tmp_path / "messages.log").read_text().count("release notes ready") == 1


def test_thor_notes_falls_back_to_the_file_and_says_when_there_are_none(run_thor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "thor.toml", QUIET, f"sqlite:///{tmp_path / 'thor.db'}")

    def notes(*args: str):  # type: ignore[no-untyped-def]
        return run_thor("--config", config, "notes", *args)

    no_database = notes(VERSION)  # a read-only command: it never creates the database
    assert no_database.exit_code == 3
    assert no_database.stderr.startswith("thor: no database at ") and not (tmp_path / "thor.db").exists()
    assert run_thor("--config", config, "db", "upgrade").exit_code == 0
    missing = notes(VERSION)
    assert missing.exit_code == 1
    # Not `thor step release-notes`: a release that has not started runs no step (that would be refused).
    assert missing.stderr == (
        f"thor: no release notes yet for {VERSION} (the release has not started; "
        f"`thor release start {VERSION}` starts it)\n"
    )
    invalid = notes("not a version")
    assert invalid.exit_code == 2 and "invalid version" in invalid.stderr
    assert notes("1999.01").exit_code == 2  # no such cycle

    (tmp_path / "release-notes").mkdir()
    (tmp_path / "release-notes" / f"{VERSION}.md").write_text("# Written elsewhere\n")
    found = notes(VERSION, "--json")
    assert found.exit_code == 0
    assert found.json()["source"] == "file" and found.json()["markdown"] == "# Written elsewhere\n"


def test_descriptions_from_github_are_grouped_by_section(run_thor, tmp_path, github: FakeGitHub) -> None:  # type: ignore[no-untyped-def]
    github.add_pull(
        "uc-cdis/fence",
        3,
        "Add data upload endpoint",
        "Adds uploads.\r\n\r\n### New Features\r\n"
        "- Upload data through `/data/upload`\r\n  with resumable chunks\r\n"
        "<!-- describe deployment changes below -->\r\n### Bug Fixes\r\n* N/A\r\n"
        "### Deployment changes\r\n- New `UPLOAD_BUCKET` setting\r\n",
    )
    github.add_pull("uc-cdis/fence", 4, "Fix pagination of the index (title on GitHub)", "Just a fix.")
    github.add_pull("uc-cdis/indexd", 5, "Speed up bulk lookups", "### Improvements\n- Bulk lookups 3x faster\n")
    github.add_pull("uc-cdis/sheepdog", 2, "Fix token refresh", "### Bug Fixes\n1. Tokens refresh on expiry\n")
    thor = Thor(
        run_thor,
        tmp_path,
        f"sqlite:///{tmp_path / 'thor.db'}",
        f'[github]\napi_url = "{github.url}"\nallow_http = true\n',
    )

    assert thor.notes().exit_code == 0
    markdown = thor.path.read_text()
    fence = markdown.split("## uc-cdis/fence\n")[1].split("## uc-cdis/indexd")[0]
    assert fence.endswith(
        "### New Features\n\n- Upload data through `/data/upload` with resumable chunks (#3)\n\n"
        "### Deployment changes\n\n- New `UPLOAD_BUCKET` setting (#3)\n\n"
        "### Other pull requests\n\n- Fix pagination of the index (title on GitHub) (#4)\n\n"
    )
    assert "### Improvements\n\n- Bulk lookups 3x faster (#5)\n" in markdown
    sheepdog = markdown.split("## uc-cdis/sheepdog\n")[1]
    assert "### Bug Fixes\n\n- Tokens refresh on expiry (#2)\n\n### Other pull requests\n\n- Add health" in sheepdog
    # sheepdog#1 is unknown to GitHub: a warning, the rest enriched.
    assert "> **Warning:** uc-cdis/sheepdog#1 was not found on GitHub (HTTP 404: Not Found)\n" in markdown
    assert thor.step()["status"] == "succeeded"
    assert github.pull_requests_served() == 5
    seen = github.headers_seen[0]
    assert seen["authorization"] == f"Bearer {github.token}"
    assert seen["accept"] == "application/vnd.github+json"
    assert seen["x-github-api-version"] == "2022-11-28"


def test_github_down_still_writes_the_notes(run_thor, tmp_path, github: FakeGitHub) -> None:  # type: ignore[no-untyped-def]
    thor = Thor(
        run_thor,
        tmp_path,
        f"sqlite:///{tmp_path / 'thor.db'}",
        f'[github]\napi_url = "{github.url}"\nallow_http = true\n',
    )
    github.down()
    assert thor.notes().exit_code == 0
    markdown = thor.path.read_text()
    warning = f"GitHub at {github.url} is unreachable: connection refused: pull request descriptions are left out"
    assert f"> **Warning:** {warning}\n" in markdown
    assert markdown.count("**Warning:**") == 1  # GitHub is not asked again once it is known to be down
    assert "- Add data upload endpoint (#3)" in markdown
    step = thor.step()
    assert step["status"] == "succeeded"
    assert step["detail"] == f"5 PRs in 3 repos written to {thor.shown} (1 warning: {warning})"


def test_the_token_is_never_shown(run_thor, tmp_path, github: FakeGitHub, monkeypatch, database_url) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("THOR_GITHUB_TOKEN", STRANGE_TOKEN)  # GitHub refuses it and quotes it back
    github.echo_credentials = True
    thor = Thor(run_thor, tmp_path, database_url, f'[github]\napi_url = "{github.url}"\nallow_http = true\n')
    assert thor.notes().exit_code == 0
    assert thor("log", VERSION, "--json").exit_code == 0
    assert thor("notes", VERSION, "--json").exit_code == 0

    markdown = thor.path.read_text()
    assert "refused the token (HTTP 401: Bad credentials (you sent: Authorization: Bearer ***" in markdown
    assert github.headers_seen[0]["authorization"] == f"Bearer {STRANGE_TOKEN}"  # it was really sent
    everything = [markdown, thor.dump(), (tmp_path / "messages.log").read_text(), *thor.outputs]
    assert not [text for text in everything if STRANGE_TOKEN in text]
    assert not [text for text in everything if STRANGE_TOKEN[4:20] in text]


# -- the GitHub client against the fake ------------------------------------------------------------------


def client_for(fake: FakeGitHub, sleeps: list[float], **kw) -> GitHubClient:  # type: ignore[no-untyped-def]
    return GitHubClient(fake.url, fake.token, timeout=5, sleep=sleeps.append, **kw)


def test_client_reads_a_pull_request(github: FakeGitHub) -> None:
    github.add_pull("uc-cdis/fence", 3, "Add uploads", "### New Features\n- uploads\n", user="octo")
    pull = client_for(github, []).pull_request("uc-cdis/fence", 3)
    assert (pull.number, pull.title, pull.author) == (3, "Add uploads", "octo")
    assert pull.url == "https://github.com/uc-cdis/fence/pull/3"
    assert parse_sections(pull.body) == {"New Features": ["uploads"]}
    with pytest.raises(GitHubError, match=r"^uc-cdis/fence#4 was not found on GitHub \(HTTP 404: Not Found\)$"):
        client_for(github, []).pull_request("uc-cdis/fence", 4)


def test_client_waits_for_rate_limits_it_is_told_about(github: FakeGitHub) -> None:
    github.add_pull("uc-cdis/fence", 3, "Add uploads")
    sleeps: list[float] = []
    client = client_for(github, sleeps)

    github.rate_limit_next(1, reset_in=5)  # primary limit: wait until x-ratelimit-reset
    assert client.pull_request("uc-cdis/fence", 3).title == "Add uploads"
    assert len(sleeps) == 1 and 4 <= sleeps[0] <= 7

    github.fail_next(1, status=429, retry_after=2)  # secondary limit: retry-after
    assert client.pull_request("uc-cdis/fence", 3).number == 3
    assert sleeps[1:] == [2.0]

    github.fail_next(1, status=403, retry_after=1)
    assert client.pull_request("uc-cdis/fence", 3).number == 3
    assert sleeps[2:] == [1.0]
    assert github.pull_requests_served() == 6


def test_client_gives_up_on_long_or_repeated_rate_limits(github: FakeGitHub) -> None:
    github.add_pull("uc-cdis/fence", 3, "Add uploads")
    sleeps: list[float] = []
    github.rate_limit_next(1, reset_in=3600)
    with pytest.raises(GitHubUnavailable, match=r"rate limit reached .*lifts in 360[01]s, later than Thor waits"):
        client_for(github, sleeps).pull_request("uc-cdis/fence", 3)
    assert sleeps == []

    github.fail_next(3, status=429, retry_after=1)
    with pytest.raises(GitHubUnavailable, match=r"rate limit reached \(HTTP 429\) 3 times in a row"):
        client_for(github, sleeps).pull_request("uc-cdis/fence", 3)
    assert sleeps == [1.0, 1.0]

    # A response that spends the budget holds the next request until the reset (here: too long to wait).
    github.remaining = 1
    client = client_for(github, sleeps)
    assert client.pull_request("uc-cdis/fence", 3).number == 3
    served = github.pull_requests_served()
    with pytest.raises(GitHubUnavailable, match="rate limit spent until"):
        client.pull_request("uc-cdis/fence", 3)
    assert github.pull_requests_served() == served


def test_client_errors_are_one_redacted_line(github: FakeGitHub, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    github.fail_next(1, status=502, body="bad gateway\n<html>\n</html>")
    with pytest.raises(GitHubUnavailable) as info:
        client_for(github, []).pull_request("uc-cdis/fence", 3)
    assert str(info.value) == f"GitHub at {github.url} failed (HTTP 502: bad gateway <html> </html>)"

    monkeypatch.setenv("THOR_GITHUB_TOKEN", STRANGE_TOKEN)
    github.echo_credentials = True
    with pytest.raises(GitHubUnavailable) as refused:
        GitHubClient(github.url, STRANGE_TOKEN, timeout=5).pull_request("uc-cdis/fence", 3)
    assert STRANGE_TOKEN not in str(refused.value) and "refused the token (HTTP 401" in str(refused.value)
    assert STRANGE_TOKEN not in repr(GitHubClient(github.url, STRANGE_TOKEN))

    github.down()
    with pytest.raises(GitHubUnavailable, match=r"is unreachable: connection refused$"):
        client_for(github, []).pull_request("uc-cdis/fence", 3)


# -- pure functions ------------------------------------------------------------------------------------


def test_github_repositories_and_links() -> None:
    api = "https://api.github.com"
    assert github_slug("https://github.com/uc-cdis/fence.git", api) == "uc-cdis/fence"
    assert github_slug("git@github.com:uc-cdis/fence.git", api) == "uc-cdis/fence"
    assert github_slug("ssh://git@github.com/uc-cdis/fence", api) == "uc-cdis/fence"
    assert github_slug("https://gitlab.com/uc-cdis/fence.git", api) is None
    assert github_slug("file:///srv/git/uc-cdis/fence.git", api) is None
    assert pull_link("https://github.com/uc-cdis/fence.git", api, 12) == "https://github.com/uc-cdis/fence/pull/12"
    assert pull_link("file:///srv/git/uc-cdis/fence.git", api, 12) is None
    enterprise = "https://git.example.org/api/v3"
    assert (
        pull_link("https://git.example.org/gen3/fence.git", enterprise, 3)
        == "https://git.example.org/gen3/fence/pull/3"
    )
    assert api_slug("uc-cdis/fence", "file:///mirror/fence.git", api) == "uc-cdis/fence"
    assert api_slug("fence", "file:///mirror/fence.git", api) is None


def test_sections_of_a_description() -> None:
    body = (
        "Intro text that is not in a section.\n"
        "## new features:\n"
        "- First feature\n"
        "  continued here\n"
        "* Second feature\n"
        "\n"
        "Plain line in the section\n"
        "### Testing\n"
        "- not a release-notes section\n"
        "### Breaking Changes ###\n"
        "- none\n"
        "### Dependency Updates\n"
        "+ bump requests\n"
        "<!-- - a commented-out bullet\n- another -->\n"
        "#123 is not a heading\n"
    )
    assert parse_sections(body) == {
        "New Features": ["First feature continued here", "Second feature", "Plain line in the section"],
        "Dependency updates": ["bump requests", "#123 is not a heading"],
    }
    assert parse_sections(None) == {} == parse_sections("no sections at all")


def test_markdown_with_links_notes_and_errors() -> None:
    link = "https://github.com/uc-cdis/fence/pull/{}".format
    notes = ReleaseNotes(
        title="2021.09 Cobaltite",
        version="2021.09",
        integration_branch=BRANCH,
        previous=None,
        repos=[
            RepoNotes(
                "uc-cdis/fence", "2021.08", "a" * 40, BRANCH, "b" * 40,
                [PullNote(3, "Uploads", link(3), {"New Features": ["Uploads"], "Bug Fixes": ["Fix"]}),
                 PullNote(4, "Fix", link(4), {"Bug Fixes": ["Other fix"]})],
                enriched=True,
            ),
            RepoNotes("uc-cdis/indexd", until=BRANCH, until_sha="c" * 40, note="no previous release found"),
            RepoNotes("uc-cdis/broken", error="ls-remote failed: repository not found"),
        ],
        warnings=["GitHub is down"],
    )  # fmt: skip
    assert render_markdown(notes) == (
        "# Release notes: Gen3 2021.09 Cobaltite\n\n"
        "Pull requests merged into `integration202109`, in 3 repositories: 2 pull requests.\n\n"
        "> **Warning:** GitHub is down\n\n"
        "## uc-cdis/fence\n\nFrom `2021.08` (aaaaaaa) to `integration202109` (bbbbbbb).\n\n"
        "### New Features\n\n- Uploads ([#3](https://github.com/uc-cdis/fence/pull/3))\n\n"
        "### Bug Fixes\n\n- Fix ([#3](https://github.com/uc-cdis/fence/pull/3))\n"
        "- Other fix ([#4](https://github.com/uc-cdis/fence/pull/4))\n\n"
        "## uc-cdis/indexd\n\n_no previous release found_\n\nNo pull requests.\n\n"
        "## uc-cdis/broken\n\n> **Could not read the history:** ls-remote failed: repository not found\n"
    )
