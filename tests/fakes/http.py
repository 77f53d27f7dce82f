"""A tiny threaded HTTP server that the JIRA, Jenkins and Slack fakes are built on.

A fake listens on 127.0.0.1 (an ephemeral port unless told otherwise), answers from thread-safe in-memory
state, records every request, and can misbehave on purpose:

- ``fail_next(n, status=500, retry_after=None, body=None)``: the next ``n`` requests get that status;
- ``delay``: seconds to sleep before answering each request (client timeouts);
- ``down()`` / ``up()``: stop listening (connection refused) and listen again on the same port.

Fakes run inside the pytest process; ``thor`` child processes reach them over HTTP like any other client.
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, without the query string
    raw_path: str  # as sent, with the query string
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Content-Type": "application/json;charset=UTF-8", **(headers or {})}
        return cls(status, json.dumps(data).encode(), all_headers)

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        content_type: str = "text/plain;charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> Response:
        return cls(status, text.encode(), {"Content-Type": content_type, **(headers or {})})


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: int | None = None
    body: str | None = None


Handler = Callable[[Request, re.Match[str]], Response]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up on a slow fake is expected (timeout tests)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "FakeServer/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(parts.path),
            raw_path=self.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        response = self.server.fake.handle(request)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except OSError:
            pass  # the client gave up waiting

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class FakeServer:
    """Base of the fakes: subclasses add ``route``s and may override ``check_auth`` and ``fault_response``."""

    name = "fake"

    def __init__(self, *, port: int = 0, delay: float = 0.0) -> None:
        self.lock = threading.RLock()
        self.delay = delay
        self.requests: list[tuple[str, str]] = []  # (method, path with query) of every request received
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself; tests assert it stays empty
        self._faults: list[Fault] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", self._port), _RequestHandler)
        httpd.fake = self
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.down()

    def down(self) -> None:
        """Stop listening: clients get "connection refused" until ``up()``. State is kept."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def up(self) -> Self:
        """Listen again, on the same port as before."""
        return self.start()

    @property
    def is_up(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError(f"{self.name} fake has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- fault injection and inspection -------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, retry_after: int | None = None, body: str | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (429 with ``Retry-After: retry_after``)."""
        with self.lock:
            self._faults.extend(Fault(status, retry_after, body) for _ in range(n))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self.delay = 0.0

    def count(self, method: str | None = None, path_contains: str = "") -> int:
        """How many requests matched ``method`` (any when None) with ``path_contains`` in their path."""
        with self.lock:
            return sum(1 for m, p in self.requests if (method is None or m == method) and path_contains in p)

    # -- request handling ---------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` (or "*" for any) requests whose decoded path fully matches ``pattern``."""
        self._routes.append((method, re.compile(pattern), handler))

    def check_auth(self, request: Request) -> Response | None:
        """A response refusing the request, or None to serve it."""
        return None

    def fault_response(self, fault: Fault) -> Response:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return Response.text(fault.body or f"fake {self.name} failure", fault.status, headers=headers)

    def not_found(self, request: Request) -> Response:
        return Response.text(f"fake {self.name}: nothing at {request.path}", 404)

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((request.method, request.raw_path))
            fault = self._faults.pop(0) if self._faults else None
            delay = self.delay
        if delay:
            time.sleep(delay)
        try:
            if fault is not None:
                return self.fault_response(fault)
            denied = self.check_auth(request)
            if denied is not None:
                return denied
            return self._dispatch(request)
        except Exception:
            with self.lock:
                self.errors.append(traceback.format_exc())
            return Response.text(f"fake {self.name} crashed:\n{traceback.format_exc()}", 500)

    def _dispatch(self, request: Request) -> Response:
        path_matched = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            path_matched = True
            if method in ("*", request.method):
                with self.lock:
                    return handler(request, match)
        if path_matched:
            return Response.text("method not allowed", 405)
        return self.not_found(request)


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) from a Basic Authorization header, or None."""
    import base64
    import binascii

    header = request.headers.get("Authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
