"""The demo's environments: a local GitOps repository and a local stand-in for GitHub and the image registry.

``StandIn`` is a small HTTP server on 127.0.0.1, in a thread of the demo process, answering the few GitHub
REST calls a rollout makes (the repository, pull requests: list by head, create, read, edit; reviews;
labels) and the registry's ``HEAD /v2/NAME/manifests/TAG`` (every image is "built"). The demo plays the
environments' owners through ``merge`` and ``decline``. It lives only while ``thor demo`` runs: a kept
sandbox's ``thor envs`` and ``thor status`` read the database and still work afterwards.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from thor_cli.adapters import proc

GITOPS = "uc-cdis/gen3-gitops"
TOKEN = "demo-token-for-the-local-stand-in"  # not a secret: the stand-in accepts only it
ENVIRONMENTS = {
    "ci": ("ci/default", "ci", "Release bot"),
    "qa": ("qa", "qa", "Quinn QA"),
    "staging": ("staging", "staging", "Sam Staging"),
}
_VALUES = """\
# {name}: the services this environment runs, and their tags
fence:
  image:
    tag: "2021.08"   # moved by each release
indexd:
  image:
    tag: "2021.08"
sheepdog:
  enabled: false     # switched off here: left alone
  image:
    tag: "2021.06"
"""
_PULLS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls(?:/(?P<n>\d+)(?P<rest>/reviews)?)?$")
_LABELS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/labels$")
_REPO = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)$")


class StandIn:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pulls: dict[int, dict[str, Any]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def pull_for(self, environment: str) -> dict[str, Any] | None:
        with self.lock:
            return next((p for p in self.pulls.values() if p["head"]["ref"].endswith(f"/{environment}")), None)

    def merge(self, environment: str) -> str:
        pull = self.pull_for(environment)
        if pull is None:
            return f"(no pull request for {environment})"
        with self.lock:
            pull.update(state="closed", merged=True, merged_at=_now(), closed_at=_now())
        return f"{ENVIRONMENTS[environment][2]} merges {pull['html_url']}"

    def decline(self, environment: str) -> str:
        pull = self.pull_for(environment)
        if pull is None:
            return f"(no pull request for {environment})"
        with self.lock:
            pull.update(state="closed", closed_at=_now())
        return f"{ENVIRONMENTS[environment][2]} closes {pull['html_url']} without merging"

    # -- the API ------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if method == "HEAD" and path.startswith("/v2/") and "/manifests/" in path:
            return 200, None  # the registry: CI has built every image
        if (match := _REPO.match(path)) and method == "GET":
            return 200, {"full_name": match["repo"], "name": match["repo"].split("/")[1], "default_branch": "master"}
        if match := _LABELS.match(path):
            pull = self.pulls.get(int(match["n"]))
            if pull is None:
                return 404, {"message": "Not Found"}
            names = body.get("labels", []) if isinstance(body, dict) else list(body or [])
            pull["labels"] += [{"name": n} for n in names if all(label["name"] != n for label in pull["labels"])]
            return 200, pull["labels"]
        match = _PULLS.match(path)
        if match is None:
            return 404, {"message": "Not Found"}
        if match["n"] is None:
            if method == "POST":
                return self._create(match["repo"], body)
            head = (query.get("head") or [""])[0]
            state = (query.get("state") or ["open"])[0]
            found = [p for p in self.pulls.values() if p["head"]["label"] == head and state in ("all", p["state"])]
            return 200, found[::-1]
        if match["repo"] != GITOPS:
            return _release_pull(match["repo"], int(match["n"]))  # the release notes read these
        pull = self.pulls.get(int(match["n"]))
        if pull is None:
            return 404, {"message": "Not Found"}
        if match["rest"]:
            return 200, pull.get("reviews", [])
        if method == "PATCH":
            pull.update({k: v for k, v in (body or {}).items() if k in ("title", "body")})
            if (body or {}).get("state") == "closed":
                pull.update(state="closed", closed_at=_now())
        return 200, pull

    def _create(self, repo: str, body: dict[str, Any]) -> tuple[int, Any]:
        label = f"{repo.split('/')[0]}:{body['head']}"
        if any(p["head"]["label"] == label and p["state"] == "open" for p in self.pulls.values()):
            return 422, {"message": "Validation Failed", "errors": [{"message": "A pull request already exists"}]}
        number = len(self.pulls) + 1
        api = f"{self.url}/repos/{repo}"
        self.pulls[number] = {
            "number": number,
            "title": body["title"],
            "body": body.get("body"),
            "state": "open",
            "merged": False,
            "merged_at": None,
            "closed_at": None,
            "created_at": _now(),
            "url": f"{api}/pulls/{number}",
            "issue_url": f"{api}/issues/{number}",
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "head": {"label": label, "ref": body["head"]},
            "base": {"ref": body["base"]},
            "labels": [],
        }
        return 201, self.pulls[number]


def _release_pull(repo: str, number: int) -> tuple[int, Any]:
    """A merged pull request of the demo's scenario (``thor_cli.demo``), as GitHub would show it."""
    from thor_cli import demo

    for plan in demo.REPOS:
        if f"{demo.ORG}/{plan.name}" != repo:
            continue
        for item in (*plan.before, *plan.after, *plan.hotfixes):
            if isinstance(item, demo.PR) and item.number == number:
                url = f"https://github.com/{repo}/pull/{number}"
                return 200, {"number": number, "title": item.title, "body": "", "html_url": url, "state": "closed"}
    return 404, {"message": "Not Found"}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            path = parts.path.removeprefix("/api/v3")
            if not path.startswith("/v2/") and self.headers.get("Authorization") not in (
                f"token {TOKEN}",
                f"Bearer {TOKEN}",
            ):
                status, data = 401, {"message": "Bad credentials"}
            else:
                with standin.lock:
                    status, data = standin.answer(self.command, path, parse_qs(parts.query), json.loads(raw or b"null"))
            payload = b"" if data is None else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if path.startswith("/v2/"):
                self.send_header("Docker-Content-Digest", "sha256:" + "0" * 64)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_HEAD = _serve

    return Handler


