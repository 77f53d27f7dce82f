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


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    out = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*(cell if isinstance(cell, Text) else Text("" if cell is None else str(cell)) for cell in row))
    return out
