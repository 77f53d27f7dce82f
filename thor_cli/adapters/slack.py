"""Slack: post and update the release thread, through ``slack_sdk``'s WebClient.

Thor recognises its own messages by their message metadata (``event_type`` plus ``event_payload.key``), so
a tick that died after posting finds the thread again instead of opening a second one. Errors leave as one
redacted ``ThorError`` line; the ``slack_sdk`` import is deferred so ``thor status`` stays fast.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from thor_cli.adapters.net import one_line
from thor_cli.adapters.service import ServiceClient
from thor_cli.errors import ServiceUnavailable, StepError, ThorError
from thor_cli.secrets import redact, required_secret

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from thor_cli.config import Settings

# Errors that mean the token itself is no good: retrying will not help, a person must fix the secret.
_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
# Refusals of one message that sending it again cannot change: the outbox sets such a message aside at once.
_PERMANENT_ERRORS = frozenset(
    {
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_metadata_format",
        "no_text",
        "too_many_attachments",
    }
)
_HISTORY_PAGE = 200
_HISTORY_MAX_PAGES = 5
_LIST_PAGE = 200
_LIST_MAX_PAGES = 50  # 10,000 channels
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


class SlackRefused(StepError):
    """Slack refused one request (``error`` names why); ``permanent`` when sending it again cannot help."""

    def __init__(self, message: str, error: str | None) -> None:
        super().__init__(message)
        self.error = error
        self.permanent = error in _PERMANENT_ERRORS


def release_metadata(event_type: str, key: str, **payload: Any) -> dict[str, Any]:
    """Message metadata that ``find_message(event_type=..., key=...)`` recognises later."""
    return {"event_type": event_type, "event_payload": {"key": key, **payload}}


class SlackClient(ServiceClient):
    service = "Slack"
    section = "slack"
    required = ("channel",)
    endpoint_attr = "base_url"
    base_url: str

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://slack.com/api/",
        timeout: float = 30,
        max_rate_limit_retries: int = 2,
    ) -> None:
        super().__init__(base_url if base_url.endswith("/") else base_url + "/", token, timeout=timeout)
        self.max_rate_limit_retries = max_rate_limit_retries
        self._client: WebClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackClient:
        config = cls.configured(settings)
        return cls(
            required_secret("THOR_SLACK_TOKEN"),
            base_url=config.base_url,
            timeout=config.timeout,
            max_rate_limit_retries=config.max_rate_limit_retries,
        )

    # -- plumbing -----------------------------------------------------------------------------------

    def _web(self) -> WebClient:
        if self._client is None:
            from slack_sdk import WebClient
            from slack_sdk.http_retry import RateLimitErrorRetryHandler

            # Only rate limits are retried here (after Retry-After): retrying a post after a connection
            # reset could post twice; the engine retries the whole step, which looks before posting again.
            self._client = WebClient(
                token=self._token,
                base_url=self.base_url,
                timeout=self.timeout,  # type: ignore[arg-type]  # urlopen takes float seconds too
                retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=self.max_rate_limit_retries)],
            )
        return self._client

    def _translate(self, action: str, exc: Exception) -> ThorError | None:
        import http.client

        from slack_sdk.errors import SlackApiError, SlackClientError

        if isinstance(exc, SlackApiError):
            data = exc.response.data if exc.response is not None else None
            error = data.get("error") if isinstance(data, dict) else None
            status = exc.response.status_code if exc.response is not None else None
            return self._api_error(action, status, error)
        if isinstance(exc, OSError | http.client.HTTPException):  # URLError, timeouts, resets
            return self._unreachable(exc)
        if isinstance(exc, SlackClientError):
            return StepError(f"Slack could not {action}: {one_line(str(exc))}")
        return None

    def _api_error(self, action: str, status: int | None, error: str | None) -> ThorError:
        if status == 429 or error == "ratelimited":
            retries = self.max_rate_limit_retries
            return ServiceUnavailable(f"Slack is rate limiting Thor (still ratelimited after {retries} retries)")
        if error in _AUTH_ERRORS:
            return ServiceUnavailable(f"Slack rejected the token ({error})")
        if status is not None and status >= 500:
            return self._server_failed(action, status)
        code = one_line(error) if error else f"HTTP {status}"
        return SlackRefused(redact(f"Slack could not {action}: {code}"), error)

    # -- operations ---------------------------------------------------------------------------------

    def auth_test(self) -> dict[str, Any]:
        """Who the token belongs to (``thor doctor``)."""
        with self._errors("check the token"):
            response = self._web().auth_test()
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        reply_broadcast: bool = False,
    ) -> str:
        """Post a message (a reply when ``thread_ts`` is given, also shown in the channel with
        ``reply_broadcast``); returns its ``ts``."""
        return self.post_message(
            channel,
            text,
            thread_ts=thread_ts,
            blocks=blocks,
            metadata=metadata,
            reply_broadcast=reply_broadcast,
        )[1]

    def post_message(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        reply_broadcast: bool = False,
    ) -> tuple[str, str]:
        """Like ``post``, returning (channel id, ts): ``chat.update`` wants the id, not the name."""
        extra: dict[str, Any] = {"reply_broadcast": True} if reply_broadcast and thread_ts else {}
        with self._errors(f"post to {channel}"):
            response = self._web().chat_postMessage(
                channel=channel, text=text, thread_ts=thread_ts, blocks=blocks, metadata=metadata, **extra
            )
        return str(response.get("channel") or channel), str(response["ts"])

    def channel_id(self, channel: str) -> str:
        """The id of a channel given by id or by name (``#releases`` or ``releases``).

        Reading a channel's history needs its id; people configure names. A name is looked up in the
        conversations the token can see (``conversations.list``, every page).
        """
        name = channel.strip().lstrip("#")
        if _CHANNEL_ID.match(name):
            return name
        cursor: str | None = None
        for _ in range(_LIST_MAX_PAGES):
            with self._errors("list the channels"):
                response = self._web().conversations_list(
                    types="public_channel,private_channel", exclude_archived=True, limit=_LIST_PAGE, cursor=cursor
                )
            for found in response.get("channels") or []:
                if found.get("name") == name or found.get("name_normalized") == name:
                    return str(found["id"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        raise SlackRefused(
            f"Slack channel #{name} not found among the channels the token can see "
            "(check [slack] channel, or invite the Thor app to a private channel)",
            "channel_not_found",
        )

    def check_channel(self, channel: str) -> None:
        """Read one message of the channel's history: what finding a release thread again needs."""
        with self._errors(f"read the history of {channel}"):
            self._web().conversations_history(channel=channel, limit=1)

    def update(self, channel: str, ts: str, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
        with self._errors(f"update message {ts} in {channel}"):
            self._web().chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    def find_message(self, channel: str, *, event_type: str, key: str) -> str | None:
        """The ``ts`` of the newest message in ``channel`` whose metadata has this event type and payload key.

        Looks at the last ``_HISTORY_PAGE * _HISTORY_MAX_PAGES`` messages, which covers a release's lifetime.
        """
        cursor: str | None = None
        for _ in range(_HISTORY_MAX_PAGES):
            with self._errors(f"read the history of {channel}"):
                response = self._web().conversations_history(
                    channel=channel, include_all_metadata=True, limit=_HISTORY_PAGE, cursor=cursor
                )
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == event_type and str(payload.get("key")) == key:
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None
