"""The ``announce`` step: queued once in the outbox, delivered to the release thread and the channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.support import only, steps_toml
from thor_cli.clock import Clock
from thor_cli.config import Settings, parse_config
from thor_cli.errors import ConfigError
from thor_cli.steps.announce import AnnounceOptions, AnnounceStep
from thor_cli.steps.base import ReleaseInfo, RepoRecord

VERSION = "2021.09"
ANNOUNCE_ALONE = steps_toml(only("announce"))  # every other built-in step disabled


@dataclass
class FakeContext:
    """Just what ``AnnounceStep`` uses of a ``StepContext``."""

    settings: Settings
    options: AnnounceOptions = field(default_factory=AnnounceOptions)
    force: bool = False
    saved: dict[str, Any] = field(default_factory=dict)
    notified: list[tuple[str, bool]] = field(default_factory=list)
    repos: dict[str, dict[str, RepoRecord]] = field(default_factory=dict)
    release: ReleaseInfo = field(
        default_factory=lambda: ReleaseInfo(
            VERSION,
            "Cobaltite",
            datetime(2021, 9, 10, tzinfo=UTC),
            datetime(2021, 9, 24, tzinfo=UTC),
            "integration202109",
            "stable",
        )
    )
    clock: Clock = field(default_factory=Clock)

    @property
    def state(self) -> dict[str, Any]:
        return dict(self.saved)

    def save_state(self, **values: Any) -> None:
        self.saved.update(values)

    def repo_results(self, step: str | None = None) -> dict[str, RepoRecord]:
        return self.repos.get(step or "announce", {})

    def notify(self, text: str, *, broadcast: bool = False) -> None:
        self.notified.append((text, broadcast))


def settings(tmp_path: Path, **sections: Any) -> Settings:
    config = parse_config({"notify": {"file": "messages.txt"}} | sections)
    return Settings(config=config, path=tmp_path / "thor.toml", database_url="sqlite://")


def merged(*statuses: str) -> dict[str, dict[str, RepoRecord]]:
    return {"merge-stable": {f"repo{i}": RepoRecord(f"repo{i}", s) for i, s in enumerate(statuses)}}


def test_the_message_names_the_release_the_tagged_repos_and_the_notes(tmp_path: Path) -> None:
    (tmp_path / "release-notes").mkdir()
    (tmp_path / "release-notes" / "2021.09.md").write_text("# notes\n")
    ctx = FakeContext(settings(tmp_path), repos=merged("succeeded", "succeeded", "failed", "succeeded"))
    result = AnnounceStep().run(ctx)  # type: ignore[arg-type]
    assert result.status == "succeeded"
    assert ctx.notified == [
        ("Gen3 release 2021.09 Cobaltite is out: tag 2021.09 in 3 repositories, release notes: "
         "release-notes/2021.09.md", True)
    ]  # fmt: skip


def test_a_second_run_does_not_queue_it_again_unless_forced(tmp_path: Path) -> None:
    ctx = FakeContext(settings(tmp_path))
    AnnounceStep().run(ctx)  # type: ignore[arg-type]
    again = AnnounceStep().run(ctx)  # type: ignore[arg-type]
    assert (again.status, again.detail) == ("succeeded", "already announced")
    assert ctx.notified == [("Gen3 release 2021.09 Cobaltite is out: tag 2021.09", True)]
    ctx.force = True
    AnnounceStep().run(ctx)  # type: ignore[arg-type]
    assert len(ctx.notified) == 2


def test_message_and_notes_url_templates(tmp_path: Path) -> None:
    options = AnnounceOptions(
        message="{title}: {repos} repos tagged {version}; notes {notes}",
        notes_url="https://example.org/notes/{version}.html",
    )
    ctx = FakeContext(settings(tmp_path), options=options, repos=merged("succeeded"))
    AnnounceStep().run(ctx)  # type: ignore[arg-type]
    assert ctx.notified == [
        ("2021.09 Cobaltite: 1 repos tagged 2021.09; notes https://example.org/notes/2021.09.html", True)
    ]


def test_nothing_configured_to_announce_to_is_a_configuration_problem(tmp_path: Path) -> None:
    ctx = FakeContext(Settings(config=parse_config({}), path=None, database_url="sqlite://"))
    with pytest.raises(ConfigError, match=r"\[slack\] channel is not set.*nowhere to announce to"):
        AnnounceStep().run(ctx)  # type: ignore[arg-type]
    assert ctx.notified == []


def test_an_unknown_placeholder_is_a_configuration_error(run_thor, tmp_path: Path) -> None:
    config = write_config(tmp_path / "thor.toml", '[steps.announce]\nmessage = "Out: {nope}"\n')
    result = run_thor("--config", config, "steps")
    assert result.exit_code == 2
    assert "announce: unknown placeholder {nope} in message" in result.stderr


def test_announced_once_to_the_file_through_the_engine(run_thor, tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "thor.toml", f'[notify]\nfile = "messages.txt"\n\n{ANNOUNCE_ALONE}', database_url)
    now = ("--now", "2021-09-24T12:00")
    assert run_thor("--config", config, "release", "start", VERSION, *now).exit_code == 0
    assert run_thor("--config", config, "step", "announce", VERSION, *now).exit_code == 0
    assert run_thor("--config", config, "step", "announce", VERSION, *now).exit_code == 0  # already succeeded
    assert run_thor("--config", config, "tick", *now).exit_code == 0  # flushes the outbox
    assert run_thor("--config", config, "tick", *now).exit_code == 0
    lines = (tmp_path / "messages.txt").read_text().splitlines()
    announcements = [line for line in lines if "is out" in line]
    assert announcements == ["[broadcast] Gen3 release 2021.09 is out: tag 2021.09"]


def test_announced_in_the_thread_and_the_channel(run_thor, tmp_path: Path, slack_fake, slack_broadcasts) -> None:
    config = write_config(
        tmp_path / "thor.toml",
        f'[slack]\nchannel = "releases"\nbase_url = "{slack_fake.url}/api/"\ntimeout = 5\n\n{ANNOUNCE_ALONE}',
        f"sqlite:///{tmp_path / 'thor.db'}",
    )
    now = ("--now", "2021-09-24T12:00")
    run_thor("--config", config, "release", "start", VERSION, *now)
    assert run_thor("--config", config, "step", "announce", VERSION, *now).exit_code == 0
    run_thor("--config", config, "tick", *now)
    text = "Gen3 release 2021.09 is out: tag 2021.09"
    assert slack_broadcasts == [text]
    thread = next(m for m in slack_fake.messages if "thread_ts" not in m)
    assert text in [m["text"] for m in slack_fake.replies("releases", thread["ts"])]


def test_dry_run_describes_without_queueing(run_thor, tmp_path: Path) -> None:
    config = write_config(tmp_path / "thor.toml", f'[notify]\nfile = "messages.txt"\n\n{ANNOUNCE_ALONE}')
    assert run_thor("--config", config, "db", "upgrade").exit_code == 0  # a dry run never creates it
    result = run_thor("--config", config, "step", "announce", VERSION, "--dry-run", "--now", "2021-09-24T12:00")
    assert result.exit_code == 0
    assert "queue the announcement of 2021.09" in result.stdout
    assert not (tmp_path / "messages.txt").exists()
