"""Shared by the HTTP adapters (JIRA, Jenkins, Slack): network failures and server text as one line.

Every message that leaves here is redacted: a server may echo a request back, credentials included.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

from thor_cli.adapters.capture import CUT_MARGIN
from thor_cli.errors import ServiceUnavailable
from thor_cli.secrets import redact

_MAX_DETAIL_CHARS = 300


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (``__cause__``, ``__context__``, ``reason``, exception args)."""
    seen: set[int] = set()
    queue = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        queue.extend(x for x in linked if isinstance(x, BaseException))


def describe_connection_error(exc: BaseException) -> str:
    """A short reason for a network failure however deeply the HTTP library wrapped it."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__:
            return "timed out"
        if isinstance(cause, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return "connection reset"
    text = str(exc).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("name or service not known", "DNS lookup failed"),
        ("nodename nor servname", "DNS lookup failed"),
        ("name resolution", "DNS lookup failed"),
        ("timed out", "timed out"),
        ("reset", "connection reset"),
        ("remote end closed", "connection reset"),
    ):
        if needle in text:
            return reason
    return "connection failed"


def network_error(service: str, url: str, exc: BaseException, timeout: float) -> ServiceUnavailable:
    reason = describe_connection_error(exc)
    if reason == "timed out":
        return ServiceUnavailable(redact(f"{service} at {url} did not answer within {timeout:g}s"))
    return ServiceUnavailable(redact(f"{service} at {url} is unreachable: {reason}"))


def one_line(text: str | None, limit: int = _MAX_DETAIL_CHARS) -> str:
    """Server-provided detail squeezed into one short redacted line.

    Only the start of a long answer is looked at (a server may send megabytes): it is redacted, then the end
    of what was looked at is dropped, so that a secret cut in half by the first cut never shows."""
    raw = text or ""
    bound = limit * 2 + CUT_MARGIN
    cut = len(raw) > bound
    flat = redact(" ".join(raw[:bound].split()))
    if cut:
        flat = flat[:-CUT_MARGIN] + "…"
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
