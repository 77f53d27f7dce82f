"""Every error as one line of JSON with the right status, and never a traceback in a response."""

from __future__ import annotations

import sys

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from thor_cli.errors import ServiceUnavailable, ThorError, UsageError
from thor_cli.secrets import redact
from thor_cli.server.auth import ReadOnly, Unauthorized


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def one_line(text: str) -> str:
    return " ".join(redact(text).split())


def _reply(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def _status_of(exc: ThorError) -> int:
    from thor_cli.engine.steering import Conflict

    if isinstance(exc, ServiceUnavailable):
        return 503
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, UsageError):
        return 409  # the release and step exist (checked before): the request does not fit their state
    return 400


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _reply(exc.status, exc.message)

    @app.exception_handler(Unauthorized)
    def unauthorized(_request: Request, exc: Unauthorized) -> JSONResponse:
        return _reply(401, str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ReadOnly)
    def read_only(_request: Request, exc: ReadOnly) -> JSONResponse:
        return _reply(403, str(exc))

    @app.exception_handler(ThorError)
    def thor_error(_request: Request, exc: ThorError) -> JSONResponse:
        return _reply(_status_of(exc), exc.message)

    @app.exception_handler(RequestValidationError)
    def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _reply(422, f"invalid request: {where + ': ' if where else ''}{first.get('msg', 'malformed')}")

    @app.exception_handler(HTTPException)
    def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _reply(exc.status_code, str(exc.detail or "error"))

    @app.exception_handler(Exception)
    def bug(request: Request, exc: Exception) -> JSONResponse:
        # A bug: one redacted line on the server's stderr, a generic one to the caller.
        print(f"thor serve: internal error on {request.url.path}: {type(exc).__name__}: {one_line(str(exc))}",
              file=sys.stderr, flush=True)  # fmt: skip
        return _reply(500, "internal error (see the server's log)")
