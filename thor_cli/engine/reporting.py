"""How the engine tells a person what it did, without printing itself: the CLI supplies the sink."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Reporter:
    """``say`` carries what cron should mail (a step changed state); ``detail`` only shows with --verbose."""

    say: Callable[[str], None] = lambda _line: None
    debug: Callable[[str], None] = lambda _line: None
    interactive: bool = False  # progress bars only on a terminal
    lines: list[str] = field(default_factory=list)

    def event(self, line: str) -> None:
        self.lines.append(line)
        self.say(line)

    def detail(self, line: str) -> None:
        self.debug(line)
