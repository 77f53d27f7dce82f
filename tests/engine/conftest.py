"""A Thor set up for engine tests: command steps that leave marks in a file, on either database backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.support import SERVICE_STEPS, command, disabled, dump_tables, steps_toml

# The JIRA and Slack steps stay out of the way; the rest leave a line "STEP VERSION" in side.txt.
JIRA_OFF = disabled(*SERVICE_STEPS)


def mark(name: str) -> str:
    """A command step body that appends one line to side.txt."""
    return command("sh", "-c", f"echo {name} {{version}} >> side.txt")


STEPS = {name: mark(name) for name in ("split-branch", "load-tests", "release-notes", "merge-stable")}


@dataclass
class Thor:
    dir: Path
    database_url: str
    runner: Callable[..., Any]
    config: Path | None = None

    @staticmethod
    def sh(script: str, **keys: object) -> str:
        """The TOML body of a command step running ``sh -c SCRIPT``, plus common keys like max_attempts=1."""
        return command("sh", "-c", script, **keys)

    def configure(self, steps: dict[str, str] | None = None, extra: str = "") -> Path:
        """thor.toml: the four command steps (replace any by name; "" disables it) and extra TOML."""
        toml = JIRA_OFF + steps_toml(STEPS | (steps or {})) + extra
        self.config = write_config(self.dir / "thor.toml", toml, self.database_url)
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
        return dump_tables(self.database_url)


@pytest.fixture
def thor(tmp_path: Path, database_url: str, run_thor) -> Thor:  # type: ignore[no-untyped-def]
    return Thor(tmp_path, database_url, run_thor)
