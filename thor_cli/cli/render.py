"""Rich tables and JSON from plain data. Tables go to stdout; nothing here decides anything."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

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


# Piped or mailed by cron, tables get room instead of folding at 80 columns.
PIPED_WIDTH = 160


def console() -> Console:
    return Console(highlight=False, width=None if sys.stdout.isatty() else PIPED_WIDTH)


def err_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def emit(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """A rich table on a terminal; aligned plain text when piped or mailed (greppable, and fast at 1,000 rows)."""
    if sys.stdout.isatty():
        console().print(table(title, columns, rows))
    else:
        sys.stdout.write(plain_table(title, columns, rows))


def _plain(cell: Any) -> str:
    text = cell.plain if isinstance(cell, Text) else "" if cell is None else str(cell)
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
    out = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*(cell if isinstance(cell, Text) else Text("" if cell is None else str(cell)) for cell in row))
    return out
