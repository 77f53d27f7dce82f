"""JIRA: the release's fix version and its release tasks, through the ``jira`` client library.

Every operation looks before it acts, so a tick that died half-way can simply run again. Errors leave
this module as ``ThorError``s with one redacted line; ``jira`` is imported lazily so ``thor status`` is fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from thor_cli.adapters.net import one_line
from thor_cli.adapters.service import ServiceClient
from thor_cli.errors import ServiceUnavailable, StepError, ThorError
from thor_cli.secrets import redact, required_secret

if TYPE_CHECKING:
    from jira import JIRA
    from jira.resources import Version

    from thor_cli.config import Settings

# Words of a summary for a JQL text search: the ``~`` operator rejects Lucene specials such as ``-`` or ``:``.
_SEARCH_WORDS = re.compile(r"[\w.]+")


@dataclass(frozen=True)
class JiraVersion:
    id: str
    name: str
    released: bool
    release_date: str | None
    start_date: str | None
    self_url: str

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> JiraVersion:
        return cls(
            id=str(raw.get("id", "")),
            name=str(raw.get("name", "")),
            released=bool(raw.get("released", False)),
            release_date=raw.get("releaseDate"),
            start_date=raw.get("startDate"),
            self_url=str(raw.get("self", "")),
        )


class JiraClient(ServiceClient):
    """A JIRA server (Data Center or Cloud) reached with basic auth (user + API token)."""

    service = "JIRA"
    section = "jira"
    required = ("url", "project")
    url: str

    def __init__(
        self,
        url: str,
        user: str,
        token: str,
        *,
        timeout: float = 30,
        max_retries: int = 3,
        subtask_type: str = "Sub-task",
    ) -> None:
        super().__init__(url.rstrip("/"), token, timeout=timeout, user=user)
        self.max_retries = max_retries
        # Data Center calls it "Sub-task", Cloud "Subtask".
        self.subtask_type = subtask_type
        self._jira: JIRA | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JiraClient:
        config = cls.configured(settings)
        user, token = required_secret("THOR_JIRA_USER"), required_secret("THOR_JIRA_TOKEN")
        return cls(
            config.url,
            user,
            token,
            timeout=config.timeout,
            max_retries=config.max_retries,
            subtask_type=config.subtask_type,
        )

    # -- plumbing -----------------------------------------------------------------------------------

    def _client(self) -> JIRA:
        """The ``jira.JIRA`` object, made on first use (its constructor already calls serverInfo)."""
        if self._jira is None:
            from jira import JIRA

            with self._errors("connect"):
                self._jira = JIRA(
                    self.url,
                    basic_auth=(self._user or "", self._token),
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                )
        return self._jira

    def _translate(self, action: str, exc: Exception) -> ThorError | None:
        import requests
        from jira.exceptions import JIRAError

        if isinstance(exc, JIRAError):
            # str(JIRAError) lists the request headers, basic-auth included: use only status and parsed text.
            return self._api_error(action, exc.status_code, exc.text)
        if isinstance(exc, requests.RequestException):
            return self._unreachable(exc)
        if isinstance(exc, ValueError):  # the body was not the JSON the client expected
            return self._not_json(action)
        return None

    def _api_error(self, action: str, status: int | None, text: str | None) -> ThorError:
        if status in (401, 403):
            return self._credentials_rejected(status)
        if status == 429:
            return ServiceUnavailable(redact(f"JIRA at {self.url} is rate limiting Thor (HTTP 429); try later"))
        if status is not None and status >= 500:
            return self._server_failed(action, status)
        detail = one_line(text)
        where = f"HTTP {status}" if status else "no HTTP status"
        return StepError(redact(f"JIRA could not {action} ({where})" + (f": {detail}" if detail else "")))

    # -- operations ---------------------------------------------------------------------------------

    def server_info(self) -> dict[str, Any]:
        jira = self._client()
        with self._errors("read the server info"):
            return dict(jira.server_info())

    def _find_version_resource(self, project: str, name: str) -> Version | None:
        jira = self._client()
        with self._errors(f"list the versions of project {project}"):
            versions = jira.project_versions(project)
        return next((v for v in versions if v.raw.get("name") == name), None)

    def project_versions(self, project: str) -> list[JiraVersion]:
        """Every version of ``project`` (``thor doctor`` reads them to check the project and permissions)."""
        jira = self._client()
        with self._errors(f"list the versions of project {project}"):
            versions = jira.project_versions(project)
        return [JiraVersion.from_raw(v.raw) for v in versions]

    def find_version(self, project: str, name: str) -> JiraVersion | None:
        found = self._find_version_resource(project, name)
        return JiraVersion.from_raw(found.raw) if found is not None else None

    def ensure_version(
        self, project: str, name: str, *, description: str, start_date: date, release_date: date
    ) -> tuple[JiraVersion, bool]:
        """The version ``name`` in ``project``, created unless it exists. Returns (version, created)."""
        from jira.exceptions import JIRAError

        existing = self.find_version(project, name)
        if existing is not None:
            return existing, False
        fields = {
            "name": name,
            "project": project,
            "description": description,
            "startDate": start_date.isoformat(),
            "releaseDate": release_date.isoformat(),
            "archived": False,
            "released": False,
        }
        with self._errors(f"create version {name} in project {project}"):
            try:
                created = self._post("version", fields)
            except JIRAError as exc:
                # 400 is also how JIRA says "already exists": someone created it since we looked.
                if exc.status_code == 400 and (raced := self.find_version(project, name)) is not None:
                    return raced, False
                raise
        return JiraVersion.from_raw(created), True

    def _post(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /rest/api/2/RESOURCE`` through the client's own session: its authentication, retries and
        ``JIRAError``s. ``JIRA.create_version`` would do the same POST and then sleep one second, a wait for
        JIRA's caches that Thor has no use for (it reads the version back on a later tick, if ever)."""
        import json

        from jira.utils import json_loads

        jira = self._client()
        response = jira._session.post(jira._get_url(resource), data=json.dumps(body))
        return dict(json_loads(response))

    def mark_released(self, project: str, name: str, release_date: date) -> tuple[JiraVersion, bool]:
        """Mark the version released. Returns (version, changed); a released version is left alone."""
        resource = self._find_version_resource(project, name)
        if resource is None:
            raise StepError(f"JIRA version {name} does not exist in project {project}")
        if resource.raw.get("released"):
            return JiraVersion.from_raw(resource.raw), False
        with self._errors(f"mark version {name} released"):
            resource.update(released=True, releaseDate=release_date.isoformat())
        return JiraVersion.from_raw(resource.raw), True

    def _find_story(self, project: str, summary: str) -> dict[str, Any] | None:
        words = " ".join(_SEARCH_WORDS.findall(summary))
        jql = f'project = "{_jql_escape(project)}" AND summary ~ "{_jql_escape(words)}" ORDER BY key ASC'
        jira = self._client()
        with self._errors(f"search project {project} for {summary!r}"):
            found = jira.search_issues(jql, maxResults=50, fields="summary,subtasks,issuetype", json_result=True)
        issues = found.get("issues", []) if isinstance(found, dict) else []
        # ``~`` is a fuzzy text search: keep only an exact summary match.
        return next((i for i in issues if i.get("fields", {}).get("summary") == summary), None)

    def _create_issue(self, fields: dict[str, Any], action: str) -> str:
        jira = self._client()
        with self._errors(action):
            issue = jira.create_issue(fields=fields, prefetch=False)
        return str(issue.key)

    def ensure_release_tasks(
        self, project: str, version_name: str, summary: str, subtasks: list[str]
    ) -> tuple[str, bool]:
        """A story ``summary`` (fix version ``version_name``) with one sub-task per entry, each made once.

        Returns (story key, whether anything was created now).
        """
        story = self._find_story(project, summary)
        created_any = False
        existing: set[str] = set()
        if story is None:
            story_key = self._create_issue(
                {
                    "project": {"key": project},
                    "issuetype": {"name": "Story"},
                    "summary": summary,
                    "fixVersions": [{"name": version_name}],
                },
                f"create story {summary!r} in project {project}",
            )
            created_any = True
        else:
            story_key = str(story["key"])
            existing = {s.get("fields", {}).get("summary", "") for s in story["fields"].get("subtasks") or []}
        for title in subtasks:
            if title in existing:
                continue
            self._create_issue(
                {
                    "project": {"key": project},
                    "issuetype": {"name": self.subtask_type},
                    "parent": {"key": story_key},
                    "summary": title,
                },
                f"create sub-task {title!r} of {story_key}",
            )
            existing.add(title)
            created_any = True
        return story_key, created_any


def _jql_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
