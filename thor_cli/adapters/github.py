"""GitHub's REST API, for what the release notes need: a pull request's title and description.

``GET /repos/{owner}/{repo}/pulls/{number}`` with ``Authorization: Bearer $THOR_GITHUB_TOKEN``. Rate
limits are honoured: a 403/429 with ``retry-after`` waits that long, one with ``x-ratelimit-remaining: 0``
waits until ``x-ratelimit-reset``, and a response saying the budget is spent makes the next request wait
for the reset. Waits longer than ``max_wait`` are not made: the client gives up with ``GitHubUnavailable``.

Errors are ``ThorError``s with one redacted line: ``GitHubUnavailable`` (GitHub down, refusing the token,
rate-limited) means no further request is worth making; ``GitHubError`` concerns one request (a pull
request that does not exist). ``requests`` is imported only when a request is made.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from thor_cli.adapters.git_auth import TOKEN_ENV, is_loopback
from thor_cli.adapters.net import network_error, one_line
from thor_cli.errors import ConfigError, ServiceUnavailable, StepError
from thor_cli.secrets import secret

if TYPE_CHECKING:
    from thor_cli.config import GithubConfig, Settings

__all__ = ["TOKEN_ENV", "GitHubClient", "GitHubError", "GitHubUnavailable", "checked_api_url"]
API_VERSION = "2022-11-28"
MAX_ATTEMPTS = 3  # per request, counting the ones that hit a rate limit
MAX_WAIT = 60.0  # seconds: a longer rate-limit wait gives up instead
SECONDARY_LIMIT_WAIT = 60.0  # a 429 without any hint: GitHub asks for at least a minute
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SCP_URL = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


class GitHubError(StepError):
    """One request failed (a pull request that does not exist, an unexpected answer)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, 500))


class GitHubUnavailable(ServiceUnavailable):
    """GitHub cannot be used now: unreachable, failing, refusing the token or rate-limited."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, 500))


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    url: str  # the page a person opens
    author: str | None = None


class GitHubClient:
    service = "GitHub"

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.max_wait = max_wait
        self._token = token
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._blocked_until = 0.0  # epoch seconds: the rate limit is spent until then
        self._local = threading.local()  # a requests.Session per thread

    def __repr__(self) -> str:  # never show the token
        return f"GitHubClient(api_url={self.api_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubClient | None:
        """A client for ``[github]``, or None when ``$THOR_GITHUB_TOKEN`` is not set."""
        token = secret(TOKEN_ENV)
        if not token:
            return None
        config = settings.config.github
        return cls(checked_api_url(config), token, timeout=config.timeout)

    # -- the API ------------------------------------------------------------------------------------

    def pull_request(self, repo: str, number: int) -> PullRequest:
        """A pull request of ``repo`` ("owner/name")."""
        owner, _, name = repo.partition("/")
        path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/pulls/{int(number)}"
        data = self._get(path, what=f"{repo}#{number}")
        if not isinstance(data, dict):
            raise GitHubError(f"GitHub answered {repo}#{number} with something other than a pull request")
        user = data.get("user")
        return PullRequest(
            number=int(data.get("number") or number),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            url=str(data.get("html_url") or ""),
            author=str(user.get("login")) if isinstance(user, dict) and user.get("login") else None,
        )

    # -- plumbing -----------------------------------------------------------------------------------

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers.update(
                {
                    "Authorization": f"Bearer {self._token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": API_VERSION,
                    "User-Agent": "thor-release-orchestrator",
                }
            )
            self._local.session = session
        return session

    def _get(self, path: str, *, what: str) -> Any:
        import requests

        url = self.api_url + path
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._wait_for_budget()
            try:
                response = self._session().get(url, timeout=self.timeout)
            except requests.RequestException as exc:
                raise _unavailable(network_error(self.service, self.api_url, exc, self.timeout)) from None
            status = response.status_code
            if status in (403, 429):
                wait = self._rate_limit_wait(response)
                if wait is not None:
                    if wait > self.max_wait or attempt == MAX_ATTEMPTS:
                        raise GitHubUnavailable(
                            f"GitHub rate limit reached (HTTP {status}); it lifts in {wait:.0f}s, "
                            f"later than Thor waits ({self.max_wait:.0f}s)"
                            if wait > self.max_wait
                            else f"GitHub rate limit reached (HTTP {status}) {attempt} times in a row"
                        )
                    self._sleep(wait)
                    continue
            if 200 <= status < 300:
                self._note_budget(response.headers)
                try:
                    return response.json()
                except ValueError:
                    raise GitHubError(f"GitHub answered {what} with invalid JSON") from None
            raise self._error(status, _message(response), what)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _error(self, status: int, message: str, what: str) -> StepError:
        text = f": {message}" if message else ""
        if status == 401:
            return GitHubUnavailable(f"GitHub at {self.api_url} refused the token (HTTP 401{text})")
        if status == 403:
            return GitHubUnavailable(f"GitHub at {self.api_url} denied access (HTTP 403{text})")
        if status == 404:
            return GitHubError(f"{what} was not found on GitHub (HTTP 404{text})")
        if status >= 500:
            return GitHubUnavailable(f"GitHub at {self.api_url} failed (HTTP {status}{text})")
        return GitHubError(f"GitHub answered {what} with HTTP {status}{text}")

    def _rate_limit_wait(self, response: Any) -> float | None:
        """Seconds to wait before trying again, or None when the 403/429 is not about rate limits."""
        headers = response.headers
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return SECONDARY_LIMIT_WAIT
        if headers.get("x-ratelimit-remaining") == "0":
            reset = _number(headers.get("x-ratelimit-reset"))
            return max(0.0, reset - self._clock()) + 1.0 if reset is not None else SECONDARY_LIMIT_WAIT
        if response.status_code == 429 or "rate limit" in _message(response).lower():
            return SECONDARY_LIMIT_WAIT
        return None

    def _note_budget(self, headers: Any) -> None:
        """A response saying the budget is spent: hold the next requests until the reset."""
        if headers.get("x-ratelimit-remaining") != "0":
            return
        reset = _number(headers.get("x-ratelimit-reset"))
        if reset is not None:
            with self._lock:
                self._blocked_until = max(self._blocked_until, reset + 1.0)

    def _wait_for_budget(self) -> None:
        with self._lock:
            wait = self._blocked_until - self._clock()
        if wait <= 0:
            return
        if wait > self.max_wait:
            until = datetime.fromtimestamp(self._blocked_until, UTC).strftime("%H:%M:%S UTC")
            raise GitHubUnavailable(f"GitHub rate limit spent until {until}")
        self._sleep(wait)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _message(response: Any) -> str:
    """GitHub's ``message`` from an error body, else the start of the body; one redacted line."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("message"):
        return one_line(str(data["message"]), 200)
    kind = str(response.headers.get("Content-Type", "")).lower()
    if "html" in kind or response.text.lstrip()[:1] == "<":
        return ""  # a proxy's or server's error page: the status says it, the page would fill the screen
    return one_line(response.text, 200)


