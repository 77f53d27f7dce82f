"""Jenkins: trigger parameterised jobs and follow them, through ``python-jenkins``.

A build is identified by its parameters, not by anything Thor stored: ``find_queued`` and ``find_build`` let a
step notice that an earlier tick already triggered it (and died before recording the number), so a job is
never triggered twice. Errors leave as one redacted ``ThorError`` line; the ``jenkins`` import is deferred.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlparse

from thor_cli.adapters.net import one_line
from thor_cli.adapters.service import ServiceClient
from thor_cli.errors import ServiceUnavailable, StepError, ThorError
from thor_cli.secrets import redact, required_secret

if TYPE_CHECKING:
    from jenkins import Jenkins

    from thor_cli.config import Settings

# The trailing "/job/NAME" segments of a job's URL path (folders nest them).
_JOB_URL_PATH = re.compile(r"((?:/job/[^/]+)+)/?$")


def _builds_tree(limit: int) -> str:
    """One request for the newest builds with what find_build compares, instead of one per build."""
    return f"builds[number,url,building,result,duration,actions[_class,parameters[name,value]]]{{0,{limit}}}"


class QueueItemGone(StepError):
    """Jenkins no longer knows the queue item (it forgets them ~5 minutes after they leave the queue)."""


@dataclass(frozen=True)
class Build:
    number: int
    url: str
    building: bool
    result: str | None  # None while running; SUCCESS, FAILURE, UNSTABLE, ABORTED, NOT_BUILT
    duration_ms: int
    params: dict[str, str] = field(default_factory=dict)
    timestamp_ms: int = 0  # when the build started, by Jenkins's clock

    @property
    def duration(self) -> timedelta | None:
        """How long the build ran, as Jenkins measured it (known once it ended)."""
        return timedelta(milliseconds=self.duration_ms) if self.duration_ms and not self.building else None

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Build:
        return cls(
            number=int(raw["number"]),
            url=str(raw.get("url") or ""),
            building=bool(raw.get("building", False)),
            result=raw.get("result"),
            duration_ms=int(raw.get("duration") or 0),
            params=parameters_of(raw.get("actions") or []),
            timestamp_ms=int(raw.get("timestamp") or 0),
        )

    def matches(self, params: Mapping[str, str]) -> bool:
        return all(self.params.get(k) == _param_text(v) for k, v in params.items())


def _param_text(value: Any) -> str:
    """Parameter values as Jenkins shows them: booleans come back as JSON true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def parameters_of(actions: list[Any]) -> dict[str, str]:
    """The parameters in a build's or queue item's ``ParametersAction``."""
    params: dict[str, str] = {}
    for action in actions:
        if isinstance(action, dict) and isinstance(action.get("parameters"), list):
            for p in action["parameters"]:
                if isinstance(p, dict) and "name" in p:
                    params[str(p["name"])] = _param_text(p.get("value"))
    return params


def _queue_params(item: Mapping[str, Any]) -> dict[str, str]:
    """A queue item's parameters: its actions, or else its ``params`` string ("\\nK=V\\nK2=V2")."""
    params = parameters_of(item.get("actions") or [])
    if not params:
        for line in str(item.get("params") or "").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                params[key.strip()] = value
    return params


def _job_of_url(url: str) -> str | None:
    """``http://host/ctx/job/a/job/b/`` -> ``a/b``: the job's full name, whatever Jenkins' context path."""
    found = _JOB_URL_PATH.search(urlparse(url).path)
    if found is None:
        return None
    return "/".join(unquote(part) for part in found[1].split("/")[2::2])


def job_path(job: str) -> str:
    """``a/b`` -> ``job/a/job/b`` (folders), each name URL-quoted."""
    parts = [p for p in job.strip("/").split("/") if p]
    if not parts:
        raise StepError("empty Jenkins job name")
    return "/".join(f"job/{quote(p, safe='')}" for p in parts)


