"""Slack through the outbox: one thread per release, kept up to date, every message delivered exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import write_config
from tests.fakes.slack_server import FakeSlack
from tests.support import STEP_NAMES
from thor_cli.adapters.slack import release_metadata
from thor_cli.store.db import make_engine

VERSION = "2021.09"
NOW = ("--now", "2021-09-10T09:00")
DEFAULTS = STEP_NAMES
# Two command steps; `verify` fails while a file named "fail" exists next to thor.toml.
PIPELINE = (
    "".join(f"[steps.{name}]\nenabled = false\n\n" for name in DEFAULTS)
    + """
[steps.prepare]
uses = "command"
run = ["true"]

[steps.verify]
uses = "command"
after = ["prepare"]
run = ["sh", "-c", "test ! -e fail"]
max_attempts = 1
"""
)
REPLIES = [
    "▶️ 2021.09 prepare started",
    "✅ 2021.09 prepare succeeded: true exited 0",
    "▶️ 2021.09 verify started",
    "✅ 2021.09 verify succeeded: sh exited 0",
    "Release 2021.09 is now released",
]


class Thor:
    def __init__(self, run_thor, tmp_path: Path, database_url: str, fake: FakeSlack, extra: str = "") -> None:  # type: ignore[no-untyped-def]
        self.dir, self.database_url, self.run_thor, self.fake = tmp_path, database_url, run_thor, fake
        slack = f'[slack]\nchannel = "releases"\nbase_url = "{fake.url}/api/"\ntimeout = 5\n'
        self.config = write_config(tmp_path / "thor.toml", slack + extra + PIPELINE, database_url)

    def __call__(self, *args: str):  # type: ignore[no-untyped-def]
        return self.run_thor("--config", self.config, *args)

    def tick(self, *flags: str, now: tuple[str, str] = NOW):  # type: ignore[no-untyped-def]
        return self("tick", *flags, *now)

    def sql(self, statement: str, **params: Any) -> list[Any]:
        engine = make_engine(self.database_url)
        try:
            with engine.begin() as connection:
                result = connection.execute(text(statement), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()

    def threads(self) -> list[dict[str, Any]]:
        """Top-level messages of the channel."""
        return [m for m in self.fake.channel_messages("releases") if m.get("thread_ts") in (None, m["ts"])]

    def replies(self, thread: dict[str, Any]) -> list[str]:
        return [m["text"] for m in self.fake.replies("releases", thread["ts"])]


@pytest.fixture
def thor(run_thor, tmp_path, slack_fake) -> Thor:  # type: ignore[no-untyped-def]
    return Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", slack_fake)


def test_one_thread_per_release_with_replies_and_its_table_updated(
    run_thor, tmp_path, database_url, slack_fake: FakeSlack
) -> None:
    thor = Thor(run_thor, tmp_path, database_url, slack_fake)
    assert thor.tick().exit_code == 0

    [thread] = thor.threads()
    assert thread["metadata"] == release_metadata("thor_release", VERSION)
    assert thor.replies(thread) == REPLIES
    [update] = slack_fake.updates  # one refresh per flush, not one per message
    assert update["ts"] == thread["ts"]
    assert "*Gen3 release 2021.09* — released" in update["text"]
    assert "✅ `verify` succeeded — sh exited 0" in update["text"]
    assert thread["text"] == update["text"]
    assert thor.sql("SELECT slack_thread_ts, slack_channel FROM thor_release") == [(thread["ts"], "C0RELEASES")]

    posted = len(slack_fake.posted)
    assert thor.tick(now=("--now", "2021-09-11T09:00")).exit_code == 0
    assert (len(slack_fake.posted), len(slack_fake.updates)) == (posted, 1)  # nothing sent twice
    assert thor.sql("SELECT count(*) FROM thor_outbox WHERE status <> 'sent'") == [(0,)]


def test_failures_also_go_to_the_channel(thor: Thor, slack_broadcasts: list[str]) -> None:
    (thor.dir / "fail").touch()
    assert thor.tick().exit_code == 1  # the release is blocked
    assert len(slack_broadcasts) == 1
    assert slack_broadcasts[0].startswith("❌ 2021.09 verify failed: ")
    [thread] = thor.threads()
    assert thor.replies(thread)[-2:] == [slack_broadcasts[0], "Release 2021.09 is now blocked"]
    assert "❌ `verify` failed" in thread["text"]


def test_slack_down_for_a_tick_delays_messages_then_delivers_them_once(
    run_thor, tmp_path, database_url, slack_fake: FakeSlack
) -> None:
    thor = Thor(run_thor, tmp_path, database_url, slack_fake)
    slack_fake.down()
    result = thor.tick("--verbose")
    assert result.exit_code == 0  # the release went on without Slack
    assert f"notifications delayed: Slack at {slack_fake.url}/api/ is unreachable" in result.stderr
    assert thor.sql("SELECT status FROM thor_release") == [("released",)]
    errors = thor.sql("SELECT DISTINCT status, last_error FROM thor_outbox WHERE last_error IS NOT NULL")
    assert errors == [("pending", f"Slack at {slack_fake.url}/api/ is unreachable: connection refused")]

    slack_fake.up()
    assert thor.tick().exit_code == 0
    [thread] = thor.threads()
    assert thor.replies(thread) == REPLIES
    assert thor.tick().exit_code == 0
    assert len(slack_fake.posted) == 1 + len(REPLIES)


def test_rate_limits_are_waited_out_as_slack_asks(thor: Thor, slack_fake: FakeSlack) -> None:
    slack_fake.fail_next(1, status=429, retry_after=1)
    started = time.monotonic()
    assert thor.tick().exit_code == 0
    assert time.monotonic() - started >= 1
    [thread] = thor.threads()
    assert thor.replies(thread) == REPLIES


def test_rate_limited_past_the_retries_waits_for_the_next_tick(run_thor, tmp_path, slack_fake: FakeSlack) -> None:
    db = f"sqlite:///{tmp_path / 'thor.db'}"
    thor = Thor(run_thor, tmp_path, db, slack_fake, "max_rate_limit_retries = 0\n")
    slack_fake.fail_next(1, status=429, retry_after=0)
    assert thor.tick().exit_code == 0
    assert slack_fake.posted == []
    assert thor.sql("SELECT DISTINCT last_error FROM thor_outbox WHERE last_error IS NOT NULL") == [
        ("Slack is rate limiting Thor (still ratelimited after 0 retries)",)
    ]
    assert thor.tick().exit_code == 0
    assert thor.replies(thor.threads()[0]) == REPLIES


def test_a_thread_opened_by_a_tick_that_died_is_reused(thor: Thor, slack_fake: FakeSlack) -> None:
    ts = slack_fake.seed_message("releases", "Gen3 release 2021.09", metadata=release_metadata("thor_release", VERSION))
    assert thor.tick().exit_code == 0
    assert [m["ts"] for m in thor.threads()] == [ts]
    assert thor.replies(thor.threads()[0]) == REPLIES
    assert all(m.get("thread_ts") == ts for m in slack_fake.posted)  # no second opening message


def test_a_row_held_by_another_sender_keeps_the_release_in_order(thor: Thor, slack_fake: FakeSlack) -> None:
    slack_fake.down()
    thor.tick()
    first = thor.sql("SELECT min(id) FROM thor_outbox WHERE kind = 'reply'")[0][0]
    thor.sql(
        "UPDATE thor_outbox SET status = 'sending', lease_owner = 'other', lease_expires_at = :until "
        "WHERE id = :id",
        until="2999-01-01 00:00:00", id=first,
    )  # fmt: skip
    slack_fake.up()
    thor.tick()
    assert [m["text"] for m in slack_fake.posted if "thread_ts" in m] == []  # nothing overtakes the held row
    thor.sql("UPDATE thor_outbox SET lease_expires_at = :past WHERE id = :id", past="2000-01-01 00:00:00", id=first)
    thor.tick()
    assert thor.replies(thor.threads()[0]) == REPLIES


def test_a_failing_release_does_not_hold_up_another(thor: Thor, slack_fake: FakeSlack) -> None:
    assert thor("release", "start", VERSION, *NOW).exit_code == 0
    assert thor("release", "start", "2021.10", *NOW).exit_code == 0
    thor.sql("UPDATE thor_release SET slack_thread_ts = '1.000001' WHERE version = :v", v=VERSION)  # a deleted thread
    result = thor.tick("--verbose")
    assert "thread_not_found" in result.stderr
    threads = {m["metadata"]["event_payload"]["key"]: m for m in thor.threads()}
    assert thor.replies(threads["2021.10"]) == [r.replace(VERSION, "2021.10") for r in REPLIES]
    assert thor.replies(threads[VERSION]) == []
    stuck = thor.sql(
        "SELECT DISTINCT o.last_error FROM thor_outbox o JOIN thor_release r ON r.id = o.release_id "
        "WHERE r.version = :v AND o.status = 'pending' AND o.last_error IS NOT NULL", v=VERSION,
    )  # fmt: skip
    assert stuck == [("Slack could not post to C0RELEASES: thread_not_found",)]


def test_an_outage_stops_the_whole_flush(thor: Thor, slack_fake: FakeSlack) -> None:
    slack_fake.down()
    assert thor("release", "start", VERSION, *NOW).exit_code == 0
    assert thor("release", "start", "2021.10", *NOW).exit_code == 0
    slack_fake.up()
    slack_fake.fail_next(1, status=503)  # Slack is failing: do not try every release in turn
    result = thor.tick("--verbose")
    assert f"notifications delayed: Slack at {slack_fake.url}/api/ failed to" in result.stderr
    assert (slack_fake.posted, slack_fake.count()) == ([], 1)
    thor.tick()
    assert len(thor.threads()) == 2


def test_without_a_token_messages_wait(thor: Thor, slack_fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THOR_SLACK_TOKEN")
    result = thor.tick("--verbose")
    assert result.exit_code == 0
    assert "notifications delayed: THOR_SLACK_TOKEN is not set" in result.stderr
    assert slack_fake.posted == []
    monkeypatch.setenv("THOR_SLACK_TOKEN", slack_fake.token)
    thor.tick()
    assert thor.replies(thor.threads()[0]) == REPLIES


def test_a_rejected_token_never_reaches_the_database(
    thor: Thor, slack_fake: FakeSlack, monkeypatch: pytest.MonkeyPatch, db_dump
) -> None:
    bad = "xoxb-1111-2222-wrongtoken"
    monkeypatch.setenv("THOR_SLACK_TOKEN", bad)
    result = thor.tick("--verbose")
    assert "notifications delayed: Slack rejected the token (invalid_auth)" in result.stderr
    assert bad not in result.stdout + result.stderr + db_dump(thor.database_url)
    assert slack_fake.posted == []


def test_the_file_stand_in_and_slack_together(run_thor, tmp_path, slack_fake: FakeSlack) -> None:
    thor = Thor(run_thor, tmp_path, f"sqlite:///{tmp_path / 'thor.db'}", slack_fake, '[notify]\nfile = "out.txt"\n')
    assert thor.tick().exit_code == 0
    assert thor.tick().exit_code == 0
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert lines == ["[thread] Gen3 release 2021.09 has started", *(f"[reply] {r}" for r in REPLIES)]
    assert thor.replies(thor.threads()[0]) == REPLIES