@contextmanager
def standin_running() -> Iterator[StandIn]:
    """The stand-in, with ``$THOR_GITHUB_TOKEN`` set to its token meanwhile (a real token is never sent)."""
    saved = os.environ.get("THOR_GITHUB_TOKEN")
    os.environ["THOR_GITHUB_TOKEN"] = TOKEN
    try:
        with StandIn() as standin:
            yield standin
    finally:
        if saved is None:
            os.environ.pop("THOR_GITHUB_TOKEN", None)
        else:
            os.environ["THOR_GITHUB_TOKEN"] = saved


def make_gitops(remote: Path) -> None:
    """The bare GitOps repository: one folder of Helm values per environment, one commit, no worktree."""
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_DATE": "2021-09-01T09:00:00Z"}
    env |= {
        "GIT_COMMITTER_DATE": "2021-09-01T09:00:00Z",
        "GIT_AUTHOR_NAME": "Gen3 Ops",
        "GIT_COMMITTER_NAME": "Gen3 Ops",
    }
    env |= {"GIT_AUTHOR_EMAIL": "ops@example.org", "GIT_COMMITTER_EMAIL": "ops@example.org"}

    def git(*args: str, input: str | None = None) -> str:
        return proc.run(["git", "--git-dir", str(remote), *args], env=env, input=input, timeout=60).stdout.strip()

    remote.parent.mkdir(parents=True, exist_ok=True)
    proc.run(["git", "init", "--quiet", "--bare", "--initial-branch=master", "--template=", str(remote)], env=env)
    git("config", "uploadpack.allowFilter", "true")
    git("config", "uploadpack.allowAnySHA1InWant", "true")

    def tree(entries: dict[str, str]) -> str:
        return git("mktree", input="".join(f"{entry}\t{name}\n" for name, entry in entries.items()))

    folders: dict[str, str] = {}
    for name, (path, _, _) in ENVIRONMENTS.items():
        blob = git("hash-object", "-w", "--stdin", input=_VALUES.format(name=name))
        values = tree({"values.yaml": f"100644 blob {blob}"})
        folder = tree({"values": f"040000 tree {values}"})
        top, _, sub = path.partition("/")
        folders.setdefault(top, "")
        folders[top] = tree({sub: f"040000 tree {folder}"}) if sub else folder
    root = tree({top: f"040000 tree {sha}" for top, sha in folders.items()})
    commit = git("commit-tree", root, "-m", "Environments ci, qa and staging")
    git("update-ref", "refs/heads/master", commit)


def config_block(url: str) -> str:
    """The thor.toml tables of the demo's environments."""
    lines = [
        "",
        "# A local stand-in answers for GitHub (the rollout pull requests) and the image registry.",
        f'[github]\napi_url = "{url}"\nallow_http = true\nwrite_interval = 0\n',
        f'[services.registries."quay.io"]\nurl = "{url}"\n',
        "# The manifest repository of the old environments is no service: it has no image to check.",
        "[services.repos.cdis-manifest]\nenabled = false\n",
    ]
    for name, (path, stage, owner) in ENVIRONMENTS.items():
        lines.append(
            f'[environments.{name}]\nrepo = "{GITOPS}"\npath = "{path}"\nstage = "{stage}"\nowner = "{owner}"\n'
        )
    return "\n".join(lines)
