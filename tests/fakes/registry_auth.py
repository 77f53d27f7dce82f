"""A fake OCI registry that insists on the token flow, for what the real registry in the tests does not do.

``HEAD /v2/NAME/manifests/TAG`` without a valid token answers 401 with
``WWW-Authenticate: Bearer realm="<this server>/token",service="fake-registry",scope="repository:NAME:pull"``;
``GET /token?service=…&scope=…`` hands out a token for that scope (anonymously, or only with Basic
``user``/``password`` when ``require_login``) as ``{"token": …}`` (or ``{"access_token": …}`` when
``access_token_field``). ``basic_only`` makes the registry ask for Basic auth instead. Images are
``(name, tag)`` pairs in ``images``; a present one answers 200 with ``Docker-Content-Digest`` and the OCI
manifest type, as the distribution spec says.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.http import FakeServer, Request, Response, basic_credentials

_MANIFEST = r"/v2/(?P<name>.+)/manifests/(?P<tag>[^/]+)"


class FakeTokenRegistry(FakeServer):
    name = "registry"

    def __init__(self, *, user: str = "robot", password: str = "s3cr3t-registry-password", **kw: Any) -> None:
        super().__init__(**kw)
        self.user, self.password = user, password
        self.images: set[tuple[str, str]] = set()
        self.require_login = False
        self.basic_only = False
        self.access_token_field = False
        self.tokens: dict[str, str] = {}  # token -> scope
        self.token_requests: list[dict[str, Any]] = []
        self.route("HEAD", _MANIFEST, self._manifest)
        self.route("GET", _MANIFEST, self._manifest)
        self.route("GET", r"/token", self._token)
        self.route("GET", r"/v2/", self._base)

    def _base(self, request: Request, match: Any) -> Response:
        """``GET /v2/``: the API version check, 401 with the challenge until a token is shown."""
        if self.tokens.get((request.headers.get("Authorization") or "").removeprefix("Bearer ")) is not None:
            return Response.json({})
        challenge = f'Bearer realm="{self.url}/token",service="fake-registry"'
        return Response.json(_errors("UNAUTHORIZED"), 401, headers={"WWW-Authenticate": challenge})

    def _manifest(self, request: Request, match: Any) -> Response:
        name, tag = match["name"], match["tag"]
        scope = f"repository:{name}:pull"
        auth = request.headers.get("Authorization") or ""
        if self.basic_only:
            if basic_credentials(request) != (self.user, self.password):
                return Response.json(_errors("UNAUTHORIZED"), 401, headers={"WWW-Authenticate": 'Basic realm="fake"'})
        elif self.tokens.get(auth.removeprefix("Bearer ")) != scope:
            challenge = f'Bearer realm="{self.url}/token",service="fake-registry",scope="{scope}"'
            return Response.json(_errors("UNAUTHORIZED"), 401, headers={"WWW-Authenticate": challenge})
        if (name, tag) not in self.images:
            return Response.json(_errors("MANIFEST_UNKNOWN"), 404)
        headers = {
            "Content-Type": "application/vnd.oci.image.manifest.v1+json",
            "Docker-Content-Digest": "sha256:" + "0" * 64,
        }
        return Response(200, b"{}", headers)

    def _token(self, request: Request, match: Any) -> Response:
        self.token_requests.append({"query": request.query, "login": basic_credentials(request)})
        if self.require_login and basic_credentials(request) != (self.user, self.password):
            return Response.json({"details": "incorrect username or password"}, 401)
        token = uuid.uuid4().hex
        self.tokens[token] = request.arg("scope") or ""
        return Response.json({"access_token" if self.access_token_field else "token": token})


def _errors(code: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}
