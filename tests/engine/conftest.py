"""A Thor set up for engine tests: command steps that leave marks in a file, on either database backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

# The JIRA and Slack steps stay out of the way; the rest leave a line "STEP VERSION" in side.txt.
JIRA_OFF = """
[steps.create-jira-release]
enabled = false

[steps.mark-released]
enabled = false

[steps.announce]
enabled = false
"""


def mark(name: str) -> str:
    """A command step body that appends one line to side.txt."""
    return f'uses = "command"\nrun = ["sh", "-c", "echo {name} {{version}} >> side.txt"]\n'


STEPS = {
    "split-branch": mark("split-branch"),
    "load-tests": mark("load-tests"),
    "release-notes": mark("release-notes"),
    "merge-stable": mark("merge-stable"),
}


@dataclass
class Thor:
    dir: Path
    database_url: str
    runner: Callable[..., Any]
    config: Path | None = None

    @staticmethod
    def sh(script: str, **keys: object) -> str:
        """The TOML body of a command step running ``sh -c SCRIPT``, plus common keys like max_attempts=1."""
        lines = ['uses = "command"', f"run = {json.dumps(['sh', '-c', script])}"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
        return "\n".join(lines) + "\n"

    def configure(self, steps: dict[str, str] | None = None, extra: str = "") -> Path:
        """thor.toml: the four command steps (replace any by name; "" disables it) and extra TOML."""
        tables = []
        for name, body in (STEPS | (steps or {})).items():
            tables.append(f"[steps.{name}]\n" + (body or "enabled = false\n"))
        self.config = self.dir / "thor.toml"
        body = f'[database]\nurl = "{self.database_url}"\n' + JIRA_OFF + "\n".join(tables) + extra
        self.config.write_text(body, encoding="utf-8")
        return self.config

    def __call__(self, *args: str) -> Any:
        if self.config is None:
            self.configure()
        return self.runner("--config", str(self.config), *args)

    def tick(self, now: str, *args: str) -> Any:
        return self("tick", "--now", now, *args)

    @property
    def side(self) -> list[str]:
        path = self.dir / "side.txt"
        return path.read_text().splitlines() if path.exists() else []

    def status(self, version: str | None = None, now: str | None = None) -> dict[str, Any]:
        result = self("status", *([version] if version else []), "--json", *(["--now", now] if now else []))
        assert result.exit_code == 0, result.stderr
        return result.json()

    def steps(self, version: str = "2021.09", now: str | None = None) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.status(version, now)["steps"]}

    def events(self, version: str = "2021.09", step: str | None = None) -> list[dict[str, Any]]:
        result = self("log", version, *([step] if step else []), "--json")
        assert result.exit_code == 0, result.stderr
        return result.json()["events"]

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to prove that something changed nothing."""
        engine = create_engine(self.database_url.replace("postgresql://", "postgresql+psycopg2://", 1))
        try:
            with engine.connect() as connection:
                return {
                    table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
                    for table in sorted(inspect(connection).get_table_names())
                }
        finally:
            engine.dispose()


@pytest.fixture
def thor(tmp_path: Path, database_url: str, run_thor) -> Thor:  # type: ignore[no-untyped-def]
    return Thor(tmp_path, database_url, run_thor)
