"""The month the board's tests read, built once per database backend for the whole package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS, create_database, drop_database
from tests.report.month import Month, build_month


@pytest.fixture(scope="package", params=BACKENDS)
def month(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    root = tmp_path_factory.mktemp(f"month-{request.param}")
    url = f"sqlite:///{root / 'thor.db'}" if request.param == "sqlite" else create_database()
    try:
        yield build_month(root, url)
    finally:
        if request.param == "postgres":
            drop_database(url)
