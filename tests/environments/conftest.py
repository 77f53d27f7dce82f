"""The real registry (one per test session) and a fresh repository namespace for each test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.oci_registry import MISSING_REASON, RegistryServer, binaries_missing, start_registry, write_oci_layout


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    if binaries_missing():
        if os.environ.get("CI"):
            pytest.fail(f"required in CI: {MISSING_REASON}")
        pytest.skip(MISSING_REASON)
    server = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def image_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_oci_layout(tmp_path_factory.mktemp("oci") / "layout")


@pytest.fixture
def namespace() -> str:
    """Image names unique to the test ("t1a2b3c4/cdis"), so tests sharing the registry never see each other's."""
    return f"t{uuid.uuid4().hex[:8]}/cdis"
