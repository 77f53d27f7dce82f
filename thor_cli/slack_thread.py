"""One Slack thread per release: its first message is the release's step table, kept up to date in place.

``SlackThreads`` delivers outbox messages (see ``thor_cli.notify``) on top of ``adapters.slack``. Opening a
thread looks before it posts: the ``ts`` stored on the release, else a message of the channel carrying the
release's metadata (a thread opened by a tick that died before recording its ``ts``), and only then a new
post, whose ``ts`` is stored at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import Session, col

from thor_cli.adapters.net import one_line
from thor_cli.clock import as_utc
from thor_cli.store import queries
from thor_cli.store.models import OutboxMessage, Release

if TYPE_CHECKING:
    from thor_cli.adapters.slack import SlackClient
    from thor_cli.runtime import Runtime

EVENT_TYPE = "thor_release"
STATUS_ICONS = {
    "succeeded": "✅",
    "failed": "❌",
    "running": "▶️",
    "waiting": "⏳",
    "skipped": "⏭️",
    "pending": "▫️",
}
_DETAIL_CHARS = 150


def escape(text: str) -> str:
    """Slack's mrkdwn treats ``&``, ``<`` and ``>`` as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def release_title(release: Release) -> str:
    return f"{release.version} {release.codename}" if release.codename else release.version


def parent_text(rt: Runtime, session: Session, release: Release) -> str:
    """The thread's first message: the release, its dates and status, and one line per step."""
    tz = rt.settings.config.schedule.tz
    freezes = (
        f"feature freeze {as_utc(release.feature_freeze).astimezone(tz):%Y-%m-%d} · "
        f"code freeze {as_utc(release.code_freeze).astimezone(tz):%Y-%m-%d}"
    )
    lines = [f"*Gen3 release {escape(release_title(release))}* — {release.status}", freezes]
    runs = queries.step_runs(session, release.id) if release.id is not None else {}
    for step in rt.pipeline.enabled:
        run = runs.get(step.name)
        status = run.status if run else "pending"
        line = f"{STATUS_ICONS.get(status, '•')} `{step.name}` {status}"
        if run and run.detail:
            line += f" — {escape(one_line(run.detail, _DETAIL_CHARS))}"
        if run and run.external_ref and run.external_ref.startswith(("http://", "https://")):
            line += f" <{run.external_ref}|link>"
        lines.append(line)
    return "\n".join(lines)


class SlackThreads:
    """Delivers outbox messages. Each call reads what it needs and records a new thread in a unit of its own."""

    def __init__(self, rt: Runtime, client: SlackClient, channel: str) -> None:
        self.rt, self.client, self.channel = rt, client, channel
        self._channel_id: str | None = None

    @property
    def channel_id(self) -> str:
        """The configured channel's id, looked up once (a name is what people write in thor.toml)."""
        if self._channel_id is None:
            self._channel_id = self.client.channel_id(self.channel)
        return self._channel_id

    def deliver(self, message: OutboxMessage) -> str | None:
        """Send one outbox message; returns the ts posted (the thread's, for a "thread" message)."""
        if message.release_id is None:
            return self.client.post(self.channel_id, message.text)
        channel, thread_ts = self.ensure_thread(message.release_id)
        if message.kind == "thread":
            return thread_ts
        return self.client.post(channel, message.text, thread_ts=thread_ts, reply_broadcast=message.kind == "broadcast")

    def refresh(self, release_id: int) -> None:
        """Rewrite the thread's first message with the release's current step table."""
        channel, thread_ts = self.ensure_thread(release_id)
        with self.rt.store.session() as session:
            text = parent_text(self.rt, session, self._release(session, release_id))
        self.client.update(channel, thread_ts, text)

    def ensure_thread(self, release_id: int) -> tuple[str, str]:
        """(channel id, ts) of the release's thread, opened now if it has none."""
        with self.rt.store.session() as session:
            release = self._release(session, release_id)
            if release.slack_thread_ts:
                return release.slack_channel or self.channel_id, release.slack_thread_ts
            text = parent_text(self.rt, session, release)
        from thor_cli.adapters.slack import release_metadata

        channel = self.channel_id
        ts = self.client.find_message(channel, event_type=EVENT_TYPE, key=release.version)
        if ts is None:
            channel, ts = self.client.post_message(
                channel, text, metadata=release_metadata(EVENT_TYPE, release.version)
            )
        # Recorded at once; if another process recorded a thread meanwhile, its record wins.
        with self.rt.store.transaction() as tx:
            tx.execute(
                update(Release)
                .execution_options(synchronize_session=False)
                .where(col(Release.id) == release_id, col(Release.slack_thread_ts).is_(None))
                .values(slack_thread_ts=ts, slack_channel=channel)
            )
            fresh = self._release(tx, release_id)
            return fresh.slack_channel or channel, fresh.slack_thread_ts or ts

    @staticmethod
    def _release(session: Session, release_id: int) -> Release:
        release = session.get(Release, release_id, populate_existing=True)
        if release is None:  # the foreign key makes this impossible; be explicit all the same
            raise LookupError(f"release #{release_id} does not exist")
        return release
