"""Release notifications through an outbox: recorded in the database first, sent by whoever can, once.

Messages are written in the same transaction as the state change they describe, so nothing is announced
that did not happen and nothing that happened goes unannounced. ``flush`` (run at the end of every tick)
sends what is pending: to Slack when ``[slack] channel`` is set, to a file and/or the terminal when
``[notify]`` says so (both may be active).

Slack: one thread per release (see ``thor_cli.slack_thread``). A "thread" message opens it, "reply" posts in
it, "broadcast" posts in it and in the channel; after a release's messages are sent its first message is
rewritten once with the current step table (an "update" row, written before sending, makes that refresh
survive a crash or an outage).

Exactly once: each row is claimed with a lease, sent, and marked sent in its own unit of work right after Slack
answers. A failure puts the row back to pending with its (redacted) error and stops that release's sending,
so order is kept; an outage stops the whole flush. A message Slack keeps refusing (``msg_too_long``,
``invalid_blocks``, …) is set aside after ``MAX_SEND_ATTEMPTS`` (at once for a refusal that cannot change):
kept with its error as "undeliverable", so the release's later messages go on. Nothing here raises into the
engine: the next tick tries again. One window remains: a process that dies after Slack accepted a reply but
before the row is marked sent (a few milliseconds) makes the next flush post that reply again once its lease
expires. The thread's first message is safe even then: it is found again by its metadata instead of being posted twice.
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
    "recovered": "♻️",
    "interrupted": "⏸️",
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


def enqueue(rt: Runtime, session: Session, release: Release | None, kind: str, text: str) -> None:
    """Queue a message in the caller's unit of work: it is sent only if what it tells of commits."""
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


