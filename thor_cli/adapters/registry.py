"""Does an image tag exist? The OCI Distribution API, as Quay, GHCR, Docker Hub, ECR and the CNCF
distribution registry all serve it.

``HEAD /v2/<name>/manifests/<tag>`` with an ``Accept`` listing the OCI and Docker manifest and index types:
200 (with ``Docker-Content-Digest``) = present, 404 = missing. A 401 names how to authenticate in
``WWW-Authenticate``: ``Bearer realm=…,service=…,scope=…`` means "get a token at the realm" (anonymously,
or with Basic credentials when configured) and send it as ``Authorization: Bearer``; ``Basic realm=…`` means
send the credentials directly. Tokens are kept per scope for the life of the client.

Credentials, when ``[services.registries.HOST] credentials = true``: ``$THOR_REGISTRY_USER`` and
``$THOR_REGISTRY_TOKEN`` (never sent over plain http except to loopback). Errors: ``RegistryUnavailable``
(unreachable, 5xx, 429, a refused login: exit 3, the step retries); a 401/403 on the manifest itself after
authenticating is ``denied`` (Docker Hub answers so for a repository that does not exist yet).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

from thor_cli.adapters.git_auth import is_loopback
from thor_cli.adapters.net import network_error, one_line
from thor_cli.errors import ConfigError, ServiceUnavailable
from thor_cli.secrets import secret

if TYPE_CHECKING:
    from thor_cli.environments.config import ServicesConfig

USER_ENV, TOKEN_ENV = "THOR_REGISTRY_USER", "THOR_REGISTRY_TOKEN"
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
DOCKER_HUB = "docker.io"
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')

ImageStatus = Literal["present", "missing", "denied"]


class RegistryUnavailable(ServiceUnavailable):
    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, 400))


@dataclass(frozen=True)
class ImageRef:
    host: str  # "quay.io"
    name: str  # "cdis/fence"
    tag: str

    @classmethod
    def parse(cls, ref: str) -> ImageRef:
        """``quay.io/cdis/fence:2021.09``; a first component without a dot, colon or ``localhost`` is Docker Hub."""
        rest, sep, tag = ref.rpartition(":")
        if not sep or "/" in tag or not tag:
            raise ValueError(f"image {ref!r} has no tag")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            host, name = first, remainder
        else:
            host, name = DOCKER_HUB, rest if slash else f"library/{rest}"
        return cls(host, name, tag)

    def __str__(self) -> str:
        return f"{self.host}/{self.name}:{self.tag}"


@dataclass(frozen=True)
class ImageCheck:
    ref: ImageRef
    status: ImageStatus
    digest: str | None = None
    detail: str = ""


class RegistryClient:
    """One registry host. Thread-safe: the step checks images in parallel."""

    def __init__(self, host: str, base_url: str, *, credentials: tuple[str, str] | None, timeout: float) -> None:
        self.host = host
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._credentials = credentials
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._lock = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:  # never the credentials
        return f"RegistryClient(host={self.host!r}, base_url={self.base_url!r})"

    def check(self, ref: ImageRef) -> ImageCheck:
        url = f"{self.base_url}/v2/{quote(ref.name, safe='/')}/manifests/{quote(ref.tag, safe='')}"
        scope = f"repository:{ref.name}:pull"
        response = self._head(url, self._auth_header(scope))
        if response.status_code == 401:
            header = self._authenticate(response.headers.get("WWW-Authenticate", ""), scope)
            response = self._head(url, header)
        status = response.status_code
        if status == 200:
            return ImageCheck(ref, "present", response.headers.get("Docker-Content-Digest"))
        if status == 404:
            return ImageCheck(ref, "missing", detail="not in the registry yet")
        if status in (401, 403):
            return ImageCheck(ref, "denied", detail=f"HTTP {status}: no such repository, or no access to it")
        raise RegistryUnavailable(f"registry {self.host} answered HTTP {status} for {ref}")

    def ping(self) -> str:
        """``GET /v2/``: 200, or 401 with a challenge, means a registry answers there (for ``thor doctor``)."""
        import requests

        try:
            response = self._session().get(f"{self.base_url}/v2/", timeout=self.timeout)
        except requests.RequestException as exc:
            raise _unavailable(network_error(f"registry {self.host}", self.base_url, exc, self.timeout)) from None
        if response.status_code == 200:
            return "answers (anonymous access)"
        if response.status_code == 401 and response.headers.get("WWW-Authenticate"):
            scheme = response.headers["WWW-Authenticate"].split(" ", 1)[0]
            return f"answers ({scheme} authentication)"
        raise RegistryUnavailable(
            f"registry {self.host} at {self.base_url} answered HTTP {response.status_code} to /v2/"
        )

    # -- plumbing -----------------------------------------------------------------------------------

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers["User-Agent"] = "thor-release-orchestrator"
            self._local.session = session
        return session

    def _head(self, url: str, auth: str | None) -> Any:
        import requests

        headers = {"Accept": MANIFEST_TYPES, **({"Authorization": auth} if auth else {})}
        try:
            return self._session().head(url, headers=headers, timeout=self.timeout, allow_redirects=True)
        except requests.RequestException as exc:
            raise _unavailable(network_error(f"registry {self.host}", self.base_url, exc, self.timeout)) from None

    def _auth_header(self, scope: str) -> str | None:
        with self._lock:
            token = self._tokens.get(scope) or self._tokens.get("basic")
        return token

    def _authenticate(self, challenge: str, scope: str) -> str:
        scheme, _, params_text = challenge.strip().partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        if scheme.lower() == "basic":
            if self._credentials is None:
                raise RegistryUnavailable(
                    f'registry {self.host} asks for a login: set [services.registries."{self.host}"] '
                    f"credentials = true and ${USER_ENV} / ${TOKEN_ENV}"
                )
            header = _basic(*self._credentials)
            with self._lock:
                self._tokens["basic"] = header
            return header
        if scheme.lower() != "bearer" or not params.get("realm"):
            raise RegistryUnavailable(f"registry {self.host} answered 401 without a usable challenge")
        header = f"Bearer {self._token(params['realm'], params.get('service'), params.get('scope') or scope)}"
        with self._lock:
            self._tokens[scope] = header
        return header

    def _token(self, realm: str, service: str | None, scope: str) -> str:
        import requests

        realm_parts = urlsplit(realm)
        if self._credentials and realm_parts.scheme == "http" and not is_loopback(realm_parts.hostname):
            raise RegistryUnavailable(f"registry {self.host}: refusing to send credentials to a plain-http realm")
        query = {"scope": scope, **({"service": service} if service else {})}
        auth = self._credentials
        try:
            response = self._session().get(realm, params=query, auth=auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _unavailable(network_error(f"registry {self.host} token service", realm, exc, self.timeout)) from None
        if response.status_code != 200:
            who = "the credentials" if auth else "an anonymous token"
            raise RegistryUnavailable(
                f"registry {self.host} refused {who} (HTTP {response.status_code}: {one_line(response.text, 120)})"
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not token:
            raise RegistryUnavailable(f"registry {self.host}: the token service answered without a token")
        return str(token)


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _unavailable(error: ServiceUnavailable) -> RegistryUnavailable:
    return RegistryUnavailable(error.message)


class Registries:
    """A client per registry host, built from ``[services.registries]`` on first use."""

    def __init__(self, config: ServicesConfig) -> None:
        self._config = config
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def client(self, host: str) -> RegistryClient:
        with self._lock:
            if host not in self._clients:
                self._clients[host] = self._build(host)
            return self._clients[host]

    def check(self, ref: str | ImageRef) -> ImageCheck:
        image = ImageRef.parse(ref) if isinstance(ref, str) else ref
        return self.client(image.host).check(image)

    def _build(self, host: str) -> RegistryClient:
        configured = self._config.registries.get(host)
        default = "https://registry-1.docker.io" if host == DOCKER_HUB else f"https://{host}"
        url = configured.url if configured else default
        credentials = None
        if configured and configured.credentials:
            user, token = secret(USER_ENV), secret(TOKEN_ENV)
            if not user or not token:
                raise ConfigError(f"registry {host} is configured with credentials: set ${USER_ENV} and ${TOKEN_ENV}")
            parts = urlsplit(url)
            if parts.scheme == "http" and not is_loopback(parts.hostname):
                raise ConfigError(f"registry {host}: refusing to send credentials over plain http to {parts.hostname}")
            credentials = (user, token)
        return RegistryClient(host, url, credentials=credentials, timeout=configured.timeout if configured else 30)
