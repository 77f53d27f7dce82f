"""With real-looking secrets set and every outside service failing in every way, no secret ever leaves Thor.

Tokens come from the environment; credentials also sit in a repository URL and in THOR_DATABASE_URL. The
fakes accept exactly these tokens, then refuse them, answer 500 or 400 with bodies that quote the request's
Authorization header back, or are down; a repository is unreachable. After ticks, a forced release-notes run,
`thor doctor`, `thor status` and `thor log`, neither a token, nor base64 of user:token, nor a password may
appear in stdout, stderr, any table of the database, the event log or a file Thor wrote.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import write_config
from tests.fakes import gitrepos as g
from tests.fakes.github_server import FakeGitHub
from tests.fakes.http import Request, Response
from tests.fakes.jenkins_server import FakeJenkins
from tests.fakes.jira_server import FakeJira
from tests.fakes.slack_server import FakeSlack
from tests.reliability.helpers import FEATURE_FREEZE, JOB, VERSION, Cli, services_toml
from tests.support import dump_text, isolate_git

JIRA_USER, JENKINS_USER = "thor-bot@example.org", "thor-bot"
TOKENS = {
    "THOR_JIRA_TOKEN": "tok-jira-5ecr3t-8d1f0c",
    "THOR_JENKINS_TOKEN": "tok-jenkins-5ecr3t-2b7e44",
    "THOR_SLACK_TOKEN": "xoxb-tok-slack-5ecr3t-91aa07",
    "THOR_GITHUB_TOKEN": "tok-github-5ecr3t-77c2e1",
}
REPO_PASSWORD = "repo-pa55-5ecr3t-4c9d"
DB_PASSWORD = "db-pa55-5ecr3t-0e3a"  # PostgreSQL here trusts local connections: any password will do


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BASIC = {
    "jira": b64(f"{JIRA_USER}:{TOKENS['THOR_JIRA_TOKEN']}"),
    "jenkins": b64(f"{JENKINS_USER}:{TOKENS['THOR_JENKINS_TOKEN']}"),
    "github": b64(f"x-access-token:{TOKENS['THOR_GITHUB_TOKEN']}"),  # how git sends the token
}


def header_echo(scheme: str, credentials: str) -> str:
    """An error page quoting the request's Authorization header back, as a careless proxy would."""
    return f"Bad gateway. Request headers were:\nHost: 127.0.0.1\nAuthorization: {scheme} {credentials}\n"


@dataclass
class World:
    jira: FakeJira
    jenkins: FakeJenkins
    slack: FakeSlack
    github: FakeGitHub


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    isolate_git(tmp_path, monkeypatch)
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("THOR_JIRA_USER", JIRA_USER)
    monkeypatch.setenv("THOR_JENKINS_USER", JENKINS_USER)
    fakes = (
        FakeJira(user=JIRA_USER, token=TOKENS["THOR_JIRA_TOKEN"]),
        FakeJenkins(user=JENKINS_USER, token=TOKENS["THOR_JENKINS_TOKEN"], jobs=(JOB,)),
        FakeSlack(token=TOKENS["THOR_SLACK_TOKEN"]),
        FakeGitHub(token=TOKENS["THOR_GITHUB_TOKEN"]),
    )
    for fake in fakes:
        fake.start()
    try:
        yield World(*fakes)  # type: ignore[arg-type]
    finally:
        for fake in fakes:
            fake.stop()
    for fake in fakes:
        assert not fake.errors, fake.errors[0]


def with_password(url: str) -> tuple[str, str]:
    """The URL with a password in it (the one it has, else ours) and that password."""
    if url.startswith("sqlite"):
        return url, DB_PASSWORD  # nowhere to put one; still checked for
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    netloc = f"{parts.username or 'postgres'}:{DB_PASSWORD}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc)), DB_PASSWORD


def forbidden(db_password: str) -> dict[str, str]:
    return {
        **TOKENS,
        **{f"base64 of the {name} credentials": value for name, value in BASIC.items()},
        "the repository password": REPO_PASSWORD,
        "the database password": db_password,
    }


def assert_clean(what: str, text: str, secrets: dict[str, str]) -> None:
    for name, value in secrets.items():
        assert value not in text, f"{name} leaked into {what}: …{text[max(0, text.find(value) - 80) :][:200]}…"


