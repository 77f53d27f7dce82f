"""Render the board's pages with Jinja2 (autoescaping on: PR titles, step output and branch names come from
outside) and write the site. ``render_site`` returns every file as ``{relative path: text}``; the static site
(``write_site``) and the live server (``thor serve``) both use it, so they show the same pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from thor_cli.report import data, views
from thor_cli.runtime import Runtime

CSS_NAME = "thor.css"
ICS_NAME = "calendar.ics"
# Only these schemes become links; anything else (javascript:, a local path) is shown as text.
LINK_SCHEMES = ("https://", "http://")


@dataclass(frozen=True)
class Page:
    path: str  # relative to the site's root, with "/" separators
    template: str
    values: dict[str, Any]


@lru_cache(maxsize=4)
def environment(timezone: str):  # type: ignore[no-untyped-def]
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("thor_cli.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    tz = ZoneInfo(timezone)
    env.filters["when"] = lambda iso: local_time(iso, tz)
    env.filters["day"] = lambda iso: local_time(iso, tz)[:10] if iso else ""
    env.filters["markdown"] = markdown_html
    env.filters["ticks"] = code_spans
    env.filters["css"] = views.css_class
    env.globals["icon"] = lambda status: views.ICONS.get(str(status), "•")
    env.globals["is_link"] = lambda url: isinstance(url, str) and url.startswith(LINK_SCHEMES)
    return env


def local_time(iso: str | None, tz: ZoneInfo) -> str:
    """2021-09-10T13:00:00+00:00 → "2021-09-10 09:00" in the configured timezone."""
    if not iso or len(iso) == 10:  # nothing, or a day already
        return iso or ""
    return f"{datetime.fromisoformat(iso).astimezone(tz):%Y-%m-%d %H:%M}"


@lru_cache(maxsize=1)
def _markdown():  # type: ignore[no-untyped-def]
    from markdown_it import MarkdownIt

    # Raw HTML in the notes (a PR description can hold anything) is shown as text, never passed through;
    # markdown-it's own link check refuses javascript: and data: URLs.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown_html(text: str | None):  # type: ignore[no-untyped-def]
    from markupsafe import Markup

    return Markup(_markdown().render(text or ""))


def code_spans(text: str | None):  # type: ignore[no-untyped-def]
    """Escape ``text``, then show its `backticked` commands (as Thor's messages write them) as code."""
    from markupsafe import Markup, escape

    escaped = str(escape(text or ""))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def css() -> str:
    return resources.files("thor_cli.report").joinpath("static", CSS_NAME).read_text(encoding="utf-8")


def pages(rt: Runtime) -> list[Page]:
    """Every page of the site, with the values its template needs."""
    site = _Site(rt)
    result = [site.board(), site.environments(), site.calendar()]
    result += [site.release(row["version"]) for row in site.releases]
    result += [site.owner(group) for group in site.groups]
    return result


def page(rt: Runtime, path: str) -> Page | None:
    """One page by its path in the site (for ``thor serve``); None when the site has no such page."""
    site = _Site(rt)
    if path in ("", "index.html"):
        return site.board()
    if path == "environments.html":
        return site.environments()
    if path == "calendar.html":
        return site.calendar()
    folder, _, name = path.partition("/")
    stem = name.removesuffix(".html")
    if folder == "releases" and name.endswith(".html") and stem in {r["version"] for r in site.releases}:
        return site.release(stem)
    if folder == "owners" and name.endswith(".html"):
        return next((site.owner(g) for g in site.groups if g.slug == stem), None)
    return None


class _Site:
    """The data every page shares, read once per rendering."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.releases = data.releases(rt)
        self.cycles = data.calendar(rt)
        self.envs = data.environments(rt)
        self.versions = views.matrix_versions(self.envs, self.releases)
        self.groups = views.owner_groups(self.envs, self.versions)

    def board(self) -> Page:
        board = views.board(self.releases, self.cycles, self.envs)
        return Page("index.html", "board.html", {"board": board, "releases": self.releases})

    def environments(self) -> Page:
        return Page("environments.html", "environments.html", {"groups": self.groups, "versions": self.versions})

    def calendar(self) -> Page:
        return Page("calendar.html", "calendar.html", {"cycles": self.cycles, "ics": ICS_NAME})

    def release(self, version: str) -> Page:
        detail = data.release_page(self.rt, version)
        return Page(f"releases/{_file_name(version)}.html", "release.html", {"release": detail})

    def owner(self, group: views.OwnerGroup) -> Page:
        return Page(f"owners/{group.slug}.html", "owner.html", {"group": group, "versions": self.versions})


def _file_name(version: str) -> str:
    # Versions are checked at the door (letters, digits, ".", "_", "-"): safe as a file name already.
    return version


def render_page(rt: Runtime, page: Page, *, generated: dict[str, str]) -> str:
    env = environment(rt.settings.config.schedule.timezone)
    depth = page.path.count("/")
    return env.get_template(page.template).render(
        **page.values,
        root="../" * depth,
        page=page.path,
        generated=generated,
        release_file=_file_name,
    )


def render_site(rt: Runtime) -> dict[str, str]:
    """Every file of the site: the pages, the style sheet and the calendar feed."""
    generated = data.generated_at(rt)
    files = {page.path: render_page(rt, page, generated=generated) for page in pages(rt)}
    files[CSS_NAME] = css()
    files[ICS_NAME] = data.calendar_ics(rt)
    return files


def write_site(rt: Runtime, target: Path, *, before_swap: Callable[[Path], None] | None = None) -> Path:
    """Render the site and put it at ``target`` atomically (see ``report.publish``); returns the new generation."""
    from thor_cli.report.publish import publish

    return publish(render_site(rt), target, before_swap=before_swap)
