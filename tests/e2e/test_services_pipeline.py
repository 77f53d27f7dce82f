"""The default pipeline through a month of ``thor tick`` with the fake JIRA, Jenkins and Slack.

The git steps and the release notes are ``command`` steps here (their own end-to-end test uses real git
repositories); everything else is the built-in step, talking HTTP to the fakes.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_config
from tests.support import STEP_NAMES
from thor_cli.adapters.slack import release_metadata

VERSION = "2021.09"  # feature freeze Fri 2021-09-10, code freeze Fri 2021-09-24
JOB = "gen3-load-tests"


def command(script: str) -> str:
    return f'uses = "command"\nrun = ["sh", "-c", "{script}"]\n'


def test_a_month_of_ticks(
    run_thor, tmp_path: Path, database_url: str, jira_fake, jenkins_fake, slack_fake, slack_broadcasts
) -> None:
    jenkins_fake.add_job(JOB, polls_until_done=1)
    (tmp_path / "codenames.csv").write_text(f"{VERSION},Cobaltite\n", encoding="utf-8")
    config = write_config(
        tmp_path / "thor.toml",
        f"""
[schedule]
codenames = "codenames.csv"

[jira]
url = "{jira_fake.url}"
project = "GEN3"
max_retries = 0
create_tasks = true

[jenkins]
url = "{jenkins_fake.url}"

[slack]
channel = "releases"
base_url = "{slack_fake.url}/api/"

[steps.split-branch]
{command("echo split {integration_branch} >> side.txt")}
[steps.release-notes]
{command("mkdir -p release-notes && echo notes > release-notes/{version}.md")}
[steps.merge-stable]
{command("echo merge {version} >> side.txt")}
""",
        database_url,
    )

    def tick(now: str) -> int:
        return run_thor("--config", config, "tick", "--now", now).exit_code

    assert tick("2021-09-09T09:00") == 0
    assert slack_fake.posted == []  # nothing before the feature freeze
    for now in ("2021-09-10T09:00", "2021-09-10T09:10", "2021-09-13T09:00", "2021-09-20T09:00"):
        assert tick(now) == 0
    status = run_thor("--config", config, "status", VERSION, "--json").json()
    steps = {s["name"]: s["status"] for s in status["steps"]}
    done = ("create-jira-release", "split-branch", "load-tests", "release-notes", "check-images", "rollout-ci")
    later = ("merge-stable", "check-release-images", "rollout", "mark-released", "announce")
    assert steps == {name: "succeeded" for name in done} | {name: "pending" for name in later}
    for now in ("2021-09-24T09:00", "2021-09-27T09:00", "2021-10-01T09:00"):
        assert tick(now) == 0

    status = run_thor("--config", config, "status", VERSION, "--json").json()
    assert status["status"] == "released"
    assert (tmp_path / "side.txt").read_text().splitlines() == ["split integration202109", "merge 2021.09"]
    # JIRA: one version, created at feature freeze and released at code freeze; the story made once.
    assert (jira_fake.versions_created, jira_fake.versions_released) == (1, 1)
    version = jira_fake.version_named("GEN3", VERSION)
    assert version is not None
    assert (version["description"], version["releaseDate"]) == (
        "Gen3 Core Release 2021.09 Cobaltite",
        "2021-09-24",
    )
    assert jira_fake.issues_created == 1 + len(STEP_NAMES)  # the story and a sub-task per step
    # Jenkins: one build, with the release's parameters.
    assert jenkins_fake.builds_triggered == 1
    assert jenkins_fake.builds(JOB)[0].params == {
        "RELEASE_VERSION": VERSION,
        "INTEGRATION_BRANCH": "integration202109",
    }
    # Slack: one thread, its table up to date, the failures-and-announce channel posts.
    threads = [m for m in slack_fake.channel_messages("releases") if m.get("thread_ts") in (None, m["ts"])]
    assert [t["metadata"] for t in threads] == [release_metadata("thor_release", VERSION)]
    assert threads[0]["text"].startswith("*Gen3 release 2021.09 Cobaltite* — released")
    assert threads[0]["text"].count("✅") == len(STEP_NAMES)
    announcement = "Gen3 release 2021.09 Cobaltite is out: tag 2021.09, release notes: release-notes/2021.09.md"
    assert slack_broadcasts == [announcement]
    replies = [m["text"] for m in slack_fake.replies("releases", threads[0]["ts"])]
    assert announcement in replies
    assert len(replies) == len(set(replies))  # nothing delivered twice
    assert "✅ 2021.09 load-tests succeeded: build #1 succeeded" in " ".join(replies)
