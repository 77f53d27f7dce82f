"""A real month for the board's tests, built once per database backend: git against bare repositories and the
real JIRA, Jenkins and Slack clients against their fakes, driven by ``thor tick --now`` in America/Chicago.

September 2021: peregrine refuses pushes on feature-freeze day (split-branch retries it), a ``qa-signoff`` gate
waits at code freeze until someone approves it, then the release goes out. October 2021: the ``smoke`` command
fails for good, so 2021.10 is blocked. One pull request title and the smoke test's output carry a ``<script>``.
The site is rendered at each of those moments (``Month.snapshots``), and written by ``thor tick`` itself
through ``[report] dir`` (``Month.site``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.fakes import gitrepos as g
from tests.fakes.gitrepos import DEFAULT_HISTORY, Tag
from tests.support import git_config

NAMES = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/peregrine")
HOSTILE_TITLE = '<script>alert("pr")</script> Fix pagination'
HOSTILE_OUTPUT = '<script>alert("out")</script>'
HOSTILE_OWNER = "<i>Mallory</i> & co"
TIMEZONE = "America/Chicago"
SMOKE = f"""import pathlib, sys
print({HOSTILE_OUTPUT!r})
sys.exit(1 if pathlib.Path(sys.argv[1]).exists() else 0)
"""


@dataclass
class Month:
    root: Path
    config: Path
    database_url: str
    site: Path
    snapshots: dict[str, dict[str, str]] = field(default_factory=dict)
    ticks: list[CliResult] = field(default_factory=list)


def run(config: Path, *args: str) -> CliResult:
    """The CLI in this process (``run_thor`` is function-scoped; the month is built once per module)."""
    import io

    from thor_cli.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--config", str(config), *args])
    return CliResult(code, out.getvalue(), err.getvalue())


def snapshot(month: Month, name: str, now: str) -> None:
    from thor_cli.report.build import render_site
    from thor_cli.runtime import Runtime

    rt = Runtime.create(month.config, now)
    try:
        month.snapshots[name] = render_site(rt)
    finally:
        rt.close()


@contextlib.contextmanager
def services(root: Path) -> Iterator[tuple[object, object, object]]:
    from tests.fakes.jenkins_server import FakeJenkins
    from tests.fakes.jira_server import FakeJira
    from tests.fakes.slack_server import FakeSlack

    with FakeJira() as jira, FakeJenkins() as jenkins, FakeSlack() as slack, pytest.MonkeyPatch.context() as mp:
        for key, value in g.isolated_env(root / "git-home").items():
            mp.setenv(key, value)
        mp.setenv("THOR_JIRA_USER", jira.user)
        mp.setenv("THOR_JIRA_TOKEN", jira.token)
        mp.setenv("THOR_JENKINS_USER", jenkins.user)
        mp.setenv("THOR_JENKINS_TOKEN", jenkins.token)
        mp.setenv("THOR_SLACK_TOKEN", slack.token)
        for name in ("THOR_CONFIG", "THOR_NOW", "THOR_DATABASE_URL", "GIT_DIR", "GIT_WORK_TREE"):
            mp.delenv(name, raising=False)
        yield jira, jenkins, slack


def build_month(root: Path, database_url: str) -> Month:
    with services(root) as (jira, jenkins, slack):
        remotes = {
            name: g.make_remote(root / "remotes", name, history=[*DEFAULT_HISTORY, Tag("2021.08", "Gen3 2021.08")])
            for name in NAMES
        }
        g.add_pr(remotes["uc-cdis/fence"], 10, "Add data upload endpoint")
        g.add_pr(remotes["uc-cdis/indexd"], 11, HOSTILE_TITLE, squash=True)
        jenkins.add_job("gen3-load-tests", polls_until_done=1)  # type: ignore[attr-defined]
        (root / "smoke.py").write_text(SMOKE)
        fail_flag = root / "smoke-fails"
        steps = f"""
[schedule]
timezone = "{TIMEZONE}"

[jira]
url = "{jira.url}"
project = "GEN3"
max_retries = 0

[jenkins]
url = "{jenkins.url}"

[slack]
channel = "releases"
base_url = "{slack.url}/api/"

[report]
dir = "site"

[environments.qa-niaid]
repo = "uc-cdis/gen3-gitops"
path = "qa-niaid"
stage = "qa"
owner = "Ada Lovelace"

[environments.prod-brh]
repo = "uc-cdis/cdis-manifest"
path = "brh.data-commons.org"
format = "manifest-json"
stage = "prod"
owner = "{HOSTILE_OWNER}"

# No image registry and no GitOps repositories here: the environments' own month (tests/environments)
# runs the rollouts; this one shows the environments as configured, with no rollout yet.
[steps.check-images]
enabled = false

[steps.rollout-ci]
enabled = false

[steps.check-release-images]
enabled = false

[steps.rollout]
enabled = false

[steps.split-branch]
retry_after = "1h"

[steps.load-tests]
poll_every = "5m"

[steps.smoke]
uses = "command"
run = ["python3", "{root / "smoke.py"}", "{fail_flag}"]
after = ["split-branch"]
max_attempts = 1

[steps.qa-signoff]
uses = "gate"
on = "code_freeze"

[steps.merge-stable]
after = ["load-tests", "qa-signoff"]
"""
        config = git_config(root, NAMES, steps, database_url)
        month = Month(root, config, database_url, root / "site")

        def tick(now: str) -> None:
            result = run(config, "tick", "--now", now)
            month.ticks.append(result)
            assert result.exit_code in (0, 1), (now, result.stdout, result.stderr)

        peregrine = remotes["uc-cdis/peregrine"]
        g.reject_pushes(peregrine, "pushes are frozen")
        tick("2021-09-10T09:00")
        snapshot(month, "retrying", "2021-09-10T09:05")
        g.allow_pushes(peregrine)
        for now in ("2021-09-10T10:30", "2021-09-10T10:40", "2021-09-10T10:50"):
            tick(now)
        tick("2021-09-24T09:00")
        snapshot(month, "gate", "2021-09-24T09:05")
        approved = run(
            config, "approve", "2021.09", "qa-signoff", "--note", "QA <b>ok</b>", "--now", "2021-09-24T09:30"
        )
        assert approved.exit_code == 0, approved.stderr
        tick("2021-09-24T10:00")
        snapshot(month, "released", "2021-09-24T12:00")
        fail_flag.write_text("")
        tick("2021-10-08T09:00")
        snapshot(month, "blocked", "2021-10-08T09:05")
        return month
