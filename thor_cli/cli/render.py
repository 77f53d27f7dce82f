"""Tables, lines and JSON from plain data. Nothing here decides anything.

Rich is imported only to draw tables on a terminal: piped output (cron mail, scripts) is plain text, and
start-up stays light.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

STATUS_STYLES = {
    "succeeded": "green",
    "released": "green",
    "active": "cyan",
    "running": "cyan",
    "waiting": "yellow",
    "pending": "dim",
    "skipped": "magenta",
    "failed": "bold red",
    "blocked": "bold red",
    "cancelled": "dim",
    "in progress": "cyan",
    "upcoming": "",
    "past": "dim",
}


# Piped or mailed, rich output gets room instead of folding at 80 columns.
PIPED_WIDTH = 160


def console() -> Console:
    """A rich console for narrated output (the demo); commands use ``say``/``warn``/``emit``."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else PIPED_WIDTH)


@dataclass(frozen=True)
class Styled:
    """A cell with a rich style, shown plain when piped."""

    text: str
    style: str = ""


def say(text: str) -> None:
    """One line (or block) to stdout, never wrapped or interpreted as markup."""
    print(text, flush=True)


def warn(text: str) -> None:
    """One line to stderr, whole, so cron mail and log scrapers see it as written."""
    print(text, file=sys.stderr, flush=True)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def status_text(status: str) -> Styled:
    return Styled(status, STATUS_STYLES.get(status, ""))


def emit(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """A rich table on a terminal; aligned plain text when piped or mailed (greppable, and fast at 1,000 rows)."""
    if sys.stdout.isatty():
        from rich.console import Console

        Console(highlight=False).print(table(title, columns, rows))
    else:
        sys.stdout.write(plain_table(title, columns, rows))


def _plain(cell: Any) -> str:
    text = cell.text if isinstance(cell, Styled) else "" if cell is None else str(cell)
    return text.replace("\n", " ")


def plain_table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = list(columns)
    body = [[_plain(cell) for cell in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in body)]) for i, name in enumerate(header)]
    lines = [title] if title else []
    for row in [header, *body]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    out = Table(title=title, title_justify="left", header_style="bold")
    names = list(columns)
    for index, name in enumerate(names):
        # The first column (a step or release name) stays whole; the others fold to fit the terminal.
        out.add_column(name, overflow="fold", no_wrap=index == 0 and len(names) > 1)
    for row in rows:
        out.add_row(
            *(
                Text(cell.text, style=cell.style)
                if isinstance(cell, Styled)
                else Text("" if cell is None else str(cell))
                for cell in row
            )
        )
    return out
