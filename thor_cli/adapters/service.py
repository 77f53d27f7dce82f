"""What the HTTP service adapters (JIRA, Jenkins, Slack) share: construction, ``__repr__``, settings, errors.

Each adapter keeps its own client library, its own operations and its own wording; this base holds the parts
that were written three times:

- the credentials are kept in private attributes and ``__repr__`` shows only the server's address, so a client
  in a log line, a traceback or a debugger never shows a token;
- ``configured(settings)`` reads the adapter's ``thor.toml`` table and refuses, in one line, a key it needs
  that is not set;
- ``_errors(action)`` wraps every call into the client library: a ``ThorError`` passes through, anything
  ``_translate`` recognises becomes one redacted ``ThorError`` line (``from None``: the library's exception,
  which may list request headers, never travels on), and anything else propagates as it is (a bug);
- the messages the three adapters word alike (credentials refused, server failing, unreachable, not JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from thor_cli.adapters.net import network_error
from thor_cli.errors import ConfigError, ServiceUnavailable, StepError, ThorError
from thor_cli.secrets import redact

if TYPE_CHECKING:
    from thor_cli.config import Settings


class ServiceClient:
    """Base of an HTTP service adapter. Subclasses set the class attributes and implement ``_translate``."""

    service: ClassVar[str]  # the name in messages: "JIRA"
    section: ClassVar[str]  # its thor.toml table: "jira"
    required: ClassVar[tuple[str, ...]] = ()  # keys of that table that must be set, checked in this order
    endpoint_attr: ClassVar[str] = "url"  # the public attribute holding the server's address

    def __init__(self, endpoint: str, token: str, *, timeout: float, user: str | None = None) -> None:
        setattr(self, self.endpoint_attr, endpoint)
        self.timeout = timeout
        self._user = user
        self._token = token

    @property
    def endpoint(self) -> str:
        """The server's address, as messages name it."""
        return str(getattr(self, self.endpoint_attr))

    def __repr__(self) -> str:  # never show the token
        return f"{type(self).__name__}({self.endpoint_attr}={self.endpoint!r})"

    @classmethod
    def configured(cls, settings: Settings) -> Any:
        """The adapter's ``thor.toml`` table, with every ``required`` key set (else a one-line ``ConfigError``)."""
        config = getattr(settings.config, cls.section)
        for key in cls.required:
            if not getattr(config, key):
                raise ConfigError(f"[{cls.section}] {key} is not set in thor.toml")
        return config

    # -- errors -------------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn whatever the client library raises inside the block into one redacted ``ThorError`` line."""
        try:
            yield
        except ThorError:
            raise
        except Exception as exc:
            error = self._translate(action, exc)
            if error is None:
                raise
            raise error from None

    def _translate(self, action: str, exc: Exception) -> ThorError | None:
        """The ``ThorError`` for an exception of the client library while trying to ``action``; None: not one."""
        raise NotImplementedError

    def _unreachable(self, exc: BaseException) -> ServiceUnavailable:
        return network_error(self.service, self.endpoint, exc, self.timeout)

    def _not_json(self, action: str) -> StepError:
        return StepError(redact(f"{self.service} at {self.endpoint} did not answer JSON (trying to {action})"))

    def _credentials_rejected(self, status: int) -> ServiceUnavailable:
        return ServiceUnavailable(f"{self.service} rejected the credentials (HTTP {status})")

    def _server_failed(self, action: str, status: int) -> ServiceUnavailable:
        return ServiceUnavailable(redact(f"{self.service} at {self.endpoint} failed to {action} (HTTP {status})"))