def test_no_secret_leaks_whatever_the_services_do(
    run_thor, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    url, db_password = with_password(database_url)
    monkeypatch.setenv("THOR_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "1000")  # nothing folded: a secret cut in two would go unnoticed
    g.make_remote(tmp_path / "remotes", "uc-cdis/fence")
    secret_url = f"https://thor:{REPO_PASSWORD}@127.0.0.1:1/uc-cdis/secret-repo.git"
    config = write_config(
        tmp_path / "thor.toml",
        services_toml(jira=world.jira, jenkins=world.jenkins, slack=world.slack, timeout=2)
        + f"""
[repos]
names = ["uc-cdis/fence", "uc-cdis/secret-repo"]
url = "{g.file_url(tmp_path / "remotes")}/{{repo}}.git"

[repos.overrides."uc-cdis/secret-repo"]
url = "{secret_url}"

[github]
api_url = "{world.github.url}"
allow_http = true
timeout = 2

[notify]
file = "notify.log"

[steps.load-tests]
after = []
""",
    )
    thor = Cli(run_thor, config)
    seen: list[str] = []

    def run(*args: str) -> None:
        result = thor(*args)
        assert "Traceback" not in result.stderr, result.stderr
        seen.append(f"$ thor {' '.join(args)}\n{result.stdout}{result.stderr}")

    # Feature freeze: JIRA answers 500 quoting the credentials, Jenkins and GitHub refuse the token (GitHub
    # quoting it back), Slack answers 500 quoting its token, one repository cannot be reached.
    world.jira.fail_next(100, status=500, body=header_echo("Basic", BASIC["jira"]))
    world.jenkins.token = "another-token"
    world.slack.fail_next(100, status=500, body=header_echo("Bearer", TOKENS["THOR_SLACK_TOKEN"]))
    world.github.echo_credentials, world.github.token = True, "another-token"
    run("tick", "--now", FEATURE_FREEZE, "--verbose")
    run("step", "release-notes", VERSION, "--force", "--now", FEATURE_FREEZE, "--verbose")
    run("doctor", "--now", FEATURE_FREEZE)
    run("doctor", "--json", "--now", FEATURE_FREEZE)
    steps = thor.steps()
    assert steps["split-branch"]["status"] == steps["create-jira-release"]["status"] == "pending"
    assert "uc-cdis/secret-repo" in steps["split-branch"]["detail"]
    assert "401" in steps["load-tests"]["detail"]
    assert world.github.count("GET", "/pulls/") >= 1, (steps["release-notes"]["detail"], seen[1])

    # Later: JIRA answers 400 quoting the credentials, Jenkins 500 quoting them, Slack refuses the token.
    for fake in (world.jira, world.slack):
        fake.clear_faults()
    world.jira.fail_next(100, status=400, body=header_echo("Basic", BASIC["jira"]))
    world.jenkins.token = TOKENS["THOR_JENKINS_TOKEN"]
    world.jenkins.fail_next(100, status=500, body=header_echo("Basic", BASIC["jenkins"]))
    world.slack.token = "another-token"
    run("tick", "--now", "2021-09-10T11:00", "--verbose")
    run("doctor", "--now", "2021-09-10T11:00")
    assert "400" in thor.steps()["create-jira-release"]["detail"]

    # Then everything is down.
    for fake in (world.jira, world.jenkins, world.slack, world.github):
        fake.down()
    run("tick", "--now", "2021-09-10T13:00", "--verbose")
    run("doctor", "--json", "--now", "2021-09-10T13:00")
    run("status", "--now", "2021-09-10T13:00")
    run("status", VERSION, "--json", "--now", "2021-09-10T13:00")
    run("log", VERSION)
    log = thor("log", VERSION, "--json")
    assert log.exit_code == 0

    secrets = forbidden(db_password)
    for text in seen:
        assert_clean(text.splitlines()[0], text, secrets)
    assert_clean("the event log", log.stdout, secrets)
    assert_clean("the database", dump_text(url), secrets)
    for path in [tmp_path / "notify.log", *sorted((tmp_path / "release-notes").glob("*"))]:
        if path.exists():
            assert_clean(str(path.name), path.read_text(), secrets)
    # The failures were reported, just without the secrets.
    events = json.loads(log.stdout)["events"]
    assert any("JIRA at" in e["message"] for e in events)
    assert any("secret-repo" in (e["message"] + (e["output"] or "")) for e in events)


ECHOES = {
    # A gateway answering JSON that quotes the request's headers in its message.
    "JSON": lambda credentials: Response.json(
        {"message": "request refused: " + json.dumps({"Authorization": f"Basic {credentials}"})}, 400
    ),
    # An error page listing the request's headers in a table.
    "HTML": lambda credentials: Response.text(
        f"<html><table><tr><th>Authorization</th><td>Basic {credentials}</td></tr></table></html>",
        400,
        "text/html",
    ),
}


@pytest.mark.parametrize("echo", list(ECHOES))
def test_credentials_quoted_back_in_another_shape_do_not_leak(
    run_thor, tmp_path: Path, world: World, db_dump, echo: str
) -> None:
    """The header quoted back, but not as an "Authorization: Basic ..." line: JIRA's 400 answers are shown
    to the user (they say what was wrong), so whatever they quote must be masked too."""
    database = f"sqlite:///{tmp_path / 'thor.db'}"
    config = write_config(
        tmp_path / "thor.toml",
        services_toml(jira=world.jira, timeout=2)
        + "\n[steps.create-jira-release]\nmax_attempts = 1\n"
        + "".join(f"[steps.{n}]\nenabled = false\n" for n in ("split-branch", "load-tests", "release-notes",
                                                               "merge-stable", "mark-released", "announce")),
        database,
    )  # fmt: skip
    serve = world.jira.handle

    def creating_fails(request: Request) -> Response:
        if request.method == "POST" and request.path == "/rest/api/2/version":
            return ECHOES[echo](BASIC["jira"])
        return serve(request)

    world.jira.handle = creating_fails  # type: ignore[method-assign]
    thor = Cli(run_thor, config)
    result = thor("tick", "--now", FEATURE_FREEZE, "--verbose")
    assert result.exit_code == 1  # the only step failed for good: the release is blocked
    detail = thor.steps()["create-jira-release"]["detail"]
    assert f"JIRA could not create version {VERSION} in project GEN3 (HTTP 400)" in detail
    log = thor("log", VERSION, "--json").stdout
    secrets = forbidden(DB_PASSWORD)
    for what, text in {"output": result.stdout + result.stderr, "the event log": log,
                       "the database": db_dump(database)}.items():  # fmt: skip
        assert_clean(what, text, secrets)
