"""Tables, lines and JSON from plain data. Nothing here decides anything.

Rich is imported only to draw tables on a terminal: piped output (cron mail, scripts) is plain text, and
start-up stays light.
"""

from __future__ import annotations

import json
import os
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


def is_terminal() -> bool:
    """Whether stdout is a terminal; ``TTY_COMPATIBLE=1`` (rich's convention) forces one, for tests and tmux."""
    return sys.stdout.isatty() or os.environ.get("TTY_COMPATIBLE") == "1"


@dataclass(frozen=True)
class Col:
    """A table column. Identifiers (names, versions, statuses, times) never wrap or get cut: at narrow widths
    the table first shortens headers, then drops the columns with the highest ``drop`` rank (0: never)."""

    name: str
    short: str | None = None
    drop: int = 0
    wrap: bool = False  # free text (a detail): folds at word boundaries, capped at DETAIL_CAP characters
    hide_empty: bool = False  # a column with no value in any row is not shown at all


@dataclass(frozen=True)
class Detail:
    """A free-text cell with an optional link shown after it whole (never cut)."""

    text: str
    link: str | None = None


DETAIL_CAP = 200  # characters of a detail shown in a table; the full text is in --json or a detail view
_MIN_WRAP = 24
_ELLIPSIS = "…"


def _column(spec: str | Col) -> Col:
    return spec if isinstance(spec, Col) else Col(spec)


def _text(cell: Any) -> str:
    if isinstance(cell, Styled):
        return cell.text
    if isinstance(cell, Detail):
        return cell.text + (f"\n{cell.link}" if cell.link else "")
    return "" if cell is None else str(cell)


def _cap(text: str, limit: int) -> tuple[str, bool]:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters (with an ellipsis)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat, False
    cut = flat[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + _ELLIPSIS, True


@dataclass
class Emitted:
    cut: bool  # a detail was shortened: the caller may say where the full text is


def emit(
    title: str | None,
    columns: Iterable[str | Col],
    rows: Iterable[Iterable[Any]],
    *,
    cut_hint: str | None = None,
) -> Emitted:
    """A rich table on a terminal; aligned plain text when piped or mailed (greppable, and fast at 1,000 rows).

    ``cut_hint`` is printed under the table when a detail had to be shortened (where the full text is).
    """
    cols = [_column(c) for c in columns]
    body = [list(row) for row in rows]
    keep = [i for i, c in enumerate(cols) if not (c.hide_empty and all(not _text(row[i]) for row in body))]
    cols = [cols[i] for i in keep]
    body = [[row[i] for i in keep] for row in body]
    if is_terminal():
        from rich.console import Console

        out = Console(highlight=False)
        rendered, cut = fit_table(title, cols, body, out.width)
        out.print(rendered)
    else:
        text, cut = plain_table(title, cols, body)
        sys.stdout.write(text)
    if cut and cut_hint:
        say(cut_hint)
    return Emitted(cut)


def plain_table(title: str | None, columns: Iterable[str | Col], rows: Iterable[Iterable[Any]]) -> tuple[str, bool]:
    """Aligned columns, one line per row, at most PIPED_WIDTH wide: free text is cut to fit (whole words)."""
    cols = [_column(c) for c in columns]
    raw = [list(row) for row in rows]
    body = [[_text(cell).replace("\n", " ") for cell in row] for row in raw]
    widths = [max([len(c.name), *(len(row[i]) for row in body)]) for i, c in enumerate(cols)]
    cut = False
    wrap = [i for i, c in enumerate(cols) if c.wrap]
    if wrap:
        index = wrap[-1]
        room = PIPED_WIDTH - sum(w for i, w in enumerate(widths) if i != index) - 2 * (len(cols) - 1)
        room = max(room, _MIN_WRAP)
        for row, cells in zip(body, raw, strict=True):
            cell = cells[index]
            link = f" {cell.link}" if isinstance(cell, Detail) and cell.link else ""
            text = cell.text if isinstance(cell, Detail) else row[index]
            capped, was_cut = _cap(text, max(_MIN_WRAP, room - len(link)))
            row[index] = capped + link
            cut = cut or was_cut
        widths[index] = max([len(cols[index].name), *(len(row[index]) for row in body)])
    lines = [title] if title else []
    for row in [[c.name for c in cols], *body]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n", cut


def _natural(cell: Any) -> int:
    return max((len(line) for line in _text(cell).splitlines()), default=0)


def _longest_word(body: list[list[Any]], index: int) -> int:
    """The longest word of a free-text column, up to 30: a name in a list (``split-branch``) is never split."""
    words = (word for row in body for word in _text(row[index]).split())
    return min(30, max((len(w) for w in words), default=0))


def fit_table(title: str | None, cols: list[Col], body: list[list[Any]], width: int) -> tuple[Table, bool]:
    """The rich table for a terminal ``width`` columns wide: identifiers whole, free text folded and capped."""
    visible = list(range(len(cols)))
    short = False

    def needed(short: bool) -> int:
        total = 3 * len(visible) + 1  # a border and one space each side of every cell
        for i in visible:
            header = (cols[i].short or cols[i].name) if short else cols[i].name
            natural = max([len(header), *(_natural(row[i]) for row in body)])
            total += max(min(natural, _MIN_WRAP), _longest_word(body, i)) if cols[i].wrap else natural
        return total

    while needed(short) > width:
        if not short and any(cols[i].short for i in visible):
            short = True
            continue
        droppable = [i for i in visible if cols[i].drop]
        if not droppable:
            break
        visible.remove(max(droppable, key=lambda i: (cols[i].drop, i)))
    if short and needed(False) <= width:
        short = False  # dropping a column made room for the full headers again
    headers = [((cols[i].short or cols[i].name) if short else cols[i].name) for i in visible]
    cut = False
    cells: list[list[Any]] = []
    for row in body:
        line = []
        for i in visible:
            cell = row[i]
            if cols[i].wrap:
                text = cell.text if isinstance(cell, Detail) else _text(cell)
                capped, was_cut = _cap(text, DETAIL_CAP)
                cut = cut or was_cut
                link = cell.link if isinstance(cell, Detail) else None
                style = cell.style if isinstance(cell, Styled) else ""
                cell = Styled(capped + (f"\n{link}" if link else ""), style)
            line.append(cell)
        cells.append(line)
    minimums = {h: _longest_word(body, i) for h, i in zip(headers, visible, strict=True) if cols[i].wrap}
    specs = [Col(h, wrap=cols[i].wrap) for h, i in zip(headers, visible, strict=True)]
    return table(title, specs, cells, minimums), cut


def table(
    title: str | None,
    columns: Iterable[str | Col],
    rows: Iterable[Iterable[Any]],
    minimums: dict[str, int] | None = None,
) -> Table:
    from rich.table import Table
    from rich.text import Text

    out = Table(title=title, title_justify="left", header_style="bold")
    for spec in columns:
        col = _column(spec)
        if col.wrap:
            out.add_column(col.name, overflow="fold", min_width=(minimums or {}).get(col.name) or None)
        else:
            # Names, versions, statuses and times stay whole: the table drops columns rather than cut them.
            out.add_column(col.name, no_wrap=True, overflow="ignore")
    for row in rows:
        out.add_row(
            *(Text(cell.text, style=cell.style) if isinstance(cell, Styled) else Text(_text(cell)) for cell in row)
        )
    return out
