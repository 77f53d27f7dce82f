"""Started fakes of JIRA, Jenkins and Slack, with Thor's secret variables pointing at them.

Each fixture is a plain function of ``monkeypatch`` so it can move to tests/conftest.py unchanged. A fake
that hit a bug of its own (``fake.errors``) fails the test at teardown.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.jenkins_server import FakeJenkins
from tests.fakes.jira_server import FakeJira
from tests.fakes.slack_server import FakeSlack


def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def jira_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJira]:
    _local_only(monkeypatch)
    with FakeJira() as fake:
        monkeypatch.setenv("THOR_JIRA_USER", fake.user)
        monkeypatch.setenv("THOR_JIRA_TOKEN", fake.token)
        yield fake
    assert not fake.errors, fake.errors[0]


@pytest.fixture
def jenkins_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJenkins]:
    _local_only(monkeypatch)
    with FakeJenkins(jobs=("deploy", "gen3/release")) as fake:
        monkeypatch.setenv("THOR_JENKINS_USER", fake.user)
        monkeypatch.setenv("THOR_JENKINS_TOKEN", fake.token)
        yield fake
    assert not fake.errors, fake.errors[0]


@pytest.fixture
def slack_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    _local_only(monkeypatch)
    with FakeSlack() as fake:
        monkeypatch.setenv("THOR_SLACK_TOKEN", fake.token)
        yield fake
    assert not fake.errors, fake.errors[0]
