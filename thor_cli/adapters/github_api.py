"""The one place that builds a PyGithub client from Settings and turns its errors into Thor's one-line errors.

Why PyGithub (see docs/architecture.md): pull requests, labels, reviews and Actions are many endpoints with
pagination and rate limits; PyGithub covers them, retries rate limits through ``GithubRetry`` and is what
Gen3's own release tooling uses. It is imported only inside these functions.

Use::

    from thor_cli.adapters.github_api import github_client, github_errors

    with github_client(settings) as gh:
        with github_errors("opening the rollout pull request for qa", settings):
            repo = gh.get_repo("uc-cdis/gen3-gitops")
            pull = repo.create_pull(...)

- ``github_client(settings)`` (a context manager): a ``github.Github`` for ``[github] api_url`` with
  ``THOR_GITHUB_TOKEN`` (``ConfigError`` when it is unset, or when ``adapters.github.check_api_url`` refuses
  the URL: plain ``http://`` except with ``allow_http`` to a loopback test server, the token would travel in
  clear), ``[github] timeout``, ``per_page=100``,
  ``GithubRetry`` (rate limits waited out up to ``MAX_RATE_LIMIT_WAIT`` seconds, 5xx retried twice) and
  ``[github] write_interval`` seconds between writes (GitHub's advice against secondary rate limits),
  ``lazy=True`` (an object is fetched only when one of its attributes is read: fewer requests).
- ``github_errors(what)`` (a context manager): PyGithub and network exceptions raised inside become
  ``GitHubUnavailable`` (exit 3: GitHub down, 401, 403, rate limit; nothing more is worth trying) or
  ``GitHubError`` (a ``StepError``: 404, 422 or another answer about this one request). Messages are one
  redacted line and name ``what``. ``GitHubError.status`` keeps the HTTP status for callers that treat a
  422 ("already exists") as information.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from thor_cli.adapters.github import TOKEN_ENV, GitHubError, GitHubUnavailable, checked_api_url
from thor_cli.adapters.net import network_error, one_line
from thor_cli.errors import ConfigError
from thor_cli.secrets import secret

if TYPE_CHECKING:
    from github import Github

    from thor_cli.config import Settings

PER_PAGE = 100
MAX_RATE_LIMIT_WAIT = 60.0  # seconds: a longer wait gives up with GitHubUnavailable instead
RETRIES = 2  # extra attempts for a 5xx or a rate limit


class GitHubRequestError(GitHubError):
    """One request failed; ``status`` is GitHub's HTTP status (0 when there was no answer)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def github_client(settings: Settings) -> Iterator[Github]:
    """A ``github.Github`` configured from ``[github]``; closed on exit."""
    config = settings.config.github
    token = secret(TOKEN_ENV)
    if token is None:
        raise ConfigError(f"{TOKEN_ENV} is not set (GitHub pull requests need a token)")
    api_url = checked_api_url(config)
    from github import Auth, Github, GithubRetry

    retry = GithubRetry(total=RETRIES, max_rate_limit_wait=MAX_RATE_LIMIT_WAIT, raise_on_status=False)
    gh = Github(
        auth=Auth.Token(token),
        base_url=api_url.rstrip("/"),
        timeout=max(1, round(config.timeout)),
        per_page=PER_PAGE,
        retry=retry,
        seconds_between_requests=None,
        seconds_between_writes=config.write_interval or None,
        user_agent="thor-release-orchestrator",
        lazy=True,  # objects are fetched when an attribute needs them: fewer requests
    )
    try:
        yield gh
    finally:
        gh.close()


@contextmanager
def github_errors(what: str, settings: Settings | None = None) -> Iterator[None]:
    """Translate what PyGithub or requests raise inside the block into Thor's errors about ``what``
    (``settings`` only names the API URL and timeout in the message)."""
    import requests

    api_url = settings.config.github.api_url if settings else "GitHub"
    timeout = settings.config.github.timeout if settings else 30.0
    from github import GithubException, RateLimitExceededException

    try:
        yield
    except RateLimitExceededException as exc:
        raise GitHubUnavailable(f"GitHub rate limit reached while {what} ({_detail(exc)})") from None
    except GithubException as exc:
        raise _from_status(exc.status or 0, _detail(exc), what, api_url) from None
    except requests.RequestException as exc:
        raise GitHubUnavailable(network_error("GitHub", api_url, exc, timeout).message + f" (while {what})") from None


def _from_status(status: int, detail: str, what: str, api_url: str) -> Exception:
    text = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    if status == 401:
        return GitHubUnavailable(f"GitHub at {api_url} refused the token while {what} ({text})")
    if status == 403:
        return GitHubUnavailable(f"GitHub at {api_url} denied access while {what} ({text})")
    if status >= 500 or status == 0:
        return GitHubUnavailable(f"GitHub at {api_url} failed while {what} ({text})")
    return GitHubRequestError(f"GitHub answered {text} while {what}", status)


def _detail(exc: Any) -> str:
    """GitHub's ``message`` (and the first validation error, which says why a 422 happened)."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            extra = first.get("message") if isinstance(first, dict) else str(first)
            if extra:
                message = f"{message}: {extra}" if message else str(extra)
        return one_line(message, 200)
    return one_line(str(data or exc), 200)


def error_status(exc: BaseException) -> int | None:
    """The HTTP status of a ``GitHubRequestError``, else None."""
    return exc.status if isinstance(exc, GitHubRequestError) else None
