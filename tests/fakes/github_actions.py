"""GitHub Actions for the fake GitHub (mixed into ``FakeGitHub``): workflow dispatch, runs, cancel.

``POST /repos/{o}/{r}/actions/workflows/{workflow}/dispatches`` (``{ref, inputs, return_run_details}``):
``200`` with ``workflow_run_id``, ``run_url`` and ``html_url`` when ``return_run_details`` is true and
``dispatch_details`` is on (GitHub since 2026-02-19), else ``204`` (older GitHub Enterprise Server); an input
the workflow does not declare is a ``422`` as on GitHub. ``GET …/actions/workflows/{workflow}/runs`` filtered
by ``event``, ``status`` and ``created`` (``>=ISO``), newest first; ``GET …/actions/runs/{id}``;
``POST …/actions/runs/{id}/cancel`` (``202``, ``409`` once completed); ``GET …/actions/workflows/{workflow}``.

Runs are created ``queued``; tests move them with ``set_run(id, status, conclusion)``. A run's
``display_title`` is the workflow's ``run_name`` with ``{input}`` placeholders filled from the dispatch, as
the ``run-name:`` of a workflow file would show them. ``on_dispatch(run)`` is called after a run is created
and before the answer is sent, outside the fake's lock, so a test can hold the answer (a barrier) or kill
the client at that named point.
"""

from __future__ import annotations

import string
import time
from typing import Any

from tests.fakes.http import Request, Response

_REPO = r"(?P<prefix>(?:/api/v3)?)/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_WORKFLOW = _REPO + r"/actions/workflows/(?P<workflow>[^/]+)"
_RUN = _REPO + r"/actions/runs/(?P<run>\d+)"


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