class JenkinsClient(ServiceClient):
    service = "Jenkins"
    section = "jenkins"
    required = ("url",)
    url: str

    def __init__(self, url: str, user: str, token: str, *, timeout: float = 30) -> None:
        super().__init__(url.rstrip("/"), token, timeout=timeout, user=user)
        self._server: Jenkins | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JenkinsClient:
        config = cls.configured(settings)
        user, token = required_secret("THOR_JENKINS_USER"), required_secret("THOR_JENKINS_TOKEN")
        return cls(config.url, user, token, timeout=config.timeout)

    # -- plumbing -----------------------------------------------------------------------------------

    def _jenkins(self) -> Jenkins:
        if self._server is None:
            from jenkins import Jenkins

            # No request yet: python-jenkins fetches a crumb and authenticates on the first call.
            self._server = Jenkins(self.url, username=self._user, password=self._token, timeout=self.timeout)
        return self._server

    def _get_json(self, path: str) -> Any:
        import json

        import requests

        body = self._jenkins().jenkins_open(requests.Request("GET", f"{self.url}/{path}"))
        return json.loads(body)

    def _translate(self, action: str, exc: Exception) -> ThorError | None:
        """python-jenkins/requests exceptions as one redacted line."""
        import requests
        from jenkins import JenkinsException, TimeoutException

        if isinstance(exc, TimeoutException | requests.RequestException):
            status = _http_status(exc)
            if status is not None and not isinstance(exc, TimeoutException):
                return self._api_error(action, status, exc)
            return self._unreachable(exc)
        if isinstance(exc, JenkinsException):
            return self._api_error(action, _http_status(exc), exc)
        if isinstance(exc, ValueError):
            return self._not_json(action)
        return None

    def _api_error(self, action: str, status: int | None, exc: BaseException) -> ThorError:
        if status in (401, 403):
            return self._credentials_rejected(status)
        if status == 404:
            return StepError(redact(f"Jenkins could not {action}: not found (HTTP 404)"))
        if status is not None and (status == 429 or status >= 500):
            return self._server_failed(action, status)
        if status is not None:
            return StepError(redact(f"Jenkins could not {action} (HTTP {status})"))
        # No HTTP status: python-jenkins' own complaint (its first line never carries a response body).
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StepError(f"Jenkins could not {action}: {one_line(first)}")

    # -- operations ---------------------------------------------------------------------------------

    def version(self) -> str:
        """The Jenkins version; authenticates, so it also checks the credentials (``thor doctor``)."""
        import requests

        with self._errors("read its version"):
            # python-jenkins' get_version() sends no credentials and fails on Jenkins without anonymous read.
            response = self._jenkins().jenkins_request(requests.Request("GET", f"{self.url}/"), add_crumb=False)
        version = response.headers.get("X-Jenkins")
        if not version:
            raise ServiceUnavailable(redact(f"{self.url} does not look like Jenkins (no X-Jenkins header)"))
        return str(version)

    def find_build(self, job: str, params: Mapping[str, str], *, limit: int = 20) -> Build | None:
        """The newest of the last ``limit`` builds of ``job`` whose parameters include all of ``params``."""
        with self._errors(f"list the builds of {job}"):
            info = self._get_json(f"{job_path(job)}/api/json?tree={_builds_tree(limit)}")
        builds = sorted(info.get("builds") or [], key=lambda b: int(b.get("number", 0)), reverse=True)
        for raw in builds:
            build = Build.from_raw(raw)
            if build.matches(params):
                return build
        return None

    def find_queued(self, job: str, params: Mapping[str, str]) -> int | None:
        """The id of a queue item for ``job`` with all of ``params`` that is still waiting, if any."""
        with self._errors("read the queue"):
            items = self._jenkins().get_queue_info()
        wanted = {k: _param_text(v) for k, v in params.items()}
        for item in items:
            if _job_of_url(str(item.get("task", {}).get("url") or "")) != job.strip("/"):
                continue
            queued = _queue_params(item)
            if all(queued.get(k) == v for k, v in wanted.items()):
                return int(item["id"])
        return None

    def trigger(self, job: str, params: Mapping[str, str]) -> int:
        """Queue a build with ``params``; returns the queue item id."""
        from jenkins import EmptyResponseException

        with self._errors(f"trigger {job}"):
            try:
                return int(self._jenkins().build_job(job, {k: _param_text(v) for k, v in params.items()}))
            except EmptyResponseException:
                # Jenkins redirects instead of queueing when an identical item is already waiting.
                queued = self.find_queued(job, params)
                if queued is None:
                    raise StepError(
                        f"Jenkins did not queue a build of {job}: it answered without a queue item "
                        "(an identical build may have started meanwhile)"
                    ) from None
                return queued

    def resolve_queue(self, queue_id: int) -> int | None:
        """The build number once the queue item has started, None while it waits.

        Raises ``QueueItemGone`` when Jenkins has forgotten the item, ``StepError`` when it was cancelled.
        """
        with self._errors(f"read queue item {queue_id}"):
            try:
                item = self._jenkins().get_queue_item(queue_id)
            except Exception as exc:
                if _http_status(exc) == 404:
                    raise QueueItemGone(f"Jenkins no longer knows queue item {queue_id}") from None
                raise
        if item.get("cancelled"):
            raise StepError(f"Jenkins queue item {queue_id} was cancelled")
        executable = item.get("executable") or {}
        number = executable.get("number")
        return int(number) if number is not None else None

    def build(self, job: str, number: int) -> Build:
        with self._errors(f"read build {job} #{number}"):
            return Build.from_raw(self._jenkins().get_build_info(job, number))

    def stop_build(self, job: str, number: int) -> None:
        """Abort a running build (``POST …/stop``); a build that already ended is left as it is."""
        with self._errors(f"stop build {job} #{number}"):
            self._jenkins().stop_build(job, number)

    def console_tail(self, job: str, number: int, chars: int = 4000) -> str:
        with self._errors(f"read the console of {job} #{number}"):
            text = self._jenkins().get_build_console_output(job, number)
        # Redact the whole text first so that a secret cut by the tail cannot show half of itself.
        redacted = redact(text)
        return redacted if len(redacted) <= chars else redacted[-chars:]


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an exception: python-jenkins re-raises HTTPErrors as its own exceptions."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        response = getattr(current, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return status
        current = current.__cause__ or current.__context__
    return None
