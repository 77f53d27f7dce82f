"""Bounded capture of a program's output: a head and a tail, whatever the program writes.

A program that prints 200 MB must not cost 200 MB (or the time to redact it): ``Capture`` keeps the first
``head`` bytes and the last ``tail`` bytes while the output streams in, and counts what it left out. Only what
is kept is decoded and redacted. At each cut a margin is dropped after redaction, so that a secret cut in
half by the cut (and so not recognisable) never shows.
"""

from __future__ import annotations

from thor_cli.secrets import redact

HEAD_BYTES = 1900  # with TAIL_BYTES and the marker: within proc.OUTPUT_TAIL_CHARS, what a step stores
TAIL_BYTES = 6000
CUT_MARGIN = 512  # characters dropped at a cut: longer than any secret or credential Thor masks


class Capture:
    """One stream. ``keep_all`` keeps everything (a caller that parses the output, such as ``git log``)."""

    def __init__(self, *, head: int = HEAD_BYTES, tail: int = TAIL_BYTES, keep_all: bool = False) -> None:
        self.keep_all = keep_all
        self._head_limit = head + CUT_MARGIN
        self._tail_limit = tail + CUT_MARGIN
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0  # bytes the program wrote

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.keep_all:
            self._head += chunk
            return
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]  # amortised: the buffer never grows past tail + one chunk

    @property
    def omitted(self) -> int:
        """Bytes written but not kept."""
        return self.total - len(self._head) - len(self._tail)

    def text(self, extra_secrets: tuple[str, ...] = ()) -> str:
        """What was kept, decoded and redacted; a marker where something was left out."""
        if not self._tail:
            return _redact(_decode(self._head), extra_secrets)
        if self.omitted == 0:
            return _redact(_decode(self._head + self._tail), extra_secrets)
        head = _redact(_decode(self._head), extra_secrets)[:-CUT_MARGIN]
        tail = _redact(_decode(self._tail), extra_secrets)[CUT_MARGIN:]
        if "\n" in head:
            head = head[: head.rindex("\n") + 1]  # end on a whole line where there is one
        if "\n" in tail[:1024]:
            tail = tail[tail.index("\n") + 1 :]
        return f"{head}\n… (the middle of {self.total:,} bytes of output left out) …\n{tail}"


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def _redact(text: str, extra: tuple[str, ...]) -> str:
    for value in sorted((v for v in extra if len(v) >= 4), key=len, reverse=True):
        text = text.replace(value, "***")
    return redact(text)
