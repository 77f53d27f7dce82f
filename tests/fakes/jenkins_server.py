"""A fake Jenkins that answers what python-jenkins 1.8.3 asks, with folders, a queue and builds.

Lifecycle of a triggered build (``POST .../buildWithParameters?K=V`` → 201 + ``Location: .../queue/item/N/``):

- the queue item is reported waiting (with ``why``) ``queue_polls`` times — each GET of the item and each
  ``/queue/api/json`` listing counts — and then leaves the queue (``LeftItem`` with ``executable``);
  with ``queue_polls=0`` the build starts at once;
- the build is reported ``building`` for ``polls_until_done`` GETs of its ``api/json``, then finishes with
  the job's outcome (``set_outcome``); with 0 it finishes as soon as it starts;
- ``forget_queue_item(n)`` makes the item answer 404, as Jenkins does ~5 minutes after it left the queue.

Credentials are checked on every request (Basic user:token; 401 when wrong, 403 when missing) and, with
``crumbs=True``, POSTs need the crumb from ``/crumbIssuer/api/json``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.fakes.http import FakeServer, Request, Response, basic_credentials

DEFAULT_USER = "thor-bot"
DEFAULT_TOKEN = "jenkins-fake-token-6c1e9a"
CRUMB = "fake-crumb-4f2a"
BUILD_CLASS = "hudson.model.FreeStyleBuild"
JOB_CLASS = "hudson.model.FreeStyleProject"
FOLDER_CLASS = "com.cloudbees.hudson.plugins.folder.Folder"
_JOB_PATH = re.compile(r"/((?:job/[^/]+/)*job/[^/]+)(?:/(.*))?")


@dataclass
class FakeBuild:
    job: str
    number: int
    params: dict[str, str]
    queue_id: int
    outcome: str
    polls_left: int
    timestamp_ms: int
    building: bool = True
    result: str | None = None
    duration_ms: int = 0
    console: str = ""
    runs_for: float | None = None


@dataclass
class FakeJob:
    name: str  # full name, "folder/job"
    outcome: str = "SUCCESS"
    polls_until_done: int = 0
    queue_polls: int = 0
    console: str = ""
    runs_for: float | None = None  # seconds of the fake's clock a build runs, instead of polls_until_done
    next_build_number: int = 1
    builds: list[FakeBuild] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass
class FakeQueueItem:
    id: int
    job: str
    params: dict[str, str]
    waits_left: int
    in_queue_since_ms: int
    cancelled: bool = False
    build: FakeBuild | None = None

    @property
    def waiting(self) -> bool:
        return not self.cancelled and self.build is None


class FakeJenkins(FakeServer):
    name = "jenkins"

    def __init__(
        self,
        *,
        user: str = DEFAULT_USER,
        token: str = DEFAULT_TOKEN,
        jobs: tuple[str, ...] = (),
        crumbs: bool = True,
        version: str = "2.452.1",
        port: int = 0,
        delay: float = 0.0,
    ) -> None:
        super().__init__(port=port, delay=delay)
        self.user, self.token, self.crumbs, self.version = user, token, crumbs, version
        self.jobs: dict[str, FakeJob] = {}
        self.queue: dict[int, FakeQueueItem] = {}
        self.builds_triggered = 0  # queue items created (a duplicate trigger that Jenkins refused is not one)
        self.triggers: list[tuple[str, dict[str, str]]] = []  # every accepted or refused trigger request
        self._next_queue_id = 100
        # The fake's clock (epoch seconds): a test that travels in time sets it to the ticks' time, so that a
        # build with ``runs_for`` lasts that long in the tests' time.
        self.clock: Any = time.time
        for job in jobs:
            self.add_job(job)
        self.route("GET", r"/", self._root_page)
        self.route("GET", r"/api/json", self._root_json)
        self.route("GET", r"/crumbIssuer/api/json", self._crumb)
        self.route("GET", r"/me/api/json", self._whoami)
        self.route("GET", r"/queue/api/json", self._queue_json)
        self.route("GET", r"/queue/item/(\d+)/api/json", self._queue_item_json)
        self.route("POST", r"/queue/cancelItem", self._cancel_item)
        self.route("*", _JOB_PATH.pattern, self._job_request)

    # -- test controls ------------------------------------------------------------------------------

    def add_job(
        self,
        name: str,
        *,
        outcome: str = "SUCCESS",
        polls_until_done: int = 0,
        queue_polls: int = 0,
        console: str = "",
    ) -> FakeJob:
        with self.lock:
            job = FakeJob(name.strip("/"), outcome, polls_until_done, queue_polls, console)
            self.jobs[job.name] = job
            return job

    def set_outcome(
        self,
        job: str,
        outcome: str,
        *,
        polls_until_done: int = 0,
        queue_polls: int | None = None,
        runs_for: float | None = None,
    ) -> None:
        """The result of the job's next builds and after how many polls of each (or how many seconds of the
        fake's clock); creates the job if needed."""
        with self.lock:
            fake_job = self.jobs.get(job) or self.add_job(job)
            fake_job.outcome = outcome
            fake_job.polls_until_done = polls_until_done
            fake_job.runs_for = runs_for
            if queue_polls is not None:
                fake_job.queue_polls = queue_polls

    def forget_queue_item(self, queue_id: int) -> None:
        with self.lock:
            self.queue.pop(queue_id, None)

    def cancel_queue_item(self, queue_id: int) -> None:
        with self.lock:
            self.queue[queue_id].cancelled = True

    def start_queued(self) -> None:
        """Give every waiting queue item an executor now."""
        with self.lock:
            for item in self.queue.values():
                if item.waiting:
                    self._start(item)

    def finish(self, job: str, number: int, result: str | None = None) -> None:
        with self.lock:
            self._complete(self._build(job, number), result)

    def builds(self, job: str) -> list[FakeBuild]:
        with self.lock:
            return list(self.jobs[job].builds)

    # -- state changes ------------------------------------------------------------------------------

    def _build(self, job: str, number: int) -> FakeBuild:
        return next(b for b in self.jobs[job].builds if b.number == number)

    def _start(self, item: FakeQueueItem) -> None:
        job = self.jobs[item.job]
        build = FakeBuild(
            job=job.name,
            number=job.next_build_number,
            params=dict(item.params),
            queue_id=item.id,
            outcome=job.outcome,
            polls_left=job.polls_until_done,
            timestamp_ms=int(self.clock() * 1000),
            console=job.console,
            runs_for=job.runs_for,
        )
        job.next_build_number += 1
        job.builds.append(build)
        item.build = build
        if build.polls_left <= 0 and build.runs_for is None:
            self._complete(build)

    def _complete(self, build: FakeBuild, result: str | None = None) -> None:
        build.building = False
        build.result = result or build.outcome
        if build.runs_for is not None and result is None:  # it ran its course, whenever someone looked
            build.duration_ms = int(build.runs_for * 1000)
        else:
            build.duration_ms = max(1, int(self.clock() * 1000) - build.timestamp_ms)

    def _observe_item(self, item: FakeQueueItem) -> None:
        """Someone looked at a waiting item: it waits ``queue_polls`` looks, then starts."""
        if not item.waiting:
            return
        if item.waits_left > 0:
            item.waits_left -= 1
        else:
            self._start(item)

    # -- JSON shapes --------------------------------------------------------------------------------

    def _job_url(self, name: str) -> str:
        return f"{self.url}/" + "/".join(f"job/{quote(p, safe='')}" for p in name.split("/")) + "/"

    def _build_ref(self, build: FakeBuild | None) -> dict[str, Any] | None:
        if build is None:
            return None
        return {
            "_class": BUILD_CLASS,
            "number": build.number,
            "url": f"{self._job_url(build.job)}{build.number}/",
        }

    def _build_json(self, build: FakeBuild) -> dict[str, Any]:
        actions: list[dict[str, Any]] = []
        if build.params:
            actions.append(_parameters_action(build.params))
        actions.append(
            {
                "_class": "hudson.model.CauseAction",
                "causes": [
                    {
                        "_class": "hudson.model.Cause$UserIdCause",
                        "shortDescription": f"Started by user {self.user}",
                        "userId": self.user,
                    }
                ],
            }
        )
        actions.append({})  # Jenkins lists empty actions too; clients must skip them
        return {
            "_class": BUILD_CLASS,
            "actions": actions,
            "artifacts": [],
            "building": build.building,
            "description": None,
            "displayName": f"#{build.number}",
            "duration": build.duration_ms,
            "estimatedDuration": 1000,
            "executor": {} if build.building else None,
            "fullDisplayName": f"{build.job.replace('/', ' » ')} #{build.number}",
            "id": str(build.number),
            "keepLog": False,
            "number": build.number,
            "queueId": build.queue_id,
            "result": build.result,
            "timestamp": build.timestamp_ms,
            "url": f"{self._job_url(build.job)}{build.number}/",
            "builtOn": "",
            "changeSet": {"_class": "hudson.scm.EmptyChangeLogSet", "items": [], "kind": None},
        }

    def _job_json(self, job: FakeJob, *, deep: bool) -> dict[str, Any]:
        newest_first = sorted(job.builds, key=lambda b: b.number, reverse=True)[:100]
        done = [b for b in newest_first if not b.building]
        waiting = [i for i in self.queue.values() if i.job == job.name and i.waiting]
        return {
            "_class": JOB_CLASS,
            "name": job.short_name,
            "fullName": job.name,
            "displayName": job.short_name,
            "fullDisplayName": job.name.replace("/", " » "),
            "url": self._job_url(job.name),
            "buildable": True,
            "builds": [self._build_json(b) if deep else self._build_ref(b) for b in newest_first],
            "color": "blue_anime" if any(b.building for b in newest_first) else "blue",
            "firstBuild": self._build_ref(newest_first[-1] if newest_first else None),
            "lastBuild": self._build_ref(newest_first[0] if newest_first else None),
            "lastCompletedBuild": self._build_ref(done[0] if done else None),
            "lastSuccessfulBuild": self._build_ref(next((b for b in done if b.result == "SUCCESS"), None)),
            "lastFailedBuild": self._build_ref(next((b for b in done if b.result == "FAILURE"), None)),
            "inQueue": bool(waiting),
            "queueItem": self._queue_item(waiting[0]) if waiting else None,
            "nextBuildNumber": job.next_build_number,
            "concurrentBuild": False,
            "property": [],
        }

    def _folder_json(self, name: str) -> dict[str, Any]:
        children = sorted({j[len(name) + 1 :].split("/")[0] for j in self.jobs if j.startswith(name + "/")})
        return {
            "_class": FOLDER_CLASS,
            "name": name.rsplit("/", 1)[-1],
            "fullName": name,
            "url": self._job_url(name),
            "jobs": [self._job_summary(f"{name}/{c}") for c in children],
        }

    def _job_summary(self, name: str) -> dict[str, Any]:
        """A job or folder as listed by its parent; folders list their children (for ``tree=jobs[...]``)."""
        short = name.rsplit("/", 1)[-1]
        if name in self.jobs:
            return {"_class": JOB_CLASS, "name": short, "url": self._job_url(name), "color": "blue"}
        return self._folder_json(name) | {"name": short}

    def _queue_item(self, item: FakeQueueItem) -> dict[str, Any]:
        job = self.jobs[item.job]
        data: dict[str, Any] = {
            "_class": "hudson.model.Queue$WaitingItem",
            "actions": [_parameters_action(item.params)] if item.params else [],
            "blocked": False,
            "buildable": False,
            "id": item.id,
            "inQueueSince": item.in_queue_since_ms,
            "params": "".join(f"\n{k}={v}" for k, v in item.params.items()),
            "stuck": False,
            "task": {
                "_class": JOB_CLASS,
                "name": job.short_name,
                "url": self._job_url(job.name),
                "color": "blue",
            },
            "url": f"queue/item/{item.id}/",
            "why": "Waiting for next available executor",
        }
        if item.cancelled:
            data.update({"_class": "hudson.model.Queue$LeftItem", "cancelled": True, "why": None, "executable": None})
        elif item.build is not None:
            data.update(
                {
                    "_class": "hudson.model.Queue$LeftItem",
                    "cancelled": False,
                    "why": None,
                    "executable": self._build_ref(item.build),
                }
            )
        return data

    # -- routes -------------------------------------------------------------------------------------

    def check_auth(self, request: Request) -> Response | None:
        credentials = basic_credentials(request)
        if credentials is None:
            return Response.text("Authentication required", 403)
        if credentials != (self.user, self.token):
            return Response.text(f"Invalid password/token for user: {credentials[0]}", 401)
        if self.crumbs and request.method == "POST" and request.headers.get("Jenkins-Crumb") != CRUMB:
            return Response.text("No valid crumb was included in the request", 403)
        return None

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        response.headers.setdefault("X-Jenkins", self.version)  # real Jenkins sends it on every answer
        return response

    def _root_page(self, request: Request, match: re.Match[str]) -> Response:
        return Response.text("<html><body>Dashboard [Jenkins]</body></html>", content_type="text/html")

    def _root_json(self, request: Request, match: re.Match[str]) -> Response:
        tops = sorted({name.split("/")[0] for name in self.jobs})
        data = {
            "_class": "hudson.model.Hudson",
            "mode": "NORMAL",
            "nodeDescription": "the fake Jenkins",
            "useCrumbs": self.crumbs,
            "jobs": [self._job_summary(t) for t in tops],
        }
        return Response.json(_apply_tree(data, request.arg("tree")) if request.arg("tree") else _shallow(data))

    def _crumb(self, request: Request, match: re.Match[str]) -> Response:
        if not self.crumbs:
            return self.not_found(request)
        return Response.json(
            {
                "_class": "hudson.security.csrf.DefaultCrumbIssuer",
                "crumb": CRUMB,
                "crumbRequestField": "Jenkins-Crumb",
            }
        )

    def _whoami(self, request: Request, match: re.Match[str]) -> Response:
        return Response.json({"_class": "hudson.model.User", "id": self.user, "fullName": self.user})

    def _queue_json(self, request: Request, match: re.Match[str]) -> Response:
        for item in list(self.queue.values()):
            self._observe_item(item)
        items = [self._queue_item(i) for i in self.queue.values() if i.waiting]
        return Response.json({"_class": "hudson.model.Queue", "discoverableItems": [], "items": items})

    def _queue_item_json(self, request: Request, match: re.Match[str]) -> Response:
        item = self.queue.get(int(match[1]))
        if item is None:
            return self.not_found(request)
        self._observe_item(item)
        return Response.json(self._queue_item(item))

    def _cancel_item(self, request: Request, match: re.Match[str]) -> Response:
        item = self.queue.get(int(request.arg("id") or 0))
        if item is not None and item.waiting:
            item.cancelled = True
        return Response(302, headers={"Location": f"{self.url}/queue/"})

    def _job_request(self, request: Request, match: re.Match[str]) -> Response:
        name = "/".join(match[1].split("/")[1::2])
        rest = (match[2] or "").strip("/")
        job = self.jobs.get(name)
        if job is None:
            is_folder = any(j.startswith(name + "/") for j in self.jobs)
            if is_folder and rest == "api/json" and request.method == "GET":
                return Response.json(_apply_tree(self._folder_json(name), request.arg("tree")))
            return self.not_found(request)
        if request.method == "POST" and rest in ("build", "buildWithParameters"):
            return self._trigger(job, request)
        if request.method == "GET" and rest == "api/json":
            tree = request.arg("tree")
            return Response.json(_apply_tree(self._job_json(job, deep=tree is not None), tree))
        if request.method == "GET" and rest == "":
            return Response.text(f"<html>{job.name}</html>", content_type="text/html")
        build_match = re.fullmatch(r"(\d+)(?:/(.*))?", rest)
        if build_match is None:
            return self.not_found(request)
        build = next((b for b in job.builds if b.number == int(build_match[1])), None)
        if build is None:
            return self.not_found(request)
        return self._build_request(build, request, build_match[2] or "")

    def _build_request(self, build: FakeBuild, request: Request, rest: str) -> Response:
        if request.method == "GET" and rest == "api/json":
            if build.building and build.runs_for is not None:
                if self.clock() * 1000 >= build.timestamp_ms + build.runs_for * 1000:
                    self._complete(build)
            elif build.building:
                if build.polls_left > 0:
                    build.polls_left -= 1
                else:
                    self._complete(build)
            return Response.json(_apply_tree(self._build_json(build), request.arg("tree")))
        if request.method == "GET" and rest == "consoleText":
            return Response.text(self._console(build))
        if request.method == "POST" and rest == "stop":
            if build.building:
                self._complete(build, "ABORTED")
            return Response(302, headers={"Location": f"{self._job_url(build.job)}{build.number}/"})
        if request.method == "GET" and rest == "":
            return Response.text(f"<html>{build.job} #{build.number}</html>", content_type="text/html")
        return self.not_found(request)

    def _console(self, build: FakeBuild) -> str:
        lines = [f"Started by user {self.user}", "Running as SYSTEM", "Building in workspace /var/jenkins/ws"]
        lines += [f"{k}={v}" for k, v in build.params.items()]
        if build.console:
            lines.append(build.console)
        if not build.building:
            lines.append(f"Finished: {build.result}")
        return "\n".join(lines) + "\n"

    def _trigger(self, job: FakeJob, request: Request) -> Response:
        params = {k: v[0] for k, v in request.query.items() if k not in ("token", "delay")}
        if request.body and "x-www-form-urlencoded" in (request.headers.get("Content-Type") or ""):
            params.update({k: v for k, v in request.form().items() if k not in ("token", "json")})
        self.triggers.append((job.name, dict(params)))
        duplicate = next(
            (i for i in self.queue.values() if i.job == job.name and i.waiting and i.params == params), None
        )
        if duplicate is not None:
            # What Jenkins does for an identical waiting item: no new item, a redirect to the job.
            return Response(303, headers={"Location": self._job_url(job.name)})
        item = FakeQueueItem(
            id=self._next_queue_id,
            job=job.name,
            params=params,
            waits_left=job.queue_polls,
            in_queue_since_ms=int(time.time() * 1000),
        )
        self._next_queue_id += 1
        self.queue[item.id] = item
        self.builds_triggered += 1
        if job.queue_polls <= 0:
            self._start(item)
        return Response(201, headers={"Location": f"{self.url}/queue/item/{item.id}/"})


