"""A month with environments, every part real: the git steps against bare repositories, images pushed by skopeo
to the CNCF distribution registry while ``check-images`` waits, rollout pull requests pushed with real git to
a GitOps repository (Helm values) and a manifest repository (manifest.json) and opened on the fake GitHub, the
Slack thread on the fake Slack. A tick is SIGKILLed after it pushed an environment's branch and before GitHub
heard of the pull request; three ticks then race to finish the rollout. Each pull request is opened once; one
is merged, one declined, one left open, and ``thor status``, ``thor envs`` and Slack say so.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import serve_fake, write_config
from tests.fakes import gitrepos as g
from tests.fakes.github_server import FakeGitHub
from tests.fakes.http import FakeServer, Request, Response
from tests.fakes.oci_registry import RegistryServer, push_image
from tests.reliability.helpers import Cli, kill, make_remotes, pushes, reply_texts, run_together, threads_of
from tests.support import isolate_git, spawn, steps_toml, wait_for

pytestmark = pytest.mark.slow

VERSION, BRANCH = "2021.09", "integration202109"
REPOS = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/tube")
GITOPS, MANIFESTS = "uc-cdis/gen3-gitops", "uc-cdis/cdis-manifest"
CI_VALUES = """\
# CI: moved to every integration branch
fence:
  image:
    tag: "2021.08"
indexd:
  image:
    tag: "2021.08"
etl:
  image:
    tube:
      tag: "2021.08"   # the ETL mapping needs tube
"""
QA_VALUES = """\
indexd:
  image:
    tag: "2021.08"
etl:
  enabled: false
  image:
    tube:
      tag: "2021.07"
"""
QA_FENCE = 'fence:\n  image:\n    tag: "2021.08"\n  USER_YAML: |\n    users: {}\n'
STAGING_VALUES = 'fence:\n  image:\n    tag: "2021.08"\nindexd:\n  image:\n    tag: "2021.08"\n'
PROD_MANIFEST = """{
  "notes": ["prod commons"],
  "versions": {
    "fence": "quay.io/cdis/fence:2021.08",
    "indexd": "quay.io/cdis/indexd:2021.08",
    "tube": "quay.io/cdis/tube:2021.08"
  },
  "global": {"hostname": "prod.example.org"}
}
"""


@pytest.fixture(autouse=True)
def git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeGitHub(), monkeypatch, THOR_GITHUB_TOKEN="token")


class Drop:
    """Hold the first request that ``matches`` and never serve it: the client is killed meanwhile, so GitHub
    never acts on it (``Hold`` in tests/reliability serves it once let go)."""

    def __init__(self, fake: FakeServer, matches) -> None:  # type: ignore[no-untyped-def]
        self.fake, self.matches = fake, matches
        self.reached = threading.Event()
        self._go = threading.Event()
        self._serve = fake.handle
        self._taken = False

    def _handle(self, request: Request) -> Response:
        if self._taken or not self.matches(request):
            return self._serve(request)
        self._taken = True
        self.reached.set()
        self._go.wait(30)
        return Response.json({"message": "dropped"}, 503)

    def __enter__(self) -> Drop:
        self.fake.handle = self._handle  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self._go.set()
        self.fake.__dict__.pop("handle", None)


def config_for(tmp_path: Path, database_url: str, github: FakeGitHub, slack, registry: RegistryServer, ns: str) -> Path:  # type: ignore[no-untyped-def]
    remotes = tmp_path / "remotes"
    environments = f"""
[github]
api_url = "{github.url}"
allow_http = true
write_interval = 0

[slack]
channel = "releases"
base_url = "{slack.url}/api/"

[services]
image_prefix = "quay.io/{ns}"

[services.registries."quay.io"]
url = "{registry.url}"

[environments.ci]
repo = "{GITOPS}"
path = "ci/default"
stage = "ci"
owner = "Release bot"

[environments.qa]
repo = "{GITOPS}"
path = "qa"
stage = "qa"
owner = "U0QAOWNER1"
labels = ["gen3-release", "automerge"]

[environments.staging]
repo = "{GITOPS}"
path = "staging"
stage = "staging"
owner = "Sam Staging"
skip_services = ["indexd"]

