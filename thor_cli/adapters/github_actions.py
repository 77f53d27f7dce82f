"""GitHub Actions through PyGithub (client and error mapping from ``adapters/github_api``): dispatch a
workflow, find the run Thor started, read it, cancel it.

- ``dispatch``: ``POST /repos/{o}/{r}/actions/workflows/{workflow}/dispatches`` with ``return_run_details:
  true``. Since February 2026 GitHub answers ``200`` with ``workflow_run_id``, ``run_url`` and ``html_url``;
  older servers (GitHub Enterprise Server) answer ``204`` and nothing: then the run is found by ``find_run``.
- ``find_run``: ``GET …/workflows/{workflow}/runs?event=workflow_dispatch&created=>=ISO`` and the run whose
  ``display_title`` contains the correlation value Thor passed as an input (the workflow's ``run-name`` shows
  it). Never "the newest run": someone else may have started one.
- ``get_run``: ``GET …/actions/runs/{id}``: ``status`` (``queued``, ``in_progress``, ``waiting``,
  ``completed``, …) and, once completed, ``conclusion`` (``success``, ``failure``, ``cancelled``, …).
- ``cancel_run``: ``POST …/actions/runs/{id}/cancel`` (202; 409 when the run already ended).

Rate limits are honoured by PyGithub's ``GithubRetry`` as ``github_client`` configures it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from thor_cli.adapters.github_api import error_status, github_client, github_errors

if TYPE_CHECKING:
    from thor_cli.config import Settings

MAX_LISTED = 300  # runs read when looking for ours: the dispatches of the last minutes, with a wide margin


@dataclass(frozen=True)
class Run:
    id: int
    status: str  # queued | in_progress | waiting | requested | pending | completed
    conclusion: str | None  # set when completed: success | failure | cancelled | timed_out | …
    html_url: str
    title: str = ""

    @property
    def completed(self) -> bool:
        return self.status == "completed"


@dataclass(frozen=True)
class Dispatched:
    run_id: int | None  # None: the server answered 204 (no run details)
    html_url: str | None


def _run(data: Any) -> Run:
    return Run(
        id=int(data.id),
        status=str(data.status or ""),
        conclusion=str(data.conclusion) if data.conclusion else None,
        html_url=str(data.html_url or ""),
        title=str(data.display_title or ""),
    )


class ActionsClient:
    """One repository's workflows. Every call is one redacted ``GitHubError``/``GitHubUnavailable`` on failure."""

    def __init__(self, settings: Settings, repo: str) -> None:
        self.settings = settings
        self.repo = repo

    def __repr__(self) -> str:
        return f"ActionsClient(repo={self.repo!r})"

    def dispatch(self, workflow: str, ref: str, inputs: dict[str, str]) -> Dispatched:
        with github_client(self.settings) as gh, github_errors(f"starting {self.repo} {workflow}", self.settings):
            flow = gh.get_repo(self.repo).get_workflow(workflow)
            answer = flow.create_dispatch(ref, inputs, throw=True, return_run_details=True)
            if answer is True:  # 204: an older server, no run details
                return Dispatched(None, None)
            return Dispatched(int(answer.id), str(answer.html_url or "") or None)

    def find_run(self, workflow: str, correlation: str, since: datetime, skip: Iterable[int] = ()) -> Run | None:
        """The oldest ``workflow_dispatch`` run created at or after ``since`` whose title shows ``correlation``,
        leaving out the run ids in ``skip`` (runs an earlier attempt used up)."""
        spent = set(skip)
        created = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with github_client(self.settings) as gh, github_errors(f"listing {self.repo} {workflow} runs", self.settings):
            flow = gh.get_repo(self.repo).get_workflow(workflow)
            matches = []
            for index, data in enumerate(flow.get_runs(event="workflow_dispatch", created=f">={created}")):
                if index >= MAX_LISTED:
                    break
                run = _run(data)
                if run.id not in spent and correlation in run.title:
                    matches.append(run)
        return min(matches, key=lambda r: r.id) if matches else None

    def get_run(self, run_id: int) -> Run:
        with github_client(self.settings) as gh, github_errors(f"reading {self.repo} run {run_id}", self.settings):
            return _run(gh.get_repo(self.repo).get_workflow_run(int(run_id)))

    def cancel_run(self, run_id: int) -> bool:
        """Ask GitHub to cancel the run; False when it had already ended (409)."""
        from thor_cli.adapters.github import GitHubError

        try:
            with (
                github_client(self.settings) as gh,
                github_errors(f"cancelling {self.repo} run {run_id}", self.settings),
            ):
                # PyGithub's own low-level path: WorkflowRun.cancel() would first GET the run for its cancel_url.
                gh.requester.requestJsonAndCheck("POST", f"/repos/{self.repo}/actions/runs/{int(run_id)}/cancel")
        except GitHubError as exc:
            if error_status(exc) == 409:
                return False
            raise
        return True
