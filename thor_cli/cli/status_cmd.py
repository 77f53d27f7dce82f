"""``thor status [VERSION [STEP]]`` and ``thor log VERSION [STEP]``.

Tables show times in the schedule's timezone (named in the title), as ``--now`` and the calendar are read;
``--json`` keeps UTC ISO 8601 for scripts.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import runtime
from thor_cli.cli.render import Col, Detail


def register(app: typer.Typer) -> None:
    command(
        app,
        "status",
        status,
        """
        thor status                           every release
        thor status 2021.09                   one release's steps
        thor status 2021.09 load-tests        one step in full, with every repository's result
        thor status 2021.09 --json
        """,
    )
    command(
        app,
        "log",
        log,
        """
        thor log 2021.09                      every event of the release
        thor log 2021.09 split-branch         one step's events and every repository's result
        thor log 2021.09 --json
        """,
    )


def status(
    ctx: typer.Context,
    version: str | None = typer.Argument(
        None, metavar="VERSION", help="One release's steps; all releases when omitted."
    ),
    step: str | None = typer.Argument(None, metavar="STEP", help="One step in full, with its repositories."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts (times in UTC)."),
) -> None:
    """Show every release, one release's steps, or one step in full."""
    rt = runtime(ctx)
    tz = rt.settings.config.schedule.tz
    if version is None:
        _overview(rt, as_json)
    elif step is None:
        _release(rt, version, tz, as_json)
    else:
        _step(rt, version, step, tz, as_json)


def _overview(rt: Any, as_json: bool) -> None:
    from thor_cli.status import missed_starts, releases_overview

    releases = releases_overview(rt)
    missed = missed_starts(rt)
    if as_json:
        # "missed_starts" only when there are some: scripts written for {"releases": [...]} keep working.
        render.print_json({"releases": releases, **({"missed_starts": missed} if missed else {})})
        return
    if not releases and not missed:
        render.say("No releases yet. `thor calendar` shows when the next one starts.")
        return
    rows = [
        (
            r["version"],
            r["codename"] or "",
            render.status_text(r["status"]),
            r["feature_freeze"],
            r["code_freeze"],
            f"{r['steps_done']}/{r['steps_total']}",
            r["next_step"] or "",
        )
        for r in releases
    ]
    rows += [
        (
            m["version"],
            m["codename"] or "",
            render.Styled("missed start", "bold red"),
            m["feature_freeze"],
            m["code_freeze"],
            "",
            f"thor release start {m['version']}",
        )
        for m in missed
    ]
    columns = (
        Col("Version"),
        Col("Codename", hide_empty=True, drop=2),
        Col("Status"),
        Col("Feature freeze", short="Feature", drop=1),
        Col("Code freeze", short="Code"),
        Col("Steps"),
        Col("Next step", wrap=True),
    )
    render.emit("Releases", columns, rows)


def _release(rt: Any, version: str, tz: ZoneInfo, as_json: bool) -> None:
    from thor_cli.status import release_detail

    detail = release_detail(rt, version)
    if as_json:
        render.print_json(detail)
        return
    title = f"{detail['version']} {detail['codename'] or ''}".strip()
    heading = (
        f"{title} — {detail['status']} — feature freeze {detail['feature_freeze']}, "
        f"code freeze {detail['code_freeze']}"
        + (" (rescheduled)" if detail["rescheduled"] else "")
        # The zone the times are in, as --now and the calendar read them.
        + f" — times {tz.key}"
    )
    rows = [
        (
            s["name"],
            render.status_text(s["status"]),
            s["attempts"],
            local_time(s["started_at"], tz),
            local_time(s["finished_at"], tz),
            Detail(s["detail"], shown_link(s["detail"], s["link"])),
        )
        for s in detail["steps"]
    ]
    columns = (
        Col("Step"),
        Col("Status"),
        Col("Attempts", short="#", drop=1),
        Col("Started", drop=2),
        Col("Finished", drop=3),
        Col("Detail / link", wrap=True),
    )
    render.emit(
        heading,
        columns,
        rows,
        cut_hint=f"(details cut: `thor status {detail['version']} STEP` or `--json` shows them in full)",
    )
    if detail.get("environments"):
        from thor_cli.cli.envs_cmd import rollout_rows

        columns = (
            Col("Environment"),
            Col("Step", drop=2),
            Col("Rollout"),
            Col("Pull request", short="PR", wrap=True),
            Col("Approvals", short="OK", drop=1),
            Col("Owner", drop=3),
        )
        render.emit("Environments", columns, rollout_rows(detail["environments"]))
    if detail["hotfixes"]:
        render.emit(
            "Hotfixes",
            (Col("At"), Col("By", drop=1), Col("What", wrap=True)),
            [(local_time(h["at"], tz), h["actor"], h["message"]) for h in detail["hotfixes"]],
        )
    undelivered = detail["undelivered_messages"]
    if undelivered:
        count = len(undelivered)
        render.warn(
            f"thor: {count} Slack message{'s' if count > 1 else ''} could not be delivered for {detail['version']}: "
            f"{undelivered[0]['error']} (see `thor status {detail['version']} --json`)"
        )


