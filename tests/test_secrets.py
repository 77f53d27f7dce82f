"""Secrets come from the environment and never leave Thor unmasked."""

from __future__ import annotations

import pytest

from thor_cli.secrets import known_secrets, redact, secret


def test_secret_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert secret("THOR_SLACK_TOKEN") is None
    monkeypatch.setenv("THOR_SLACK_TOKEN", "  ")
    assert secret("THOR_SLACK_TOKEN") is None
    monkeypatch.setenv("THOR_SLACK_TOKEN", " xoxb-abc ")
    assert secret("THOR_SLACK_TOKEN") == "xoxb-abc"


def test_tokens_from_the_environment_are_masked_wherever_they_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THOR_JENKINS_TOKEN", "jenkins-s3cret-value")
    monkeypatch.setenv("THOR_JIRA_TOKEN", "jira-s3cret")
    text = "curl -u me:jenkins-s3cret-value http://ci; token=jira-s3cret;"
    out = redact(text)
    assert "s3cret" not in out
    assert out == "curl -u me:*** http://ci; token=***;"


def test_a_token_containing_another_is_masked_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THOR_JIRA_TOKEN", "abcd")
    monkeypatch.setenv("THOR_GITHUB_TOKEN", "abcdefgh")
    raw = [value for value in known_secrets() if value in ("abcdefgh", "abcd")]
    assert raw == ["abcdefgh", "abcd"]
    assert redact("x abcdefgh y abcd") == "x *** y ***"


def test_basic_auth_credentials_are_masked_in_their_base64_form_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    monkeypatch.setenv("THOR_JIRA_USER", "release-bot")
    monkeypatch.setenv("THOR_JIRA_TOKEN", "jira-t0ken-value")
    monkeypatch.setenv("THOR_GITHUB_TOKEN", "ghtok-value-123")
    jira = base64.b64encode(b"release-bot:jira-t0ken-value").decode()
    github = base64.b64encode(b"x-access-token:ghtok-value-123").decode()
    text = f'{{"headers": {{"Authorization": "Basic {jira}"}}}} then {github.rstrip("=")}'
    assert "jira-t0ken" not in redact(text) and jira.rstrip("=") not in redact(text)
    assert github.rstrip("=") not in redact(text)


def test_user_names_and_tiny_values_are_not_masked_blindly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THOR_JIRA_USER", "release-bot")
    monkeypatch.setenv("THOR_SLACK_TOKEN", "abc")  # too short to mask everywhere
    assert redact("release-bot ran abc") == "release-bot ran abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://thor:hunter2@db:5432/thor", "postgresql://***@db:5432/thor"),
        ("https://bot:ghp_x@github.com/org/repo.git", "https://***@github.com/org/repo.git"),
        ("https://token@github.com/org/repo", "https://***@github.com/org/repo"),
        ("https://github.com/org/repo", "https://github.com/org/repo"),
        ("slack xoxb-123456-abcdef failed", "slack *** failed"),
        ("push with ghp_ABCDEFGHIJKLMNOP0123 now", "push with *** now"),
        ("github_pat_11ABCDEFGHIJKLMNOPQRST_xyz", "***"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***"),
        ("authorization: basic dXNlcjpwYXNz rest", "authorization: basic *** rest"),
        ("", ""),
    ],
)
def test_redact_shapes(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_none_is_empty() -> None:
    assert redact(None) == ""
