"""Release notifications through an outbox: recorded in the database first, sent by whoever can, once.

Messages are written in the same transaction as the state change they describe, so nothing is announced
that did not happen and nothing that happened goes unannounced. ``flush`` (run at the end of every tick)
sends what is pending: to Slack when ``[slack] channel`` is set, to a file and/or the terminal when
``[notify]`` says so (both may be active).

Slack: one thread per release (see ``thor_cli.slack_thread``). A "thread" message opens it, "reply" posts in
it, "broadcast" posts in it and in the channel; after a release's messages are sent its first message is
rewritten once with the current step table (an "update" row, written before sending, makes that refresh
survive a crash or an outage).

Exactly once: each row is claimed with a lease, sent, and marked sent in its own commit right after Slack
answers. A failure puts the row back to pending with its (redacted) error and stops that release's sending,
so order is kept; an outage stops the whole flush. Nothing here raises into the engine: the next tick tries
again. One window remains: a process that dies after Slack accepted a reply but before the row is marked
sent (a few milliseconds) makes the next flush post that reply again once its lease expires. The thread's
first message is safe even then: it is found again by its metadata instead of being posted twice.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import Session, col, select

from thor_cli.adapters.net import one_line
from thor_cli.errors import ServiceUnavailable, ThorError
from thor_cli.secrets import redact
from thor_cli.store.models import OutboxMessage, Release

if TYPE_CHECKING:
    from thor_cli.config import ThorConfig
    from thor_cli.runtime import Runtime
    from thor_cli.slack_thread import SlackThreads

SEND_LEASE = timedelta(minutes=2)
_ICONS = {
    "succeeded": "✅",
    "approved": "✅",
    "failed": "❌",
    "retry": "🔁",
    "waiting": "⏳",
    "skipped": "⏭️",
    "started": "▶️",
}
_DETAIL_CHARS = 500
UPDATE = "update"  # an outbox row asking for the thread's first message to be refreshed (Slack only)


def configured(config: ThorConfig) -> bool:
    return bool(config.slack.channel or config.notify.file or config.notify.echo)


def enabled(rt: Runtime) -> bool:
    return configured(rt.settings.config)


def enqueue(
    rt: Runtime, session: Session, release: Release | None, kind: str, text: str, *, commit: bool = False
) -> None:
    if not enabled(rt):
        return
    session.add(
        OutboxMessage(
            release_id=release.id if release else None,
            kind=kind,
            text=redact(text),
            created_at=rt.clock.now(),
        )
    )
    if commit:
        session.commit()


def step_started(rt: Runtime, session: Session, release: Release, step: str, attempt: int) -> None:
    suffix = f" (attempt {attempt})" if attempt > 1 else ""
    enqueue(
        rt,
        session,
        release,
        "reply",
        f"{_ICONS['started']} {release.version} {step} started{suffix}",
        commit=True,
    )


def step_finished(
    rt: Runtime, session: Session, release: Release, step: str, kind: str, detail: str, link: str | None
) -> None:
    icon = _ICONS.get(kind, "•")
    summary = one_line(detail, _DETAIL_CHARS)
    text = (
        f"{icon} {release.version} {step} {kind}" + (f": {summary}" if summary else "") + (f" <{link}>" if link else "")
    )
    # Failures also go to the channel: someone has to act on them.
    enqueue(rt, session, release, "broadcast" if kind == "failed" else "reply", text)


def release_changed(rt: Runtime, session: Session, release: Release, status: str) -> None:
    # A blocked release follows a failed step, which was already broadcast: this one stays in the thread.
    enqueue(rt, session, release, "reply", f"Release {_title(release)} is now {status}")


def release_opened(rt: Runtime, session: Session, release: Release) -> None:
    enqueue(rt, session, release, "thread", f"Gen3 release {_title(release)} has started", commit=True)


def _title(release: Release) -> str:
    return f"{release.version} {release.codename}" if release.codename else release.version


@dataclass
class FlushReport:
    sent: int = 0
    failed: int = 0
    error: str | None = None


def pending(session: Session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(col(OutboxMessage.status).in_(["pending", "sending"]))
    return list(session.exec(query.order_by(col(OutboxMessage.id))))


def _claim(rt: Runtime, session: Session, message: OutboxMessage) -> bool:
    now = rt.clock.now()
    result = session.execute(
        update(OutboxMessage)
        .execution_options(synchronize_session=False)
        .where(
            col(OutboxMessage.id) == message.id,
            (col(OutboxMessage.status) == "pending") | (col(OutboxMessage.lease_expires_at) < now),
        )
        .values(
            status="sending",
            lease_owner=rt.owner,
            lease_expires_at=now + SEND_LEASE,
            attempts=OutboxMessage.attempts + 1,
        )
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def _finish(session: Session, message: OutboxMessage, **values: object) -> None:
    session.execute(
        update(OutboxMessage)
        .execution_options(synchronize_session=False)
        .where(col(OutboxMessage.id) == message.id)
        .values(lease_owner=None, lease_expires_at=None, **values)
    )
    session.commit()


def _mark_sent(rt: Runtime, session: Session, message: OutboxMessage, ts: str | None, error: str | None = None) -> None:
    _finish(session, message, status="sent", sent_at=rt.clock.now(), slack_ts=ts, last_error=error)


class _Stop(Exception):
    """Stop the whole flush (Slack is down or rate limiting): the rest waits for the next tick."""


def _failed(session: Session, messages: list[OutboxMessage], exc: Exception, report: FlushReport) -> None:
    """Put claimed rows back to pending with the error; raise ``_Stop`` when nothing else can get through."""
    text = redact(exc.message if isinstance(exc, ThorError) else f"{type(exc).__name__}: {exc}") or type(exc).__name__
    for message in messages:
        _finish(session, message, status="pending", last_error=text)
    report.failed += 1
    report.error = text
    if isinstance(exc, ServiceUnavailable):
        raise _Stop from None


MAX_FLUSH_PASSES = 5


def flush(rt: Runtime) -> FlushReport:
    """Send pending messages, in order per release. Never raises for a sending failure: see the module doc."""
    report = FlushReport()
    if not enabled(rt):
        return report
    slack: SlackThreads | None = None
    with rt.store.session() as session:
        # Another process may queue messages while this one sends (and leave them to it): look again
        # after each pass that sent something, a bounded number of times.
        for _ in range(MAX_FLUSH_PASSES):
            rows = pending(session)
            if not rows:
                break
            if slack is None:
                try:
                    slack = _slack(rt)
                except ThorError as exc:  # Slack configured without a token: everything waits, nothing is lost
                    report.error = redact(exc.message)
                    return report
            sent_before = report.sent
            try:
                for release_id, batch in _by_release(rows):
                    _flush_release(rt, session, slack, release_id, batch, report)
            except _Stop:
                break
            if report.sent == sent_before:
                break
    return report


def _slack(rt: Runtime) -> SlackThreads | None:
    channel = rt.settings.config.slack.channel
    if not channel:
        return None
    from thor_cli.adapters.slack import SlackClient
    from thor_cli.slack_thread import SlackThreads

    return SlackThreads(rt, SlackClient.from_settings(rt.settings), channel)


def _by_release(rows: list[OutboxMessage]) -> Iterator[tuple[int | None, list[OutboxMessage]]]:
    """Rows grouped by release, releases in the order of their oldest pending row, rows in id order."""
    first_seen: dict[int | None, int] = {}
    for row in rows:
        first_seen.setdefault(row.release_id, row.id or 0)
    ordered = sorted(rows, key=lambda r: (first_seen[r.release_id], r.id or 0))
    for release_id, group in groupby(ordered, key=lambda r: r.release_id):
        yield release_id, list(group)


def _flush_release(
    rt: Runtime,
    session: Session,
    slack: SlackThreads | None,
    release_id: int | None,
    batch: list[OutboxMessage],
    report: FlushReport,
) -> None:
    messages = [m for m in batch if m.kind != UPDATE]
    refreshes = [m for m in batch if m.kind == UPDATE]
    if slack is not None and release_id is not None and messages and not refreshes:
        marker = OutboxMessage(release_id=release_id, kind=UPDATE, text="refresh the thread", created_at=rt.clock.now())
        session.add(marker)
        session.commit()
        refreshes.append(marker)
    for message in messages:
        if not _claim(rt, session, message):
            return  # another process is sending this release's messages: leave the rest to it, in order
        try:
            ts = slack.deliver(session, message) if slack is not None else None
            local_error = _send_local(rt, message, posted=slack is not None)
        except Exception as exc:  # the outbox must survive any sender failure
            _failed(session, [message], exc, report)
            return
        _mark_sent(rt, session, message, ts, local_error)
        if local_error:
            report.error = local_error
        report.sent += 1
    claimed = [m for m in refreshes if _claim(rt, session, m)]
    if not claimed:
        return
    if slack is None or release_id is None:  # Slack is no longer configured: nothing to refresh
        for message in claimed:
            _finish(session, message, status="dropped")
        return
    try:
        slack.refresh(session, release_id)
    except Exception as exc:
        _failed(session, claimed, exc, report)
        return
    for message in claimed:
        _mark_sent(rt, session, message, None)


def _send_local(rt: Runtime, message: OutboxMessage, *, posted: bool) -> str | None:
    """The file/echo stand-in for Slack. Failing after a Slack post is noted, not retried (no double post)."""
    config = rt.settings.config.notify
    try:
        if config.file:
            path = rt.settings.resolve(config.file)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(f"[{message.kind}] {message.text}\n")
        if config.echo:
            print(f"  slack> {message.text}", file=sys.stderr)
    except OSError as exc:
        if not posted:
            raise
        return redact(f"[notify] file: {exc}")
    return None
