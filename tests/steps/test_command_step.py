"""``command`` steps get the environment they are configured to get: never Thor's secrets by default."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import write_config
from tests.support import command, only, steps_toml

TOKENS = {
    "THOR_GITHUB_TOKEN": "tok-github-5ecr3t-0a1b2c",
    "THOR_JIRA_TOKEN": "tok-jira-5ecr3t-3d4e5f",
    "THOR_SLACK_TOKEN": "xoxb-tok-slack-5ecr3t-6a7b8c",
}


def configure(tmp_path: Path, body: str) -> Path:
    steps = only("split-branch") | {"split-branch": body}
    return write_config(tmp_path / "thor.toml", steps_toml(steps), f"sqlite:///{tmp_path / 'thor.db'}")


def environment_seen(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "env.json").read_text()
    return json.loads(lines)


DUMP_ENV = "import json, os; json.dump(dict(os.environ), open('env.json', 'w'))"


def test_a_command_step_never_gets_thors_secrets_or_database_url(tmp_path, run_thor, monkeypatch):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    config = configure(tmp_path, command("python3", "-c", DUMP_ENV) + 'env = { EXTRA = "x-{version}" }\n')
    monkeypatch.setenv("THOR_DATABASE_URL", f"sqlite:///{tmp_path / 'thor.db'}")
    result = run_thor("--config", config, "tick", "--now", "2021-09-10")
    assert result.exit_code == 0, result.stderr
    seen = environment_seen(tmp_path)
    assert set(TOKENS).isdisjoint(seen) and "THOR_DATABASE_URL" not in seen
    assert not any(value in json.dumps(seen) for value in TOKENS.values())
    assert seen["EXTRA"] == "x-2021.09" and seen["THOR_VERSION"] == "2021.09" and "PATH" in seen


def test_a_named_secret_is_passed_under_the_name_the_program_expects_and_masked_in_its_output(
    tmp_path, run_thor, monkeypatch
):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    script = DUMP_ENV + "; print('token is', os.environ['GH_TOKEN'])"
    body = command("python3", "-c", script) + 'secrets = { GH_TOKEN = "THOR_GITHUB_TOKEN" }\n'
    config = configure(tmp_path, body)
    assert run_thor("--config", config, "tick", "--now", "2021-09-10").exit_code == 0
    seen = environment_seen(tmp_path)
    assert seen["GH_TOKEN"] == TOKENS["THOR_GITHUB_TOKEN"]
    assert "THOR_GITHUB_TOKEN" not in seen and "THOR_JIRA_TOKEN" not in seen  # only the one it names
    log = run_thor("--config", config, "log", "2021.09", "split-branch", "--json")
    assert log.exit_code == 0, log.stderr
    assert "token is ***" in log.stdout and TOKENS["THOR_GITHUB_TOKEN"] not in log.stdout


def test_a_named_secret_that_is_not_set_fails_the_attempt_naming_it(tmp_path, run_thor):
    body = command("true", max_attempts=1) + 'secrets = { GH_TOKEN = "THOR_GITHUB_TOKEN" }\n'
    config = configure(tmp_path, body)
    result = run_thor("--config", config, "tick", "--now", "2021-09-10")
    assert result.exit_code == 1
    assert "THOR_GITHUB_TOKEN is not set (secrets.GH_TOKEN passes it to the program)" in result.stdout + result.stderr


def test_a_bad_variable_name_in_secrets_is_one_line_and_exit_2(tmp_path, run_thor):
    config = configure(tmp_path, command("true") + 'secrets = { "GH TOKEN" = "THOR_GITHUB_TOKEN" }\n')
    result = run_thor("--config", config, "steps")
    assert result.exit_code == 2
    assert "'GH TOKEN' is not an environment variable name" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
