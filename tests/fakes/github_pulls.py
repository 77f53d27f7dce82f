"""Pull requests as Thor opens and follows them, for the fake GitHub (mixed into ``FakeGitHub``).

``GET /repos/{o}/{r}``; ``POST /repos/{o}/{r}/pulls`` (201; 422 "A pull request already exists" for an open
one with the same head and base); ``GET …/pulls?head=OWNER:BRANCH&state=all|open|closed``; ``PATCH …/pulls/N``
(title, body, ``state: closed``); ``PUT …/pulls/N/merge``; ``GET …/pulls/N/reviews``; ``POST``/``GET``
``…/issues/N/labels``. Pull objects carry ``url`` and ``issue_url`` pointing back at the fake, as GitHub's
point at the API, because PyGithub follows them.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.http import Request, Response

_REPO = r"(?P<prefix>(?:/api/v3)?)/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_PULLS = _REPO + r"/pulls"
_ONE_PULL = _PULLS + r"/(?P<number>\d+)"


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class PullWorkflow:
    """Routes and state for opening, listing, labelling, reviewing, merging and closing pull requests."""

    pulls: dict[tuple[str, int], dict[str, Any]]
    lock: Any
    url: str

    def _init_pull_workflow(self) -> None:
        self.default_branches: dict[str, str] = {}  # repo -> default branch ("master" when not set)
        self.reviews: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.before_create: Any = None  # (repo, request body) -> None, called before the duplicate check
        self._next_number: dict[str, int] = {}
        self.route("GET", _REPO, self._get_repo)  # type: ignore[attr-defined]
        self.route("GET", _PULLS, self._list_pulls)  # type: ignore[attr-defined]
        self.route("POST", _PULLS, self._create_pull)  # type: ignore[attr-defined]
        self.route("PATCH", _ONE_PULL, self._edit_pull)  # type: ignore[attr-defined]
        self.route("PUT", _ONE_PULL + r"/merge", self._merge_route)  # type: ignore[attr-defined]
        self.route("GET", _ONE_PULL + r"/reviews", self._list_reviews)  # type: ignore[attr-defined]
        self.route("POST", _REPO + r"/issues/(?P<number>\d+)/labels", self._add_labels)  # type: ignore[attr-defined]
        self.route("GET", _REPO + r"/issues/(?P<number>\d+)/labels", self._get_labels)  # type: ignore[attr-defined]

    # -- what the environment owners do --------------------------------------------------------------

    def pulls_of(self, repo: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(p) for (r, _), p in sorted(self.pulls.items()) if r == repo]

    def merge_pull(self, repo: str, number: int) -> None:
        with self.lock:
            pull = self.pulls[(repo, number)]
            pull.update(state="closed", merged=True, merged_at=_now_iso(), closed_at=_now_iso())

    def close_pull(self, repo: str, number: int) -> None:
        with self.lock:
            self.pulls[(repo, number)].update(state="closed", closed_at=_now_iso())

    def add_review(self, repo: str, number: int, user: str, state: str = "APPROVED") -> None:
        with self.lock:
            reviews = self.reviews.setdefault((repo, number), [])
            reviews.append(
                {"id": len(reviews) + 1, "user": {"login": user}, "state": state, "submitted_at": _now_iso()}
            )

    # -- serving -------------------------------------------------------------------------------------

    def _api(self, match: Any) -> str:
        return f"{self.url}{match['prefix']}/repos/{match['owner']}/{match['repo']}"

    def _get_repo(self, request: Request, match: Any) -> Response:
        repo = f"{match['owner']}/{match['repo']}"
        return Response.json(
            {
                "id": abs(hash(repo)) % 100000,
                "name": match["repo"],
                "full_name": repo,
                "owner": {"login": match["owner"]},
                "default_branch": self.default_branches.get(repo, "master"),
                "url": self._api(match),
                "html_url": f"https://github.com/{repo}",
            }
        )

    def _list_pulls(self, request: Request, match: Any) -> Response:
        repo = f"{match['owner']}/{match['repo']}"
        state = request.arg("state", "open")
        head = request.arg("head")
        base = request.arg("base")
        found = []
        for (r, _), pull in sorted(self.pulls.items(), key=lambda kv: -kv[0][1]):  # newest first, as GitHub
            if r != repo or (state != "all" and pull["state"] != state):
                continue
            if head and pull.get("head", {}).get("label") != head:
                continue
            if base and pull.get("base", {}).get("ref") != base:
                continue
            found.append(pull)
        return Response.json(found)

    def _create_pull(self, request: Request, match: Any) -> Response:
        repo = f"{match['owner']}/{match['repo']}"
        data = request.json() or {}
        title, head, base = data.get("title"), data.get("head"), data.get("base")
        if not title or not head or not base:
            return self._error(422, "Validation Failed", request)  # type: ignore[attr-defined]
        branch = head.split(":", 1)[-1]
        label = head if ":" in head else f"{match['owner']}:{head}"
        if self.before_create is not None:  # a test's hook: a racing process opens the same one first
            self.before_create(repo, data)
        for (r, _), pull in self.pulls.items():
            if r == repo and pull["state"] == "open" and pull["head"]["label"] == label and pull["base"]["ref"] == base:
                return self._validation_failed(request, f"A pull request already exists for {label}.")
        number = self._next_number.get(repo, 0) + 1
        while (repo, number) in self.pulls:
            number += 1
        self._next_number[repo] = number
        api = self._api(match)
        now = _now_iso()
        pull = {
            "id": number,
            "number": number,
            "title": title,
            "body": data.get("body"),
            "state": "open",
            "draft": bool(data.get("draft")),
            "merged": False,
            "merged_at": None,
            "closed_at": None,
            "created_at": now,
            "updated_at": now,
            "url": f"{api}/pulls/{number}",
            "issue_url": f"{api}/issues/{number}",
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "user": {"login": "thor-bot"},
            "head": {"label": label, "ref": branch},
            "base": {"label": f"{match['owner']}:{base}", "ref": base},
            "labels": [],
        }
        self.pulls[(repo, number)] = pull
        return Response.json(pull, 201)

    def _validation_failed(self, request: Request, message: str) -> Response:
        body = {
            "message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom", "message": message}],
        }
        return Response.json(body, 422)

    def _pull_or_404(self, request: Request, match: Any) -> dict[str, Any] | Response:
        pull = self.pulls.get((f"{match['owner']}/{match['repo']}", int(match["number"])))
        return pull if pull is not None else self._error(404, "Not Found", request)  # type: ignore[attr-defined]

    def _edit_pull(self, request: Request, match: Any) -> Response:
        pull = self._pull_or_404(request, match)
        if isinstance(pull, Response):
            return pull
        data = request.json() or {}
        for key in ("title", "body"):
            if key in data:
                pull[key] = data[key]
        if data.get("state") == "closed" and pull["state"] == "open":
            pull.update(state="closed", closed_at=_now_iso())
        elif data.get("state") == "open" and pull["state"] == "closed" and not pull["merged"]:
            pull.update(state="open", closed_at=None)
        pull["updated_at"] = _now_iso()
        return Response.json(pull)

    def _merge_route(self, request: Request, match: Any) -> Response:
        pull = self._pull_or_404(request, match)
        if isinstance(pull, Response):
            return pull
        if pull["state"] != "open":
            return self._error(405, "Pull Request is not mergeable", request)  # type: ignore[attr-defined]
        self.merge_pull(f"{match['owner']}/{match['repo']}", int(match["number"]))
        return Response.json({"sha": "0" * 40, "merged": True, "message": "Pull Request successfully merged"})

    def _list_reviews(self, request: Request, match: Any) -> Response:
        pull = self._pull_or_404(request, match)
        if isinstance(pull, Response):
            return pull
        return Response.json(self.reviews.get((f"{match['owner']}/{match['repo']}", int(match["number"])), []))

    def _add_labels(self, request: Request, match: Any) -> Response:
        pull = self._pull_or_404(request, match)
        if isinstance(pull, Response):
            return pull
        data = request.json()
        names = data.get("labels", []) if isinstance(data, dict) else list(data or [])
        for name in names:
            if all(label["name"] != name for label in pull["labels"]):
                pull["labels"].append({"name": name, "color": "ededed", "url": f"{self._api(match)}/labels/{name}"})
        return Response.json(pull["labels"])

    def _get_labels(self, request: Request, match: Any) -> Response:
        pull = self._pull_or_404(request, match)
        return pull if isinstance(pull, Response) else Response.json(pull["labels"])