class ActionsWorkflow:
    """Routes and state for workflows and their runs."""

    lock: Any
    url: str

    def _init_actions(self) -> None:
        self.workflows: dict[tuple[str, str], dict[str, Any]] = {}  # (repo, file) -> {inputs, run_name}
        self.runs: dict[int, dict[str, Any]] = {}
        self.dispatches: list[dict[str, Any]] = []  # every dispatch accepted: repo, workflow, ref, inputs
        self.dispatch_details = True  # False: answer 204 like servers before 2026-02-19
        self.on_dispatch: Any = None  # optional hook(run) before the dispatch is answered (outside the lock)
        self._next_run = 9001
        self.route("POST", _WORKFLOW + r"/dispatches", self._dispatch_workflow)  # type: ignore[attr-defined]
        self.route("GET", _WORKFLOW + r"/runs", self._list_runs)  # type: ignore[attr-defined]
        self.route("GET", _WORKFLOW, self._get_workflow)  # type: ignore[attr-defined]
        self.route("GET", _RUN, self._get_run)  # type: ignore[attr-defined]
        self.route("POST", _RUN + r"/cancel", self._cancel_run)  # type: ignore[attr-defined]

    # -- what tests do -------------------------------------------------------------------------------

    def add_workflow(self, repo: str, workflow: str, *, inputs: list[str], run_name: str | None = None) -> None:
        """A workflow file with ``workflow_dispatch`` inputs and a ``run-name`` (``{INPUT}`` placeholders)."""
        with self.lock:
            self.workflows[(repo, workflow)] = {"inputs": set(inputs), "run_name": run_name}

    def set_run(self, run_id: int, status: str, conclusion: str | None = None) -> None:
        with self.lock:
            self.runs[run_id].update(status=status, conclusion=conclusion, updated_at=_iso(time.time()))

    def add_run(self, repo: str, workflow: str, title: str, *, event: str = "workflow_dispatch") -> dict[str, Any]:
        """A run somebody else started (another release, by hand)."""
        with self.lock:
            return self._new_run(repo, workflow, "master", title, event)

    def runs_of(self, repo: str, workflow: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.runs.values() if r["_repo"] == repo and r["_workflow"] == workflow]

    # -- serving -------------------------------------------------------------------------------------

    def _new_run(self, repo: str, workflow: str, ref: str, title: str, event: str) -> dict[str, Any]:
        run_id = self._next_run
        self._next_run += 1
        now = _iso(time.time())
        api = f"{self.url}/repos/{repo}/actions/runs/{run_id}"
        run = {
            "id": run_id,
            "name": workflow,
            "display_title": title,
            "event": event,
            "status": "queued",
            "conclusion": None,
            "head_branch": ref,
            "run_number": run_id - 9000,
            "created_at": now,
            "updated_at": now,
            "url": api,
            "cancel_url": f"{api}/cancel",
            "html_url": f"https://github.com/{repo}/actions/runs/{run_id}",
            "_repo": repo,
            "_workflow": workflow,
        }
        self.runs[run_id] = run
        return run

    @staticmethod
    def _public(run: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in run.items() if not k.startswith("_")}

    def _dispatch_workflow(self, request: Request, match: Any) -> Response:
        repo, name = f"{match['owner']}/{match['repo']}", match["workflow"]
        workflow = self.workflows.get((repo, name))
        if workflow is None:
            return Response.json({"message": "Not Found"}, 404)
        body = request.json() or {}
        inputs = body.get("inputs") or {}
        unexpected = sorted(set(inputs) - workflow["inputs"])
        if unexpected:
            return Response.json({"message": f"Unexpected inputs provided: {unexpected}"}, 422)
        if not body.get("ref"):
            return Response.json({"message": "Invalid request: ref is required"}, 422)
        template = workflow["run_name"] or name
        values = {key: inputs.get(key, "") for key in workflow["inputs"]}
        title = string.Formatter().vformat(template, (), values)
        run = self._new_run(repo, name, body["ref"], title, "workflow_dispatch")
        self.dispatches.append({"repo": repo, "workflow": name, "ref": body["ref"], "inputs": dict(inputs)})
        hook = self.on_dispatch
        if hook is not None:
            self.lock.release()  # the fake's dispatcher holds it once: let other requests through meanwhile
            try:
                hook(dict(run))
            finally:
                self.lock.acquire()
        if body.get("return_run_details") and self.dispatch_details:
            return Response.json(
                {"workflow_run_id": run["id"], "run_url": run["url"], "html_url": run["html_url"]}, 200
            )
        return Response(204)

    def _get_workflow(self, request: Request, match: Any) -> Response:
        repo, name = f"{match['owner']}/{match['repo']}", match["workflow"]
        if (repo, name) not in self.workflows:
            return Response.json({"message": "Not Found"}, 404)
        return Response.json(
            {
                "id": abs(hash((repo, name))) % 100000,
                "name": name,
                "path": f".github/workflows/{name}",
                "state": "active",
                "url": f"{self.url}/repos/{repo}/actions/workflows/{name}",
                "html_url": f"https://github.com/{repo}/actions/workflows/{name}",
            }
        )

    def _list_runs(self, request: Request, match: Any) -> Response:
        repo, name = f"{match['owner']}/{match['repo']}", match["workflow"]
        if (repo, name) not in self.workflows:
            return Response.json({"message": "Not Found"}, 404)
        event, status, created = request.arg("event"), request.arg("status"), request.arg("created")
        runs = [r for r in self.runs.values() if r["_repo"] == repo and r["_workflow"] == name]
        if event:
            runs = [r for r in runs if r["event"] == event]
        if status:
            runs = [r for r in runs if status in (r["status"], r["conclusion"])]
        if created:
            if not created.startswith(">="):
                return Response.json({"message": f"the fake only knows created=>=ISO, not {created!r}"}, 422)
            since = created[2:]
            runs = [r for r in runs if r["created_at"] >= since]  # same ISO format: compares as text
        runs.sort(key=lambda r: r["id"], reverse=True)  # newest first, like GitHub
        per_page = int(request.arg("per_page", "30") or 30)
        page = int(request.arg("page", "1") or 1)
        chosen = runs[(page - 1) * per_page : page * per_page]
        return Response.json({"total_count": len(runs), "workflow_runs": [self._public(r) for r in chosen]})

    def _get_run(self, request: Request, match: Any) -> Response:
        run = self.runs.get(int(match["run"]))
        if run is None or run["_repo"] != f"{match['owner']}/{match['repo']}":
            return Response.json({"message": "Not Found"}, 404)
        return Response.json(self._public(run))

    def _cancel_run(self, request: Request, match: Any) -> Response:
        run = self.runs.get(int(match["run"]))
        if run is None or run["_repo"] != f"{match['owner']}/{match['repo']}":
            return Response.json({"message": "Not Found"}, 404)
        if run["status"] == "completed":
            return Response.json({"message": "Cannot cancel a workflow run that is completed."}, 409)
        run.update(status="completed", conclusion="cancelled", updated_at=_iso(time.time()))
        return Response.json({}, 202)