def _shallow(data: dict[str, Any]) -> dict[str, Any]:
    """What depth=0 shows of the root: folders without their children."""
    jobs = [{k: v for k, v in job.items() if k != "jobs"} for job in data.get("jobs", [])]
    return data | {"jobs": jobs}


def _parameters_action(params: dict[str, str]) -> dict[str, Any]:
    return {
        "_class": "hudson.model.ParametersAction",
        "parameters": [
            {"_class": "hudson.model.StringParameterValue", "name": k, "value": v} for k, v in params.items()
        ],
    }


# -- the ``tree`` query parameter: "builds[number,actions[parameters[name,value]]]{0,20}" -----------

_TreeSpec = dict[str, tuple["_TreeSpec | None", "tuple[int | None, int | None] | None"]]
_TREE_TOKEN = re.compile(r"\s*([\w$]+|[\[\]{},])")


def _parse_tree(text: str) -> _TreeSpec:
    tokens = _TREE_TOKEN.findall(text)
    spec, pos = _parse_fields(tokens, 0)
    if pos != len(tokens):
        raise ValueError(f"bad tree {text!r}")
    return spec


def _parse_fields(tokens: list[str], pos: int) -> tuple[_TreeSpec, int]:
    spec: _TreeSpec = {}
    while pos < len(tokens):
        name = tokens[pos]
        pos += 1
        sub: _TreeSpec | None = None
        window: tuple[int | None, int | None] | None = None
        if pos < len(tokens) and tokens[pos] == "[":
            sub, pos = _parse_fields(tokens, pos + 1)
            pos += 1  # "]"
        if pos < len(tokens) and tokens[pos] == "{":
            end = tokens.index("}", pos)
            window = _parse_range(tokens[pos + 1 : end])
            pos = end + 1
        spec[name] = (sub, window)
        if pos < len(tokens) and tokens[pos] == ",":
            pos += 1
            continue
        break
    return spec, pos


def _parse_range(tokens: list[str]) -> tuple[int | None, int | None]:
    """{M,N} {M,} {,N} or {N} (just the element N)."""
    if "," not in tokens:
        only = int(tokens[0])
        return only, only + 1
    comma = tokens.index(",")
    low, high = tokens[:comma], tokens[comma + 1 :]
    return (int(low[0]) if low else None, int(high[0]) if high else None)


def _apply_tree(data: Any, tree: str | None) -> Any:
    return data if tree is None else _filter(data, _parse_tree(tree))


def _filter(value: Any, spec: _TreeSpec) -> Any:
    if isinstance(value, list):
        return [_filter(v, spec) for v in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {"_class": value["_class"]} if "_class" in value else {}
    for name, (sub, window) in spec.items():
        if name not in value:
            continue
        item = value[name]
        if isinstance(item, list) and window is not None:
            item = item[window[0] : window[1]]
        result[name] = _filter(item, sub) if sub is not None else item
    return result
