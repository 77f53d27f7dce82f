"""Which remote gets ``THOR_GITHUB_TOKEN``, and what a failed git command really means.

The token goes only to the hosts it belongs to: github.com, the ``[github] api_url`` host (GitHub
Enterprise) and ``[github] token_hosts``; and only over https, or over plain http to a loopback host when
``[github] allow_http`` says so (a local test server). Every other remote gets no token: it authenticates the
way git does on its own (a credential helper, ssh keys), see docs/configuration.md.

``explain`` turns git's output into the one line that says why it failed ("authentication failed for
https://host (THOR_GITHUB_TOKEN rejected)", "ssh: host key verification failed for host"). The line names
the host, never the repository, so that the same cause in many repositories reads the same everywhere.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from thor_cli.secrets import secret

if TYPE_CHECKING:
    from thor_cli.config import Settings

TOKEN_ENV = "THOR_GITHUB_TOKEN"
PLAIN_HTTP = "token not sent over plain http://"
_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^/:]+):(?!//)")


@dataclass(frozen=True)
class TokenPolicy:
    hosts: frozenset[str] = frozenset({"github.com"})
    allow_http: bool = False  # plain http to a loopback host (a local test server) also gets the token


_policy = TokenPolicy()


def configure(settings: Settings) -> None:
    """Take the token's hosts from ``[github]``: called by every step that works on the repositories."""
    global _policy
    config = settings.config.github
    host = (urlsplit(config.api_url).hostname or "").lower()
    hosts = {"github.com", *(h.lower() for h in getattr(config, "token_hosts", ()))}
    if host and host != "api.github.com":
        hosts.add(host)
    _policy = TokenPolicy(frozenset(hosts), bool(getattr(config, "allow_http", False)))


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Credential:
    """What the git adapter does for one remote URL."""

    token: str | None  # the token to send, or None
    why_not: str | None  # why none is sent, when that is worth saying on an authentication failure
    origin: str  # scheme://host[:port] for messages, or the ssh host


def credential_for(url: str) -> Credential:
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and parts.hostname:
        host = parts.hostname.lower()
        origin = f"{scheme}://{host}" + (f":{parts.port}" if _port(parts) else "")
        if host not in _policy.hosts:
            return Credential(None, f"no credentials for {host}: {TOKEN_ENV} goes only to GitHub hosts", origin)
        if scheme == "http" and not (_policy.allow_http and is_loopback(host)):
            return Credential(None, PLAIN_HTTP, origin)
        token = secret(TOKEN_ENV)
        return Credential(token, None if token else f"{TOKEN_ENV} is not set", origin)
    if scheme == "ssh" and parts.hostname:
        return Credential(None, None, parts.hostname)
    scp = _SCP.match(text)
    if not scheme and scp and "\\" not in text:
        return Credential(None, None, scp["host"])
    return Credential(None, None, scheme + "://" if scheme else "the repository")


def _port(parts) -> int | None:  # type: ignore[no-untyped-def]
    try:
        return parts.port
    except ValueError:
        return None


# (what git or ssh says, lower-cased) -> the cause; checked in order, the first found wins.
_SSH = (
    ("host key verification failed", "ssh: host key verification failed for {origin}"),
    ("remote host identification has changed", "ssh: host key verification failed for {origin}"),
    ("permission denied (", "ssh: permission denied by {origin} (the ssh key of the user running Thor)"),
    ("could not resolve hostname", "ssh: could not resolve host {origin}"),
    ("connection refused", "ssh: connection refused by {origin}"),
    ("connection timed out", "ssh: connection to {origin} timed out"),
)
_HTTP = (
    ("could not resolve host", "could not resolve host of {origin}"),
    ("failed to connect to", "cannot connect to {origin}"),
    ("connection refused", "cannot connect to {origin}"),
    ("ssl certificate problem", "TLS certificate of {origin} not trusted"),
    ("server certificate verification failed", "TLS certificate of {origin} not trusted"),
)


def explain(output: str, url: str) -> str | None:
    """The cause of a failed git command, in one line, or None when git's own line says it best."""
    found = output.lower()
    credential = credential_for(url)
    origin = credential.origin
    if url.strip().lower().startswith(("http://", "https://")):
        if (
            "could not read username" in found
            or "could not read password" in found
            or "authentication failed" in found
            or "returned error: 401" in found
        ):
            if credential.token:
                return f"authentication failed for {origin} ({TOKEN_ENV} rejected)"
            return f"authentication failed for {origin} ({credential.why_not or 'no credentials'})"
        if "returned error: 403" in found:
            who = f"{TOKEN_ENV} has no access" if credential.token else credential.why_not or "no credentials"
            return f"access denied by {origin} (HTTP 403: {who})"
        if re.search(r"repository '[^']*' not found", found):
            hint = f" or {TOKEN_ENV} cannot see it" if credential.token else ""
            return f"repository not found at {origin} (wrong name{hint})"
        for needle, cause in _HTTP:
            if needle in found:
                return cause.format(origin=origin)
        return None
    if not _is_ssh(url):
        return None
    for needle, cause in _SSH:
        if needle in found:
            return cause.format(origin=origin)
    return None


def _is_ssh(url: str) -> bool:
    text = url.strip()
    scheme = urlsplit(text).scheme.lower()
    return scheme in ("ssh", "git+ssh", "ssh+git") or (not scheme and bool(_SCP.match(text)) and "\\" not in text)
