"""A fake JIRA (REST API v2) that answers what the ``jira`` 3.10.5 client asks.

Covers serverInfo, fields, project versions, version create/read/update (``self`` URLs; 400 on a duplicate
name), issue create/read and issue search: ``GET|POST /rest/api/2/search`` (Server/Data Center) and
``/rest/api/2/search/jql`` (what the client uses when serverInfo says ``deploymentType: Cloud``).
The JQL understood is ``field op value [AND ...] [ORDER BY ...]`` with fields project, issuetype, summary
(``~`` only, word match), fixVersion, parent, key, status. Anything else answers 400 like JIRA would.
Basic user:token is checked on every request (401 when wrong or missing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tests.fakes.http import FakeServer, Fault, Request, Response, basic_credentials

DEFAULT_USER = "thor-bot@example.org"
DEFAULT_TOKEN = "jira-fake-token-91b7d2"
_WORDS = re.compile(r"[\w.]+")
_CLAUSE = re.compile(
    r'\s*(?P<field>[\w.]+)\s*(?P<op>!=|=|~)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s"()]+)\s*', re.IGNORECASE
)
_AND = re.compile(r"AND\s+", re.IGNORECASE)


@dataclass
class FakeIssue:
    id: int
    key: str
    project: str
    issuetype: str
    summary: str
    fix_versions: list[str] = field(default_factory=list)
    parent: str | None = None
    status: str = "Open"


class JqlError(ValueError):
    pass


class FakeJira(FakeServer):
    name = "jira"

    def __init__(
        self,
        *,
        user: str = DEFAULT_USER,
        token: str = DEFAULT_TOKEN,
        projects: tuple[str, ...] = ("GEN3",),
        deployment_type: str = "Server",
        subtask_type: str | None = None,
        port: int = 0,
        delay: float = 0.0,
    ) -> None:
        super().__init__(port=port, delay=delay)
        self.user, self.token, self.deployment_type = user, token, deployment_type
        subtask = subtask_type or ("Subtask" if deployment_type == "Cloud" else "Sub-task")
        # name -> (id, is a sub-task type)
        self.issue_types = {"Story": ("10001", False), "Task": ("10002", False), "Bug": ("10004", False)}
        self.issue_types[subtask] = ("10003", True)
        self.projects: dict[str, int] = {}
        self.versions: dict[int, dict[str, Any]] = {}  # id -> raw version (without self)
        self.issues: dict[str, FakeIssue] = {}
        self.versions_created = 0
        self.versions_released = 0
        self.versions_updated = 0
        self.issues_created = 0
        self.searches = 0
        self._next_id = 10000
        for key in projects:
            self.add_project(key)
        self.route("GET", r"/rest/api/2/serverInfo", self._server_info)
        self.route("GET", r"/rest/api/2/myself", self._myself)
        self.route("GET", r"/rest/api/2/field", self._fields)
        self.route("GET", r"/rest/api/2/project/([^/]+)/versions", self._project_versions)
        self.route("POST", r"/rest/api/2/version", self._create_version)
        self.route("*", r"/rest/api/2/version/(\d+)", self._version)
        self.route("*", r"/rest/api/2/search(/jql)?", self._search)
        self.route("POST", r"/rest/api/2/issue", self._create_issue)
        self.route("GET", r"/rest/api/2/issue/([^/]+)", self._get_issue)

    # -- test controls ------------------------------------------------------------------------------

    def add_project(self, key: str) -> None:
        with self.lock:
            self.projects[key] = self._new_id()

    def add_version(self, project: str, name: str, *, released: bool = False, release_date: str | None = None) -> int:
        """Preload a version (does not count in ``versions_created``)."""
        with self.lock:
            version_id = self._new_id()
            raw: dict[str, Any] = {
                "id": str(version_id),
                "name": name,
                "archived": False,
                "released": released,
            }
            if release_date:
                raw["releaseDate"] = release_date
            raw["projectId"] = self.projects[project]
            self.versions[version_id] = raw
            return version_id

    def version_named(self, project: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            raw = self._find_version(self.projects[project], name)
            return self._version_json(raw) if raw else None

    def issues_in(self, project: str) -> list[FakeIssue]:
        with self.lock:
            return [i for i in self.issues.values() if i.project == project]

    # -- helpers ------------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    @staticmethod
    def _error(status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None) -> Response:
        return Response.json({"errorMessages": messages or [], "errors": errors or {}}, status)

    def _find_version(self, project_id: int, name: str) -> dict[str, Any] | None:
        # JIRA compares version names case-insensitively.
        return next(
            (v for v in self.versions.values() if v["projectId"] == project_id and v["name"].lower() == name.lower()),
            None,
        )

    def _version_json(self, raw: dict[str, Any]) -> dict[str, Any]:
        return {"self": f"{self.url}/rest/api/2/version/{raw['id']}", **raw}

    def _project_json(self, key: str) -> dict[str, Any]:
        return {
            "self": f"{self.url}/rest/api/2/project/{self.projects[key]}",
            "id": str(self.projects[key]),
            "key": key,
            "name": f"Project {key}",
        }

    def _issuetype_json(self, name: str) -> dict[str, Any]:
        type_id, subtask = self.issue_types[name]
        return {
            "self": f"{self.url}/rest/api/2/issuetype/{type_id}",
            "id": type_id,
            "name": name,
            "subtask": subtask,
        }

    def _issue_ref(self, issue: FakeIssue) -> dict[str, Any]:
        return {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{self.url}/rest/api/2/issue/{issue.id}",
            "fields": {
                "summary": issue.summary,
                "status": {"name": issue.status},
                "priority": {"name": "Medium"},
                "issuetype": self._issuetype_json(issue.issuetype),
            },
        }

    def _issue_json(self, issue: FakeIssue, wanted: set[str] | None = None) -> dict[str, Any]:
        project_id = self.projects[issue.project]
        fields: dict[str, Any] = {
            "summary": issue.summary,
            "issuetype": self._issuetype_json(issue.issuetype),
            "project": self._project_json(issue.project),
            "fixVersions": [
                self._version_json(v) for n in issue.fix_versions if (v := self._find_version(project_id, n))
            ],
            "status": {"name": issue.status, "id": "1"},
            "subtasks": [self._issue_ref(i) for i in self.issues.values() if i.parent == issue.key],
        }
        if issue.parent:
            fields["parent"] = self._issue_ref(self.issues[issue.parent])
        if wanted is not None:
            fields = {k: v for k, v in fields.items() if k in wanted}
        return {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{self.url}/rest/api/2/issue/{issue.id}",
            "fields": fields,
        }

    # -- routes -------------------------------------------------------------------------------------

    def check_auth(self, request: Request) -> Response | None:
        if basic_credentials(request) == (self.user, self.token):
            return None
        response = self._error(401, ["You are not authenticated. Authentication required to perform this operation."])
        response.headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        return response

    def fault_response(self, fault: Fault) -> Response:
        if fault.body is not None:
            response = Response.text(fault.body, fault.status, content_type="application/json")
        else:
            response = self._error(fault.status, [f"fake JIRA failure (HTTP {fault.status})"])
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response

    def _server_info(self, request: Request, match: re.Match[str]) -> Response:
        return Response.json(
            {
                "baseUrl": self.url,
                "version": "9.12.2",
                "versionNumbers": [9, 12, 2],
                "deploymentType": self.deployment_type,
                "buildNumber": 9120002,
                "serverTitle": "Fake JIRA",
            }
        )

    def _myself(self, request: Request, match: re.Match[str]) -> Response:
        return Response.json({"name": self.user, "displayName": "Thor", "active": True})

    def _fields(self, request: Request, match: re.Match[str]) -> Response:
        names = {
            "summary": "Summary",
            "issuetype": "Issue Type",
            "project": "Project",
            "fixVersions": "Fix Version/s",
            "status": "Status",
            "subtasks": "Sub-Tasks",
            "parent": "Parent",
        }
        clause = {"fixVersions": ["fixVersion"], "issuetype": ["issuetype", "type"]}
        return Response.json(
            [
                {
                    "id": k,
                    "key": k,
                    "name": v,
                    "custom": False,
                    "navigable": True,
                    "clauseNames": clause.get(k, [k]),
                }
                for k, v in names.items()
            ]
        )

    def _project_versions(self, request: Request, match: re.Match[str]) -> Response:
        key = match[1]
        if key not in self.projects:
            return self._error(404, [f"No project could be found with key '{key}'."])
        project_id = self.projects[key]
        return Response.json([self._version_json(v) for v in self.versions.values() if v["projectId"] == project_id])

    def _create_version(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json() or {}
        key = body.get("project")
        project_id = self.projects.get(key) if key else body.get("projectId")
        if project_id not in self.projects.values():
            return self._error(400, errors={"project": "Project must be specified to create a version."})
        name = str(body.get("name") or "").strip()
        if not name:
            return self._error(400, errors={"name": "You must specify a valid version name"})
        if self._find_version(project_id, name) is not None:
            return self._error(400, errors={"name": "A version with this name already exists in this project."})
        bad_date = _bad_dates(body)
        if bad_date:
            return self._error(400, errors=bad_date)
        version_id = self._new_id()
        raw = {
            "id": str(version_id),
            "name": name,
            "archived": bool(body.get("archived", False)),
            "released": bool(body.get("released", False)),
            "projectId": project_id,
        }
        for key_name in ("description", "startDate", "releaseDate"):
            if body.get(key_name) is not None:
                raw[key_name] = body[key_name]
        self.versions[version_id] = raw
        self.versions_created += 1
        return Response.json(self._version_json(raw), 201)

    def _version(self, request: Request, match: re.Match[str]) -> Response:
        raw = self.versions.get(int(match[1]))
        if raw is None:
            return self._error(404, [f"Could not find version for id '{match[1]}'"])
        if request.method == "GET":
            return Response.json(self._version_json(raw))
        if request.method != "PUT":
            return Response.text("method not allowed", 405)
        body = request.json() or {}
        bad_date = _bad_dates(body)
        if bad_date:
            return self._error(400, errors=bad_date)
        if body.get("released") and not raw.get("released"):
            self.versions_released += 1
        for key_name in ("name", "description", "released", "archived", "startDate", "releaseDate"):
            if key_name in body:
                raw[key_name] = body[key_name]
        self.versions_updated += 1
        return Response.json(self._version_json(raw))

    def _search(self, request: Request, match: re.Match[str]) -> Response:
        params: dict[str, Any] = {k: v if k == "fields" else v[0] for k, v in request.query.items()}
        if request.method == "POST":
            params.update(request.json() or {})
        elif request.method != "GET":
            return Response.text("method not allowed", 405)
        self.searches += 1
        try:
            clauses = _parse_jql(str(params.get("jql") or ""))
            found = [i for i in sorted(self.issues.values(), key=lambda i: i.id) if self._matches(i, clauses)]
        except JqlError as exc:
            return self._error(400, [str(exc)])
        wanted = _wanted_fields(params.get("fields"))
        start, limit = int(params.get("startAt") or 0), int(params.get("maxResults") or 50)
        page = [self._issue_json(i, wanted) for i in found[start : start + limit]]
        if match[1]:  # the Cloud endpoint pages with tokens
            return Response.json({"issues": page, "isLast": start + limit >= len(found)})
        return Response.json(
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": limit,
                "total": len(found),
                "issues": page,
            }
        )

    def _matches(self, issue: FakeIssue, clauses: list[tuple[str, str, str]]) -> bool:
        return all(self._clause_matches(issue, *clause) for clause in clauses)

    def _clause_matches(self, issue: FakeIssue, field_name: str, op: str, value: str) -> bool:
        if field_name == "summary":
            if op != "~":
                raise JqlError(f"The operator '{op}' is not supported by the 'summary' field.")
            have = {w.lower() for w in _WORDS.findall(issue.summary)}
            return all(w.lower() in have for w in _WORDS.findall(value))
        if op == "~":
            raise JqlError(f"The operator '~' is not supported by the '{field_name}' field.")
        actual: list[str]
        if field_name == "project":
            actual = [issue.project, str(self.projects[issue.project])]
        elif field_name in ("issuetype", "type"):
            actual = [issue.issuetype]
        elif field_name == "fixversion":
            actual = issue.fix_versions
        elif field_name == "parent":
            actual = [issue.parent or ""]
        elif field_name in ("key", "issuekey"):
            actual = [issue.key]
        elif field_name == "status":
            actual = [issue.status]
        else:
            raise JqlError(f"Field '{field_name}' does not exist or you do not have permission to view it.")
        hit = value.lower() in (a.lower() for a in actual)
        return hit if op == "=" else not hit

    def _create_issue(self, request: Request, match: re.Match[str]) -> Response:
        fields = (request.json() or {}).get("fields") or {}
        project = fields.get("project") or {}
        key = project.get("key") or next(
            (k for k, v in self.projects.items() if str(v) == str(project.get("id"))), None
        )
        if key not in self.projects:
            return self._error(400, errors={"project": "valid project is required"})
        issuetype = fields.get("issuetype") or {}
        type_name = issuetype.get("name") or next(
            (n for n, (i, _) in self.issue_types.items() if i == str(issuetype.get("id"))), None
        )
        if type_name not in self.issue_types:
            return self._error(400, errors={"issuetype": "Specify a valid issue type"})
        summary = str(fields.get("summary") or "")
        if not summary.strip():
            return self._error(400, errors={"summary": "You must specify a summary of the issue."})
        if "\n" in summary:
            return self._error(
                400, errors={"summary": "The summary is invalid because it contains newline characters."}
            )
        parent_key = (fields.get("parent") or {}).get("key")
        is_subtask = self.issue_types[type_name][1]
        if is_subtask and parent_key not in self.issues:
            return self._error(
                400, errors={"parent": "Issue type is a sub-task but parent issue key or id not specified."}
            )
        if not is_subtask and parent_key:
            return self._error(400, errors={"parent": "The issue type selected is not a sub-task type."})
        versions = [str(v.get("name") or "") for v in fields.get("fixVersions") or []]
        for name in versions:
            if self._find_version(self.projects[key], name) is None:
                return self._error(400, errors={"fixVersions": f"Version name '{name}' is not valid"})
        issue_id = self._new_id()
        issue_key = f"{key}-{sum(1 for i in self.issues.values() if i.project == key) + 1}"
        self.issues[issue_key] = FakeIssue(issue_id, issue_key, key, type_name, summary, versions, parent_key)
        self.issues_created += 1
        return Response.json(
            {"id": str(issue_id), "key": issue_key, "self": f"{self.url}/rest/api/2/issue/{issue_id}"}, 201
        )

    def _get_issue(self, request: Request, match: re.Match[str]) -> Response:
        wanted = match[1]
        issue = self.issues.get(wanted) or next((i for i in self.issues.values() if str(i.id) == wanted), None)
        if issue is None:
            return self._error(404, ["Issue Does Not Exist"])
        return Response.json(self._issue_json(issue, _wanted_fields(request.query.get("fields"))))


def _bad_dates(body: dict[str, Any]) -> dict[str, str]:
    for key in ("startDate", "releaseDate"):
        value = body.get(key)
        if value is None:
            continue
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return {key: f'Invalid date format. Please enter the date in the format "yyyy-MM-dd" ({value!r}).'}
    return {}


def _wanted_fields(raw: Any) -> set[str] | None:
    """``fields`` as sent: repeated query values, a comma-separated string or a JSON list; None means all."""
    if raw is None:
        return None
    values = raw if isinstance(raw, list) else [raw]
    names = {part.strip() for value in values for part in str(value).split(",") if part.strip()}
    return None if not names or names & {"*all", "*navigable"} else names


def _parse_jql(jql: str) -> list[tuple[str, str, str]]:
    text = re.split(r"\s+ORDER\s+BY\s+", jql.strip(), maxsplit=1, flags=re.IGNORECASE)[0].strip()
    clauses: list[tuple[str, str, str]] = []
    pos = 0
    while text:
        clause = _CLAUSE.match(text, pos)
        if clause is None:
            raise JqlError(f"Error in the JQL Query: cannot parse {text[pos:]!r}")
        clauses.append((clause["field"].lower(), clause["op"], _unquote(clause["value"])))
        pos = clause.end()
        if pos >= len(text):
            break
        conjunction = _AND.match(text, pos)
        if conjunction is None:
            raise JqlError(f"Error in the JQL Query: expected AND at {text[pos:]!r}")
        pos = conjunction.end()
    return clauses


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
