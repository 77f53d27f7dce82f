"""A fake Slack Web API (``/api/<method>``) for slack_sdk's WebClient.

Methods: auth.test, chat.postMessage, chat.update, conversations.history (newest first, cursor paging,
metadata only with ``include_all_metadata``) and conversations.replies. Arguments are read from a JSON
body, a form body or the query string, like Slack does. The token is checked on every call: a missing
one answers ``not_authed``, a wrong one ``invalid_auth`` (HTTP 200, ``ok: false``).
``fail_next(n, status=429, retry_after=1)`` answers ``ratelimited`` with a ``Retry-After`` header.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.fakes.http import FakeServer, Fault, Request, Response

DEFAULT_TOKEN = "xoxb-fake-0000-slack-token"
DEFAULT_CHANNELS = {"releases": "C0RELEASES", "general": "C0GENERAL"}


class FakeSlack(FakeServer):
    name = "slack"

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        channels: dict[str, str] | None = None,
        port: int = 0,
        delay: float = 0.0,
    ) -> None:
        super().__init__(port=port, delay=delay)
        self.token = token
        self.channels = dict(channels or DEFAULT_CHANNELS)  # name -> id
        self.history: dict[str, list[dict[str, Any]]] = {cid: [] for cid in self.channels.values()}
        self.posted: list[dict[str, Any]] = []  # every message chat.postMessage accepted, in order
        self.updates: list[dict[str, Any]] = []  # every accepted chat.update: {"channel", "ts", "text"}
        self.calls: list[str] = []  # Slack method of every authenticated call, e.g. "chat.postMessage"
        self._last_ts_us = 0
        self.refusals: list[tuple[str, str]] = []  # (text fragment, error): chat.postMessage refuses such messages
        self.route("*", r"/api/([\w.]+)", self._api)

    # -- test controls and inspection ------------------------------------------------------------

    def seed_message(self, channel: str, text: str, *, metadata: dict[str, Any] | None = None) -> str:
        """Put a message in the channel's history as if posted earlier (not counted in ``posted``)."""
        with self.lock:
            channel_id = self._channel_id(channel) or channel
            message: dict[str, Any] = {"type": "message", "user": "U0OTHER", "text": text}
            message.update(ts=self._next_ts(), channel=channel_id)
            if metadata:
                message["metadata"] = metadata
            self.history[channel_id].append(message)
            return str(message["ts"])

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Copies of every posted message (replies included), oldest first."""
        with self.lock:
            return [dict(m) for m in self.posted]

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """Current state of every message in the channel (replies included), oldest first."""
        with self.lock:
            return [dict(m) for m in self.history[self._channel_id(channel) or channel]]

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                dict(m)
                for m in self.history[self._channel_id(channel) or channel]
                if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
            ]

    # -- helpers ------------------------------------------------------------------------------------

    def _channel_id(self, value: str | None) -> str | None:
        """chat.postMessage takes a name (``#releases`` or ``releases``) or an id."""
        if not value:
            return None
        if value in self.history:
            return value
        return self.channels.get(value.lstrip("#"))

    def _channel_id_only(self, value: str | None) -> str | None:
        """conversations.history/replies and chat.update take only an id (a name is ``channel_not_found``)."""
        return value if value in self.history else None

    def _next_ts(self) -> str:
        # Unique and increasing, like Slack's message timestamps.
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    @staticmethod
    def _ok(**data: Any) -> Response:
        return Response.json({"ok": True, **data})

    @staticmethod
    def _fail(error: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response.json({"ok": False, "error": error}, status, headers)

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        content_type = request.headers.get("Content-Type") or ""
        if request.body and "json" in content_type:
            params.update(request.json() or {})
        elif request.body and "x-www-form-urlencoded" in content_type:
            params.update(request.form())
        return params

    def _token(self, request: Request, params: dict[str, Any]) -> str | None:
        header = request.headers.get("Authorization") or ""
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return params.get("token")

    # -- routes -------------------------------------------------------------------------------------

    def fault_response(self, fault: Fault) -> Response:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.body is not None:
            return Response.text(fault.body, fault.status, headers=headers)
        if fault.status == 429:
            return self._fail("ratelimited", 429, headers)
        return Response.text("<html>Slack is having trouble</html>", fault.status, "text/html", headers)

    def _api(self, request: Request, match: re.Match[str]) -> Response:
        params = self._params(request)
        token = self._token(request, params)
        if not token:
            return self._fail("not_authed")
        if token != self.token:
            return self._fail("invalid_auth")
        method = match[1]
        self.calls.append(method)
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.list": self._list,
        }.get(method)
        if handler is None:
            return self._fail("unknown_method", 404)
        return handler(params)

    def _auth_test(self, params: dict[str, Any]) -> Response:
        return self._ok(
            url="https://fake-workspace.slack.com/",
            team="Fake",
            user="thor",
            team_id="T0FAKE",
            user_id="U0THOR",
            bot_id="B0THOR",
            is_enterprise_install=False,
        )

    def refuse(self, fragment: str, error: str = "msg_too_long") -> None:
        """Refuse every message whose text contains ``fragment`` with ``error``, as Slack refuses a message that
        is too long or has invalid blocks."""
        with self.lock:
            self.refusals.append((fragment, error))

    def _post_message(self, params: dict[str, Any]) -> Response:
        channel = self._channel_id(params.get("channel"))
        if channel is None:
            return self._fail("channel_not_found")
        text, blocks = params.get("text"), _maybe_json(params.get("blocks"))
        for fragment, error in self.refusals:
            if fragment in (text or ""):
                return self._fail(error)
        if not text and not blocks:
            return self._fail("no_text")
        thread_ts = params.get("thread_ts") or None
        parent = None
        if thread_ts:
            parent = next((m for m in self.history[channel] if m["ts"] == thread_ts), None)
            if parent is None:
                return self._fail("thread_not_found")
        message: dict[str, Any] = {
            "type": "message",
            "user": "U0THOR",
            "bot_id": "B0THOR",
            "text": text or "",
            "ts": self._next_ts(),
            "channel": channel,
        }
        if blocks:
            message["blocks"] = blocks
        metadata = _maybe_json(params.get("metadata"))
        if metadata:
            message["metadata"] = metadata
        if parent is not None:
            message["thread_ts"] = parent["ts"]
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["latest_reply"] = message["ts"]
        self.history[channel].append(message)
        self.posted.append(dict(message))
        return self._ok(channel=channel, ts=message["ts"], message={k: v for k, v in message.items() if k != "channel"})

    def _update(self, params: dict[str, Any]) -> Response:
        channel = self._channel_id_only(params.get("channel"))
        if channel is None:
            return self._fail("channel_not_found")
        message = next((m for m in self.history[channel] if m["ts"] == params.get("ts")), None)
        if message is None:
            return self._fail("message_not_found")
        text, blocks = params.get("text"), _maybe_json(params.get("blocks"))
        if not text and not blocks:
            return self._fail("no_text")
        message["text"] = text or ""
        if blocks:
            message["blocks"] = blocks
        message["edited"] = {"user": "U0THOR", "ts": self._next_ts()}
        self.updates.append({"channel": channel, "ts": message["ts"], "text": message["text"]})
        return self._ok(channel=channel, ts=message["ts"], text=message["text"])

    def _history(self, params: dict[str, Any]) -> Response:
        channel = self._channel_id_only(params.get("channel"))
        if channel is None:
            return self._fail("channel_not_found")
        top_level = [m for m in reversed(self.history[channel]) if m.get("thread_ts") in (None, m["ts"])]
        return self._page(top_level, params)

    def _replies(self, params: dict[str, Any]) -> Response:
        channel = self._channel_id_only(params.get("channel"))
        if channel is None:
            return self._fail("channel_not_found")
        thread = [
            m for m in self.history[channel] if m["ts"] == params.get("ts") or m.get("thread_ts") == params.get("ts")
        ]
        if not thread:
            return self._fail("thread_not_found")
        return self._page(thread, params)

    def _list(self, params: dict[str, Any]) -> Response:
        """conversations.list: the channels, ``limit`` per page, cursor paging as Slack does."""
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        start = int(params.get("cursor") or 0)
        listed = sorted(self.channels.items())
        page = [
            {"id": cid, "name": name, "name_normalized": name, "is_channel": True, "is_archived": False}
            for name, cid in listed[start : start + limit]
        ]
        more = start + limit < len(listed)
        return self._ok(channels=page, response_metadata={"next_cursor": str(start + limit) if more else ""})

    def _page(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Response:
        limit = max(1, min(int(params.get("limit") or 100), 999))
        start = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        page = [_public(m, with_metadata) for m in messages[start : start + limit]]
        more = start + limit < len(messages)
        return self._ok(
            messages=page,
            has_more=more,
            pin_count=0,
            response_metadata={"next_cursor": str(start + limit) if more else ""},
        )


def _maybe_json(value: Any) -> Any:
    """Form-encoded calls send blocks and metadata as JSON strings."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        return json.loads(value)
    return value


def _public(message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
    shown = {k: v for k, v in message.items() if k != "channel"}
    if not with_metadata:
        shown.pop("metadata", None)
    return shown
