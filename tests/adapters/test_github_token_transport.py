"""The GitHub API's Bearer token goes over https only, the same rule as git's token."""

from __future__ import annotations

import pytest

from tests.conftest import write_config


@pytest.mark.parametrize(
    ("github", "message"),
    [
        (
            'api_url = "http://github.example.com/api/v3"',
            "github: 'http://github.example.com/api/v3' is plain http://: THOR_GITHUB_TOKEN is never sent "
            "unencrypted (use https://; allow_http = true is for a loopback test server)",
        ),
        (
            'api_url = "http://10.1.2.3/api/v3"\nallow_http = true',
            "github: allow_http is only for a loopback test server, not 10.1.2.3",
        ),
    ],
    ids=["plain http", "allow_http for a remote host"],
)
def test_a_plain_http_api_url_is_refused_in_one_line_with_exit_2(github, message, tmp_path, run_thor, monkeypatch):
    # Old: accepted, and the release notes sent "Authorization: Bearer $THOR_GITHUB_TOKEN" in clear.
    monkeypatch.setenv("THOR_GITHUB_TOKEN", "tok-github-5ecr3t-a1b2c3")
    config = write_config(tmp_path / "thor.toml", f"[github]\n{github}\n")
    result = run_thor("--config", config, "steps")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"thor: {config}: {message}"


def test_a_loopback_test_server_over_http_is_allowed_when_asked(tmp_path, run_thor):
    config = write_config(
        tmp_path / "thor.toml", '[github]\napi_url = "http://127.0.0.1:8080/api"\nallow_http = true\n'
    )
    assert run_thor("--config", config, "steps").exit_code == 0
