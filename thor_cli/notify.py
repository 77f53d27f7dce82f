"""Release notifications through an outbox: recorded in the database first, sent by whoever can, once.

Messages are written in the same transaction as the state change they describe, so nothing is announced
that did not happen and nothing that happened goes unannounced. ``flush`` sends what is pending: to Slack
when ``[slack] channel`` is set, to a file and/or the terminal when ``[notify]`` says so.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import Session, col, select

from thor_cli.secrets import redact
from thor_cli.store.models import OutboxMessage, Release

if TYPE_CHECKING:
    from thor_cli.runtime import Runtime

SEND_LEASE = timedelta(minutes=2)
_ICONS = {"succeeded": "✅", "failed": "❌", "retry": "🔁", "waiting": "⏳", "skipped": "⏭️", "started": "▶️"}


def enabled(rt: Runtime) -> bool:
    config = rt.settings.config
    return bool(config.slack.channel or config.notify.file or config.notify.echo)


def enqueue(rt: Runtime, session: Session, release: Release | None, kind: str, text: str, *, commit: bool = False) -> None:
    if not enabled(rt):
        return
    session.add(
        OutboxMessage(
            release_id=release.id if release else None, kind=kind, text=redact(text), created_at=rt.clock.now()
        )
    )
    if commit:
        session.commit()


def step_started(rt: Runtime, session: Session, release: Release, step: str, attempt: int) -> None:
    suffix = f" (attempt {attempt})" if attempt > 1 else ""
    enqueue(rt, session, release, "reply", f"{_ICONS['started']} {release.version} {step} started{suffix}", commit=True)


def step_finished(
    rt: Runtime, session: Session, release: Release, step: str, kind: str, detail: str, link: str | None
) -> None:
    icon = _ICONS.get(kind, "•")
    text = f"{icon} {release.version} {step} {kind}" + (f": {detail}" if detail else "") + (f" <{link}>" if link else "")
    # Failures also go to the channel: someone has to act on them.
    enqueue(rt, session, release, "broadcast" if kind == "failed" else "reply", text)


def release_changed(rt: Runtime, session: Session, release: Release, status: str) -> None:
    title = f"{release.version} {release.codename}" if release.codename else release.version
    enqueue(rt, session, release, "broadcast" if status == "blocked" else "reply", f"Release {title} is now {status}")


def release_opened(rt: Runtime, session: Session, release: Release) -> None:
    title = f"{release.version} {release.codename}" if release.codename else release.version
    enqueue(rt, session, release, "thread", f"Gen3 release {title} has started", commit=True)


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
        .where(
            col(OutboxMessage.id) == message.id,
            (col(OutboxMessage.status) == "pending")
            | (col(OutboxMessage.lease_expires_at) < now),
        )
        .values(status="sending", lease_owner=rt.owner, lease_expires_at=now + SEND_LEASE, attempts=OutboxMessage.attempts + 1)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def flush(rt: Runtime) -> FlushReport:
    """Send pending messages in order. A failure stops the flush (order matters) and is retried next tick."""
    report = FlushReport()
    if not enabled(rt):
        return report
    with rt.store.session() as session:
        for message in pending(session):
            if not _claim(rt, session, message):
                continue
            try:
                ts = _send(rt, session, message)
            except Exception as exc:  # the outbox must survive any sender failure
                message_text = redact(str(exc)) or type(exc).__name__
                session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id) == message.id)
                    .values(status="pending", lease_owner=None, lease_expires_at=None, last_error=message_text)
                )
                session.commit()
                report.failed += 1
                report.error = message_text
                break
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message.id)
                .values(status="sent", sent_at=rt.clock.now(), slack_ts=ts, lease_owner=None, lease_expires_at=None)
            )
            session.commit()
            report.sent += 1
    return report


def _send(rt: Runtime, session: Session, message: OutboxMessage) -> str | None:
    config = rt.settings.config.notify
    if config.file:
        path = rt.settings.resolve(config.file)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"[{message.kind}] {message.text}\n")
    if config.echo:
        print(f"  slack> {message.text}", file=sys.stderr)
    return None