def _unavailable(error: ServiceUnavailable) -> GitHubUnavailable:
    return GitHubUnavailable(error.message)


def check_api_url(api_url: str, *, allow_http: bool = False) -> None:
    """The Bearer token goes over https only, as git's token does: plain http is refused (``ValueError``),
    unless ``allow_http`` is set and the host is this machine (a local test server). The one check of the
    API URL: the configuration runs it when ``thor.toml`` is loaded, and both GitHub clients (this one and
    PyGithub's in ``github_api``) again through ``checked_api_url`` before a token leaves."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{api_url!r} is not an http(s) URL")
    if parts.scheme == "https":
        return
    if not allow_http:
        raise ValueError(
            f"{api_url!r} is plain http://: {TOKEN_ENV} is never sent unencrypted "
            "(use https://; allow_http = true is for a loopback test server)"
        )
    if not is_loopback(parts.hostname):
        raise ValueError(f"allow_http is only for a loopback test server, not {parts.hostname}")


def checked_api_url(config: GithubConfig) -> str:
    """``[github] api_url`` once ``check_api_url`` accepts it, else a one-line ``ConfigError``."""
    try:
        check_api_url(config.api_url, allow_http=config.allow_http)
    except ValueError as exc:
        raise ConfigError(f"github.api_url: {exc}") from None
    return config.api_url


# -- which repositories are on GitHub -----------------------------------------------------------------


def web_host(api_url: str) -> str:
    """The host people browse: github.com for the public API, the API's host for GitHub Enterprise."""
    host = (urlsplit(api_url).hostname or "").lower()
    return "github.com" if host in ("", "api.github.com") else host


def _github_repo(repo_url: str, api_url: str) -> tuple[str, str] | None:
    """(host, ``owner/name``) when ``repo_url`` is on GitHub (or on the Enterprise host of ``api_url``)."""
    text = repo_url.strip()
    parts = urlsplit(text)
    if parts.scheme and parts.hostname:
        host, path = parts.hostname.lower(), parts.path
    else:
        scp = _SCP_URL.match(text)
        if scp is None:
            return None
        host, path = scp["host"].lower(), scp["path"]
    if host not in ("github.com", web_host(api_url)):
        return None
    slug = path.strip("/").removesuffix(".git")
    return (host, slug) if _SLUG.match(slug) else None


def github_slug(repo_url: str, api_url: str) -> str | None:
    """``owner/name`` when ``repo_url`` is on GitHub (or on the Enterprise host of ``api_url``)."""
    found = _github_repo(repo_url, api_url)
    return found[1] if found else None


def api_slug(repo_name: str, repo_url: str, api_url: str) -> str | None:
    """The ``owner/name`` to ask the API about: from a GitHub URL, else the configured name if it has that
    shape (a repository served from a mirror keeps its GitHub name)."""
    return github_slug(repo_url, api_url) or (repo_name if _SLUG.match(repo_name) else None)


def pull_link(repo_url: str, api_url: str, number: int) -> str | None:
    """The pull request's page when the repository is on GitHub, else None."""
    found = _github_repo(repo_url, api_url)
    return f"{_web_base(found[0], api_url)}/{found[1]}/pull/{number}" if found else None


def _web_base(host: str, api_url: str) -> str:
    """Where pull requests are browsed: github.com, or the Enterprise server with the API's scheme and port
    (a repository's ssh port says nothing about the web server's)."""
    if host == "github.com":
        return "https://github.com"
    api = urlsplit(api_url)
    port = f":{api.port}" if api.port else ""
    return f"{api.scheme or 'https'}://{host}{port}"
