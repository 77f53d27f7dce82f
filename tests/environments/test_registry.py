"""The OCI Distribution client: the real CNCF registry (images pushed by skopeo) and the token-flow fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import serve_fake
from tests.fakes.oci_registry import RegistryServer, push_image
from tests.fakes.registry_auth import FakeTokenRegistry
from thor_cli.adapters.registry import ImageRef, Registries, RegistryClient, RegistryUnavailable
from thor_cli.environments.config import ServicesConfig
from thor_cli.errors import ConfigError, ExitCode


@pytest.fixture
def token_registry(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from serve_fake(FakeTokenRegistry(), monkeypatch)


def registries(url: str, **registry: object) -> Registries:
    return Registries(ServicesConfig.model_validate({"registries": {"quay.io": {"url": url, **registry}}}))


def test_present_and_missing_tags_in_the_real_registry(
    registry_server: RegistryServer, image_layout: Path, namespace: str
) -> None:
    push_image(registry_server.url, image_layout, f"{namespace}/fence:2021.09")
    checks = registries(registry_server.url)
    present = checks.check(f"quay.io/{namespace}/fence:2021.09")
    assert present.status == "present" and present.digest and present.digest.startswith("sha256:")
    assert checks.check(f"quay.io/{namespace}/fence:2021.10").status == "missing"
    assert checks.check(f"quay.io/{namespace}/indexd:2021.09").status == "missing"  # no such repository


def test_the_bearer_challenge_is_answered_anonymously_and_the_token_reused(token_registry: FakeTokenRegistry) -> None:
    token_registry.images.add(("cdis/fence", "2021.09"))
    checks = registries(token_registry.url)
    assert checks.check("quay.io/cdis/fence:2021.09").status == "present"
    assert checks.check("quay.io/cdis/fence:2021.09").status == "present"
    assert checks.check("quay.io/cdis/fence:2021.10").status == "missing"
    assert len(token_registry.token_requests) == 1  # one token for the scope repository:cdis/fence:pull
    query = token_registry.token_requests[0]["query"]
    assert (query["service"], query["scope"]) == (["fake-registry"], ["repository:cdis/fence:pull"])
    assert token_registry.token_requests[0]["login"] is None
    assert checks.check("quay.io/cdis/indexd:2021.09").status == "missing"
    assert len(token_registry.token_requests) == 2  # another repository, another scope


def test_credentials_from_the_environment_go_to_the_token_service(
    token_registry: FakeTokenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_registry.require_login = True
    token_registry.access_token_field = True
    token_registry.images.add(("cdis/fence", "2021.09"))
    with pytest.raises(RegistryUnavailable, match="refused an anonymous token") as caught:
        registries(token_registry.url).check("quay.io/cdis/fence:2021.09")
    assert caught.value.exit_code == ExitCode.UNAVAILABLE
    with pytest.raises(ConfigError, match="THOR_REGISTRY_USER"):
        registries(token_registry.url, credentials=True).check("quay.io/cdis/fence:2021.09")
    monkeypatch.setenv("THOR_REGISTRY_USER", token_registry.user)
    monkeypatch.setenv("THOR_REGISTRY_TOKEN", token_registry.password)
    assert registries(token_registry.url, credentials=True).check("quay.io/cdis/fence:2021.09").status == "present"
    assert token_registry.token_requests[-1]["login"] == (token_registry.user, token_registry.password)
    monkeypatch.setenv("THOR_REGISTRY_TOKEN", "wrong-password-123")
    with pytest.raises(RegistryUnavailable, match="refused the credentials") as refused:
        registries(token_registry.url, credentials=True).check("quay.io/cdis/fence:2021.09")
    assert "wrong-password" not in refused.value.message


def test_basic_auth_registries_and_unreachable_ones(token_registry: FakeTokenRegistry, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    token_registry.basic_only = True
    token_registry.images.add(("cdis/fence", "2021.09"))
    with pytest.raises(RegistryUnavailable, match="asks for a login"):
        registries(token_registry.url).check("quay.io/cdis/fence:2021.09")
    monkeypatch.setenv("THOR_REGISTRY_USER", token_registry.user)
    monkeypatch.setenv("THOR_REGISTRY_TOKEN", token_registry.password)
    assert registries(token_registry.url, credentials=True).check("quay.io/cdis/fence:2021.09").status == "present"
    token_registry.down()
    with pytest.raises(RegistryUnavailable, match="unreachable: connection refused"):
        registries(token_registry.url).check("quay.io/cdis/fence:2021.09")
    with pytest.raises(ConfigError, match="plain http"):
        registries("http://registry.example.org", credentials=True).check("quay.io/cdis/fence:2021.09")


def test_image_references() -> None:
    assert ImageRef.parse("quay.io/cdis/fence:2021.09") == ImageRef("quay.io", "cdis/fence", "2021.09")
    assert ImageRef.parse("nginx:1.25") == ImageRef("docker.io", "library/nginx", "1.25")
    assert ImageRef.parse("localhost:5000/cdis/x:t") == ImageRef("localhost:5000", "cdis/x", "t")
    with pytest.raises(ValueError, match="no tag"):
        ImageRef.parse("quay.io/cdis/fence")
    assert "s3cr3t" not in repr(RegistryClient("h", "https://h", credentials=("u", "s3cr3t"), timeout=1))