def step_started(rt: Runtime, session: Session, release: Release, step: str, attempt: int) -> None:
    suffix = f" (attempt {attempt})" if attempt > 1 else ""
    enqueue(
        rt,
        session,
        release,
        "reply",
        f"{_ICONS['started']} {release.version} {step} started{suffix}",
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
    enqueue(rt, session, release, "thread", f"Gen3 release {_title(release)} has started")


def _title(release: Release) -> str:
    return f"{release.version} {release.codename}" if release.codename else release.version


@dataclass
class FlushReport:
    sent: int = 0
    failed: int = 0
    error: str | None = None  # why messages are still waiting (an outage, a refused message)
    set_aside: int = 0  # messages given up on in this flush (kept with their error, status "undeliverable")
    set_aside_error: str | None = None


# A message Slack refuses is tried this many times (once per flush) before it is set aside, so that one bad
# message never holds back the rest of its release's thread. Refusals that cannot change are set aside at once.
MAX_SEND_ATTEMPTS = 3
UNDELIVERABLE = "undeliverable"


def pending(session: Session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(col(OutboxMessage.status).in_(["pending", "sending"]))
    return list(session.exec(query.order_by(col(OutboxMessage.id))))


def undeliverable(session: Session, release_id: int | None = None) -> list[OutboxMessage]:
    """Messages set aside for good, newest first (``thor status`` and ``thor tick`` mention them)."""
    query = select(OutboxMessage).where(col(OutboxMessage.status) == UNDELIVERABLE)
    if release_id is not None:
        query = query.where(col(OutboxMessage.release_id) == release_id)
    return list(session.exec(query.order_by(col(OutboxMessage.id).desc())))


def _claim(rt: Runtime, message: OutboxMessage) -> bool:
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        result = tx.execute(
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
        return result.rowcount == 1  # type: ignore[attr-defined]


def _finish(rt: Runtime, message: OutboxMessage, **values: object) -> None:
    with rt.store.transaction() as tx:
        tx.execute(
            update(OutboxMessage)
            .execution_options(synchronize_session=False)
            .where(col(OutboxMessage.id) == message.id)
            .values(lease_owner=None, lease_expires_at=None, **values)
        )


def _mark_sent(rt: Runtime, message: OutboxMessage, ts: str | None, error: str | None = None) -> None:
    _finish(rt, message, status="sent", sent_at=rt.clock.now(), slack_ts=ts, last_error=error)


class _Stop(Exception):
    """Stop the whole flush (Slack is down or rate limiting): the rest waits for the next tick."""


def _failed(rt: Runtime, messages: list[OutboxMessage], exc: Exception, report: FlushReport) -> bool:
    """Record a failed send. True: the release's later messages must wait (order is kept); False: this
    message was set aside and the rest may go on. Raises ``_Stop`` when nothing else can get through."""
    text = redact(exc.message if isinstance(exc, ThorError) else f"{type(exc).__name__}: {exc}") or type(exc).__name__
    outage = isinstance(exc, ServiceUnavailable)
    # ``attempts`` was read before this flush claimed the rows, which counted one more.
    give_up = not outage and (
        bool(getattr(exc, "permanent", False)) or any(m.attempts + 1 >= MAX_SEND_ATTEMPTS for m in messages)
    )
    for message in messages:
        _finish(rt, message, status=UNDELIVERABLE if give_up else "pending", last_error=text)
    if give_up:
        report.set_aside += len(messages)
        report.set_aside_error = text
        return False
    report.failed += 1
    report.error = text
    if outage:
        raise _Stop from None
    return True


MAX_FLUSH_PASSES = 5


def flush(rt: Runtime) -> FlushReport:
    """Send pending messages, in order per release. Never raises for a sending failure: see the module doc."""
    report = FlushReport()
    if not enabled(rt):
        return report
    slack: SlackThreads | None = None
    # Another process may queue messages while this one sends (and leave them to it): look again after each
    # pass that sent something, a bounded number of times.
    for _ in range(MAX_FLUSH_PASSES):
        with rt.store.session() as session:
            # A release that has not started has no thread yet: its news (a reschedule) waits for it.
            waiting = set(session.exec(select(Release.id).where(col(Release.started).is_(False))).all())
            rows = [row for row in pending(session) if row.release_id not in waiting]
        if not rows:
            break
        if slack is None:
            try:
                slack = _slack(rt)
            except ThorError as exc:  # Slack configured without a token: everything waits, nothing is lost
                report.error = redact(exc.message)
                return report
        progress_before = report.sent + report.set_aside
        try:
            for release_id, batch in _by_release(rows):
                _flush_release(rt, slack, release_id, batch, report)
        except _Stop:
            break
        if report.sent + report.set_aside == progress_before:
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
    slack: SlackThreads | None,
    release_id: int | None,
    batch: list[OutboxMessage],
    report: FlushReport,
) -> None:
    messages = [m for m in batch if m.kind != UPDATE]
    refreshes = [m for m in batch if m.kind == UPDATE]
    if slack is not None and release_id is not None and messages and not refreshes:
        marker = OutboxMessage(release_id=release_id, kind=UPDATE, text="refresh the thread", created_at=rt.clock.now())
        with rt.store.transaction() as tx:
            tx.add(marker)
        refreshes.append(marker)
    for message in messages:
        if not _claim(rt, message):
            return  # another process is sending this release's messages: leave the rest to it, in order
        try:
            ts = slack.deliver(message) if slack is not None else None
            local_error = _send_local(rt, message, posted=slack is not None)
        except Exception as exc:  # the outbox must survive any sender failure
            if _failed(rt, [message], exc, report):
                return
            continue
        _mark_sent(rt, message, ts, local_error)
        if local_error:
            report.error = local_error
        report.sent += 1
    claimed = [m for m in refreshes if _claim(rt, m)]
    if not claimed:
        return
    if slack is None or release_id is None:  # Slack is no longer configured: nothing to refresh
        for message in claimed:
            _finish(rt, message, status="dropped")
        return
    try:
        slack.refresh(release_id)
    except Exception as exc:
        _failed(rt, claimed, exc, report)
        return
    for message in claimed:
        _mark_sent(rt, message, None)


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