def _step(rt: Any, version: str, step: str, tz: ZoneInfo, as_json: bool) -> None:
    from thor_cli.status import step_detail

    found = step_detail(rt, version, step)
    if as_json:
        render.print_json(found)
        return
    s = found["step"]
    render.say(f"{found['version']} {s['name']}: {s['status']} (times {tz.key})")
    fields = [
        ("attempts", str(s["attempts"])),
        ("started", local_time(s["started_at"], tz)),
        ("finished", local_time(s["finished_at"], tz)),
        ("next attempt", local_time(s["next_attempt_at"], tz)),
        ("link", s["link"] or ""),
    ]
    for name, value in fields:
        if value:
            render.say(f"  {name + ':':<14}{value}")
    if s["detail"]:
        render.say("  detail:")
        for paragraph in s["detail"].splitlines():
            render.say(textwrap.fill(paragraph, width=100, initial_indent="    ", subsequent_indent="    "))
    _repos_table(found["step"]["name"], found["repos"])


def _repos_table(step: str, repos: list[dict[str, Any]]) -> None:
    if not repos:
        return
    failed = sum(1 for r in repos if r["status"] == "failed")
    title = f"{step}: {len(repos)} repositories" + (f", {failed} failed" if failed else "")
    rows = [(r["repo"], render.status_text(r["status"]), (r["sha"] or "")[:12], r["detail"]) for r in repos]
    columns = (Col("Repository"), Col("Status"), Col("Commit", drop=1, hide_empty=True), Col("Detail", wrap=True))
    render.emit(title, columns, rows)


def log(
    ctx: typer.Context,
    version: str = typer.Argument(..., metavar="VERSION", help="The release, like 2021.09."),
    step: str | None = typer.Argument(None, metavar="STEP", help="Only this step's events and repositories."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts (times in UTC)."),
) -> None:
    """Show a release's events, repository results and command output.

    Every repository's result comes from the database, in full; the output under an event is the captured
    tail of a command.
    """
    from thor_cli.status import event_log, repos_by_step

    rt = runtime(ctx)
    if step is not None and rt.pipeline.get(step) is None:
        from thor_cli.errors import UsageError

        raise UsageError(f"unknown step {step!r} (steps: {', '.join(rt.pipeline.names)})")
    tz = rt.settings.config.schedule.tz
    entries = event_log(rt, version, step)
    repos = repos_by_step(rt, version, step)
    if as_json:
        render.print_json({"version": version, "events": entries, "repos": repos})
        return
    with _paged():
        _print_log(version, step, tz, entries, repos)


@contextlib.contextmanager
def _paged() -> Iterator[None]:
    """On a terminal, a log longer than the screen goes through the pager ($PAGER, else less); piped, as is."""
    if not sys.stdout.isatty():
        yield
        return
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    text = buffer.getvalue()
    if text.count("\n") < shutil.get_terminal_size().lines - 1:
        sys.stdout.write(text)
    else:
        import pydoc

        pydoc.pager(text)


def _print_log(
    version: str, step: str | None, tz: ZoneInfo, entries: list[dict[str, Any]], repos: dict[str, Any]
) -> None:
    if not entries:
        render.say(f"{version}: no events{f' for {step}' if step else ''} yet")
    else:
        render.say(f"{version} event log (times {tz.key})")
    for entry in entries:
        where = f" {entry['step']}" if entry["step"] else ""
        render.say(f"{local_time(entry['at'], tz)}{where} [{entry['kind']}] {entry['message']} ({entry['actor']})")
        if entry["output"] and entry["step"] not in repos:
            # The captured tail of a command's output. A step with per-repository results is shown by the
            # tables below instead, in full from the database (its captured report may have lost its start).
            render.say(textwrap.indent(entry["output"].rstrip(), "    "))
    for name, rows in repos.items():
        _repos_table(name, rows)


def shown_link(detail: str, link: str | None) -> str | None:
    """The link under a detail, unless the detail already names it (the release notes' file): once is enough."""
    if not link:
        return None
    if "://" not in link and (link in detail or PurePath(link).name in detail):
        return None
    return link


def local_time(iso: str | None, tz: ZoneInfo) -> str:
    """2021-09-10T14:00:00+00:00 → 2021-09-10 09:00 in America/Chicago for a table; JSON keeps UTC."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M")