[environments.prod]
repo = "{MANIFESTS}"
path = "prod.example.org"
format = "manifest-json"
stage = "prod"
owner = "@prod-pm"
slack_user = "U0PRODPM01"
"""
    steps = steps_toml(
        {
            "create-jira-release": "",
            "load-tests": "",
            "release-notes": "",
            "mark-released": "",
            "check-images": 'tag = "{integration_branch}"\npoll_every = "10m"',
            "check-release-images": 'poll_every = "10m"',
            "rollout": 'skip_stages = ["ci"]\ntimeout = "1h"\npoll_every = "30m"',
        }
    )
    names = ", ".join(f'"{n}"' for n in REPOS)
    repos = f'[repos]\nnames = [{names}]\nurl = "{g.file_url(remotes)}/{{repo}}.git"\nconcurrency = 1\n'
    return write_config(tmp_path / "thor.toml", repos + environments + steps, database_url)


def test_a_month_of_rollouts(  # type: ignore[no-untyped-def]
    run_thor,
    tmp_path: Path,
    database_url: str,
    github: FakeGitHub,
    slack_fake,
    registry_server,
    image_layout,
    namespace,
) -> None:
    remotes = tmp_path / "remotes"
    make_remotes(remotes, REPOS)
    gitops = g.make_remote(
        remotes,
        GITOPS,
        history=[
            g.Change(
                "environments",
                {
                    "ci/default/values/values.yaml": CI_VALUES,
                    "qa/values/values.yaml": QA_VALUES,
                    "qa/values/fence.yaml": QA_FENCE,
                    "staging/values/values.yaml": STAGING_VALUES,
                },
            )
        ],
    )
    manifests = g.make_remote(
        remotes, MANIFESTS, history=[g.Change("prod", {"prod.example.org/manifest.json": PROD_MANIFEST})]
    )
    for remote in (gitops, manifests):  # log every pushed ref, as make_remotes does
        hook = remote / "hooks" / "post-receive"
        hook.parent.mkdir(exist_ok=True)
        hook.write_text(
            f'#!/bin/sh\nwhile read old new ref; do echo "$ref" >> "{(remote / "pushes.log").resolve()}"; done\n'
        )
        hook.chmod(0o755)
    config = config_for(tmp_path, database_url, github, slack_fake, registry_server, namespace)
    thor = Cli(run_thor, config)

    def tick(now: str) -> None:
        result = thor.tick(now)
        assert result.exit_code == 0, result.stderr

    def push(name: str, tag: str) -> None:
        push_image(registry_server.url, image_layout, f"{namespace}/{name}:{tag}")

    def show(path: str, branch: str, remote: Path = gitops) -> str:
        return subprocess.run(
            ["git", "--git-dir", remote, "show", f"{branch}:{path}"], capture_output=True, text=True, check=True
        ).stdout

    # Feature freeze: the branches are cut, the integration images are not built yet.
    tick("2021-09-10T09:00")
    steps = thor.steps()
    assert steps["split-branch"]["status"] == "succeeded"
    assert steps["check-images"]["status"] == "waiting"
    assert steps["check-images"]["detail"].startswith("3 of 3 images not there yet")
    assert steps["rollout-ci"]["status"] == "pending"

    push("fence", BRANCH)
    tick("2021-09-10T09:11")
    detail = thor.steps()["check-images"]["detail"]
    assert detail.startswith("2 of 3 images not there yet") and f"{namespace}/fence:" not in detail
    assert f"quay.io/{namespace}/indexd:{BRANCH}" in detail

    push("indexd", BRANCH)
    push("tube", BRANCH)
    tick("2021-09-10T09:22")
    steps = thor.steps()
    assert steps["check-images"]["status"] == "succeeded"
    assert steps["rollout-ci"]["status"] == "waiting"
    [ci_pull] = github.pulls_of(GITOPS)
    assert ci_pull["title"] == f"Gen3 integration {BRANCH} ci"
    ci_branch = f"thor/{BRANCH}/ci"
    assert ci_pull["head"]["ref"] == ci_branch
    # Comments stay (a longer value pushes a trailing comment right, as ruamel.yaml keeps its column if it can).
    expected = CI_VALUES.replace('"2021.08"   #', f'"{BRANCH}" #').replace('"2021.08"', f'"{BRANCH}"')
    assert show("ci/default/values/values.yaml", ci_branch) == expected

    # The CI environment's owner merges it (GitHub moves master to the branch).
    github.merge_pull(GITOPS, ci_pull["number"])
    g.set_ref(gitops, "master", g.heads(gitops)[ci_branch])
    tick("2021-09-10T09:55")
    assert thor.steps()["rollout-ci"]["status"] == "succeeded"

    # Code freeze: merged and tagged; the release images appear; the rollout starts and is killed after the
    # push of qa's branch, before its pull request reaches GitHub.
    tick("2021-09-24T09:00")
    assert thor.steps()["merge-stable"]["status"] == "succeeded"
    assert thor.steps()["check-release-images"]["status"] == "waiting"
    for name in ("fence", "indexd", "tube"):
        push(name, VERSION)
    with Drop(github, lambda r: r.method == "POST" and r.path.endswith("/pulls")) as dropped:
        process = spawn(config, "tick", "--now", "2021-09-24T09:11")
        try:
            wait_for(lambda: dropped.reached.is_set() or process.poll() is not None, "qa's pull request request")
        finally:
            killed = kill(process)
    assert killed.code == -signal.SIGKILL, killed
    assert pushes(gitops).count("refs/heads/thor/2021.09/qa") == 1
    assert [p["head"]["ref"] for p in github.pulls_of(GITOPS)] == [ci_branch]  # qa's never reached GitHub

    # The dead tick's lease (1h + 5m) runs out; three ticks race to take the rollout over.
    results = run_together(config, "tick", "--now", "2021-09-24T10:20", count=3)
    assert all(r.code == 0 for r in results), [r.stderr for r in results]
    rollouts = {p["head"]["ref"]: p for p in github.pulls_of(GITOPS) + github.pulls_of(MANIFESTS)}
    assert sorted(rollouts) == sorted([ci_branch, "thor/2021.09/prod", "thor/2021.09/qa", "thor/2021.09/staging"])
    assert github.count("POST", "/pulls") == 4  # ci, then qa, staging and prod once (the dropped one never got in)
    assert pushes(gitops).count("refs/heads/thor/2021.09/qa") == 1  # recovered without a second push
    qa, staging, prod = (rollouts[f"thor/2021.09/{name}"] for name in ("qa", "staging", "prod"))
    assert [label["name"] for label in qa["labels"]] == ["gen3-release", "automerge"]
    assert show("qa/values/fence.yaml", "thor/2021.09/qa") == QA_FENCE.replace("2021.08", VERSION)
    assert show("qa/values/values.yaml", "thor/2021.09/qa") == QA_VALUES.replace('"2021.08"', f'"{VERSION}"')
    assert show("staging/values/values.yaml", "thor/2021.09/staging") == STAGING_VALUES.replace(
        'fence:\n  image:\n    tag: "2021.08"', f'fence:\n  image:\n    tag: "{VERSION}"'
    )  # indexd is skipped there
    assert show("prod.example.org/manifest.json", "thor/2021.09/prod", manifests) == PROD_MANIFEST.replace(
        ":2021.08", f":{VERSION}"
    )
    assert "| fence | 2021.08 | 2021.09 |" in prod["body"] and "Owner: @prod-pm" in prod["body"]
    assert thor.steps()["rollout"]["status"] == "waiting"

    # The owners: qa merges, staging declines, prod approves but leaves it open.
    github.merge_pull(GITOPS, qa["number"])
    github.close_pull(GITOPS, staging["number"])
    github.add_review(MANIFESTS, prod["number"], "prod-pm")
    tick("2021-09-24T10:52")
    rollout = thor.steps()["rollout"]
    assert rollout["status"] == "waiting"
    assert rollout["detail"].startswith("merged: qa; declined: staging; opened: prod")

    # What people see.
    status = thor.status()
    shown = {(e["name"], e["step"]): e["status"] for e in status["environments"]}
    assert shown == {
        ("ci", "rollout-ci"): "merged",
        ("qa", "rollout"): "merged",
        ("staging", "rollout"): "declined",
        ("prod", "rollout"): "opened",
    }
    envs = thor("envs", "--json")
    assert envs.exit_code == 0, envs.stderr
    by_name = {e["name"]: e for e in envs.json()["environments"]}
    assert {n: e["release"] for n, e in by_name.items()} == {
        "ci": VERSION,
        "qa": VERSION,
        "staging": None,
        "prod": None,
    }
    [open_prod] = by_name["prod"]["rollouts"]
    assert (open_prod["status"], open_prod["pr_number"], open_prod["approvals"]) == ("opened", prod["number"], 1)
    assert open_prod["pr_url"] == prod["html_url"] and open_prod["opened_at"].endswith("+00:00")
    assert by_name["prod"]["slack_user"] == "U0PRODPM01" and by_name["qa"]["slack_user"] == "U0QAOWNER1"
    assert [r["status"] for r in by_name["staging"]["rollouts"]] == ["declined"]
    table = thor("envs")
    assert table.exit_code == 0 and "prod" in table.stdout and prod["html_url"] in table.stdout

    [thread] = threads_of(slack_fake)
    replies = reply_texts(slack_fake, thread)
    mine = [text for text in replies if text.split(":")[0].split(" ")[0] in ("ci", "qa", "staging", "prod")]
    assert Counter(mine) == Counter(set(mine)), mine  # each said once
    assert any(t.startswith("qa: rollout of 2021.09 opened") and "<@U0QAOWNER1>" in t for t in mine)
    assert any(t.startswith("qa is on 2021.09") for t in mine)
    assert any(t.startswith("staging declined 2021.09") for t in mine)
    assert any(t.startswith("prod: rollout of 2021.09 opened") and "<@U0PRODPM01>" in t for t in mine)
    assert not any(t.startswith("prod is on") for t in mine)
    assert any(t.startswith(f"ci is on {BRANCH}") for t in mine)
