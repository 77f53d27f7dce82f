"""Who may write: a caller presenting ``Authorization: Bearer $THOR_SERVER_TOKEN``, compared in constant time.

Without ``THOR_SERVER_TOKEN`` the server is read-only. The token is read from the environment once, when the
app is made, and never logged or echoed.
"""

from __future__ import annotations

import dataclasses
import hmac

from thor_cli.runtime import Runtime
from thor_cli.secrets import secret

TOKEN_ENV = "THOR_SERVER_TOKEN"


class Unauthorized(Exception):
    """No token, or the wrong one (401)."""


class ReadOnly(Exception):
    """The server has no token configured, so nobody may write (403)."""


def server_token() -> str | None:
    return secret(TOKEN_ENV)


def check(configured: str | None, authorization: str | None) -> None:
    """Raise unless ``authorization`` is ``Bearer <the configured token>``."""
    if not configured:
        raise ReadOnly("this server is read-only: THOR_SERVER_TOKEN is not set")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("a write needs the header Authorization: Bearer <THOR_SERVER_TOKEN>")
    if not hmac.compare_digest(given.strip().encode(), configured.encode()):
        raise Unauthorized("wrong token")


def caller_runtime(base: Runtime, client: str | None) -> Runtime:
    """A runtime like the server's, whose ``who`` (the event log's actor) names the caller."""
    rt = dataclasses.replace(base, who=f"server:{client or 'unknown'}")
    for name in ("calendar", "pipeline"):  # already built and read-only: share them
        if name in base.__dict__:
            rt.__dict__[name] = base.__dict__[name]
    return rt
