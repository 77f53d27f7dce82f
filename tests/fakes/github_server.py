"""A fake GitHub REST API: pull requests, Bearer authentication and rate limits, on 127.0.0.1.

Serves ``GET /repos/{owner}/{repo}/pulls/{number}`` (also under ``/api/v3`` as GitHub Enterprise does) from
pull requests added with ``add_pull``. Misbehaviour on purpose, besides ``FakeServer``'s ``fail_next``,
``delay`` and ``down``/``up``:

- ``rate_limit_next(n, reset_in=...)``: the next ``n`` requests get 403 with ``x-ratelimit-remaining: 0`` and
  ``x-ratelimit-reset`` ``reset_in`` seconds from now (GitHub's primary rate limit);
- ``fail_next(n, status=429, retry_after=s)``: a secondary rate limit with ``retry-after``;
- ``echo_credentials``: errors quote the Authorization header back, as a careless proxy might (the client must
  redact it).

Pull requests as a release opens them (``PullWorkflow`` in github_pulls.py): the repository, create, list
by head, edit/close, merge, labels and reviews, in the documented REST shapes. Tests act as the environment
owners with ``merge_pull``, ``close_pull`` and ``add_review``.

GitHub Actions (``ActionsWorkflow`` in github_actions.py): workflow dispatch (the ``200`` with run details and
the older ``204``), run listing with filters, a run, cancel.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.github_actions import ActionsWorkflow
from tests.fakes.github_pulls import PullWorkflow
from tests.fakes.http import FakeServer, Fault, Request, Response

TOKEN = "ghp_FakeGitHubToken0123456789abcdefXYZ"
_PULL = r"(?:/api/v3)?/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls/(?P<number>\d+)"


class FakeGitHub(FakeServer, PullWorkflow, ActionsWorkflow):
    name = "github"

    def __init__(self, *, token: str = TOKEN, **kw: Any) -> None:
        super().__init__(**kw)
        self.token = token
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.headers_seen: list[dict[str, str]] = []  # the headers of every request, lower-cased names
        self.echo_credentials = False
        self.remaining = 5000
        self._rate_limited: list[float] = []
        self.route("GET", _PULL, self._get_pull)
        self._init_pull_workflow()
        self._init_actions()

    # -- state ---------------------------------------------------------------------------------------

    def add_pull(self, repo: str, number: int, title: str, body: str | None = "", *, user: str = "dev") -> dict:
        """A merged pull request of ``repo`` ("owner/name") with the description ``body``."""
        pull = {
            "number": number,
            "title": title,
            "body": body,
            "state": "closed",
            "merged": True,
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "user": {"login": user},
        }
        with self.lock:
            self.pulls[(repo, number)] = pull
        return pull

    def rate_limit_next(self, n: int = 1, *, reset_in: float = 1.0) -> None:
        with self.lock:
            self._rate_limited.extend([reset_in] * n)

    def pull_requests_served(self) -> int:
        return self.count("GET", "/pulls/")

    # -- serving -------------------------------------------------------------------------------------

    def _rate_headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(int(reset)),
            "x-ratelimit-used": str(5000 - remaining),
        }

    def _error(self, status: int, message: str, request: Request, headers: dict[str, str] | None = None) -> Response:
        if self.echo_credentials:
            message += f" (you sent: Authorization: {request.headers.get('Authorization', '')})"
        body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
        return Response.json(body, status, headers=headers)

    def check_auth(self, request: Request) -> Response | None:
        with self.lock:
            self.headers_seen.append({k.lower(): v for k, v in request.headers.items()})
            limited = self._rate_limited.pop(0) if self._rate_limited else None
        if limited is not None:
            headers = self._rate_headers(0, time.time() + limited)
            return self._error(403, "API rate limit exceeded for user ID 1.", request, headers)
        # GitHub accepts both schemes for a token ("Bearer" is documented, PyGithub sends "token").
        if request.headers.get("Authorization") not in (f"Bearer {self.token}", f"token {self.token}"):
            return self._error(401, "Bad credentials", request)
        return None

    def fault_response(self, fault: Fault) -> Response:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        message = fault.body or (
            "You have exceeded a secondary rate limit." if fault.status in (403, 429) else "Server Error"
        )
        return Response.json({"message": message}, fault.status, headers=headers)

    def _get_pull(self, request: Request, match: Any) -> Response:
        repo = f"{match['owner']}/{match['repo']}"
        pull = self.pulls.get((repo, int(match["number"])))
        self.remaining = max(0, self.remaining - 1)
        headers = self._rate_headers(self.remaining, time.time() + 3600)
        if pull is None:
            return self._error(404, "Not Found", request, headers)
        return Response.json(pull, headers=headers)
