"""The HTTP app: the board's pages rendered live, JSON under /api/ with the CLI's ``--json`` keys, and three
writes (start, approve, retry) that call the same engine functions as the CLI. The server never runs a step:
what a write re-arms or approves runs on the next ``thor tick``, and the messages it queues go out then too.

Errors are one line of JSON (``{"error": "..."}``): 404 for an unknown release or step, 422 for a malformed
version or body, 401 for a missing or wrong token, 403 when no token is configured, 409 when the step is not
in a state that allows the request, 503 when the database is unreachable. Never a traceback.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from thor_cli import __version__
from thor_cli.report import build, data
from thor_cli.runtime import Runtime
from thor_cli.server import auth
from thor_cli.server.errors import ApiError, install_handlers

VERSION_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # the same rule as thor_cli.releases


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


def create_app(rt: Runtime, token: str | None) -> FastAPI:
    """The app over ``rt`` (its store and pipeline shared by every request); ``token`` enables writes."""
    app = FastAPI(title="Thor", version=__version__, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    install_handlers(app)

    def writer(request: Request) -> Runtime:
        """Check the token first (nothing else is looked at without it); a runtime naming the caller."""
        auth.check(token, request.headers.get("authorization"))
        return auth.caller_runtime(rt, request.client.host if request.client else None)

    # -- JSON ------------------------------------------------------------------------------------------

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        from sqlalchemy import text

        with rt.store.session() as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return {"status": "ok", "version": __version__, "writes": bool(token)}

    @app.get("/api/releases")
    def releases() -> dict[str, Any]:
        from thor_cli.status import releases_overview

        return {"releases": releases_overview(rt)}  # `thor status --json`

    @app.get("/api/releases/{version}")
    def release(version: str) -> dict[str, Any]:
        from thor_cli.status import release_detail

        _stored(rt, version)
        return release_detail(rt, version)  # `thor status VERSION --json`

    @app.get("/api/releases/{version}/steps")
    def release_steps(version: str) -> dict[str, Any]:
        from thor_cli.status import release_detail

        _stored(rt, version)
        return {"version": version, "steps": release_detail(rt, version)["steps"]}

    @app.get("/api/envs")
    def envs() -> dict[str, Any]:
        return data.environments(rt)  # `thor envs --json`

    @app.get("/api/calendar")
    def calendar() -> list[dict[str, Any]]:
        return data.calendar(rt)  # `thor calendar --json`, from this month on

    # -- writes ----------------------------------------------------------------------------------------

    @app.post("/api/releases/{version}/start")
    def start(version: str, caller: Runtime = Depends(writer)) -> dict[str, str]:
        from thor_cli.engine.steering import start_release

        _shape(version)
        if caller.calendar.find(version) is None and not caller.has_stored_release(version):
            raise ApiError(404, f"no release cycle has version {version!r}")
        return {"message": start_release(caller, version), "by": caller.who}

    @app.post("/api/releases/{version}/steps/{step}/approve")
    def approve(
        version: str, step: str, body: ApproveBody | None = None, caller: Runtime = Depends(writer)
    ) -> dict[str, str]:
        from thor_cli.engine.steering import approve as do_approve

        _stored(caller, version, step)
        return {"message": do_approve(caller, version, step, body.note if body else None), "by": caller.who}

    @app.post("/api/releases/{version}/steps/{step}/retry")
    def retry(version: str, step: str, caller: Runtime = Depends(writer)) -> dict[str, str]:
        from thor_cli.engine.steering import retry as do_retry

        _stored(caller, version, step)
        return {"message": do_retry(caller, version, step), "by": caller.who}

    # -- pages -----------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return _page(rt, "index.html")

    @app.get("/thor.css")
    def stylesheet() -> Response:
        return Response(build.css(), media_type="text/css; charset=utf-8")

    @app.get("/calendar.ics")
    def ics() -> Response:
        return Response(data.calendar_ics(rt), media_type="text/calendar; charset=utf-8")

    @app.get("/{path:path}", response_class=HTMLResponse)
    def any_page(path: str) -> Response:
        if not path.endswith(".html"):
            raise HTTPException(404)
        return _page(rt, path)

    return app


def _shape(version: str) -> None:
    if not VERSION_SHAPE.match(version):
        raise ApiError(422, f"invalid version {version!r}")


def _stored(rt: Runtime, version: str, step: str | None = None) -> None:
    """404 unless the release is stored (and the step is one of the pipeline's); 422 for a malformed version."""
    from thor_cli.releases import find_release

    _shape(version)
    if step is not None and rt.pipeline.get(step) is None:
        raise ApiError(404, f"unknown step {step!r} (steps: {', '.join(rt.pipeline.names)})")
    if not rt.has_stored_release(version) or find_release(rt, version) is None:
        raise ApiError(404, f"release {version} has not started")


def _page(rt: Runtime, path: str) -> HTMLResponse:
    page = build.page(rt, path)
    if page is None:
        return HTMLResponse(_NOT_FOUND, status_code=404)
    # Served at the same paths as the static site, the templates' relative links work unchanged.
    return HTMLResponse(build.render_page(rt, page, generated=data.generated_at(rt)))


_NOT_FOUND = (
    '<!doctype html><html lang="en"><title>Not found</title><p>Not found. <a href="/">The board</a>.</p></html>'
)
