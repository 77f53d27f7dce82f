"""``thor calendar``: the upcoming release cycles."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime

import typer

from thor_cli.cli import render
from thor_cli.cli.options import runtime
from thor_cli.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("calendar")(calendar)


def calendar(
    ctx: typer.Context,
    from_month: str | None = typer.Option(None, "--from", metavar="YYYY-MM", help="First month to show."),
    months: int = typer.Option(6, "--months", min=1, max=240, help="How many months of cycles to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    as_ics: bool = typer.Option(False, "--ics", help="Print an iCalendar feed of the freeze dates."),
) -> None:
    """Show the upcoming release cycles: version, codename, feature and code freeze."""
    from dateutil.relativedelta import relativedelta

    from thor_cli.calendar import first_of_month
    from thor_cli.releases import rescheduled_dates

    rt = runtime(ctx)
    cal = rt.calendar
    now = rt.clock.now()
    if from_month:
        try:
            start = first_of_month(from_month)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        local = rt.clock.local_now()
        start = datetime(local.year, local.month, 1)
    start_aware = start.replace(tzinfo=cal.tz)
    cycles = cal.cycles_between(start_aware, start_aware + relativedelta(months=months) - relativedelta(seconds=1))
    # A release moved by `thor release reschedule` shows its stored dates, marked as moved.
    moved = rescheduled_dates(rt)
    cycles = [
        replace(c, feature_freeze=moved[c.version][0], code_freeze=moved[c.version][1]) if c.version in moved else c
        for c in cycles
    ]
    upcoming = next((c for c in cycles if c.code_freeze > now), None)
    if as_ics:
        from thor_cli.ics import to_ics

        sys.stdout.write(to_ics(cycles, now))
        return
    if as_json:
        render.print_json(
            [
                {
                    "version": c.version,
                    "codename": c.codename,
                    "feature_freeze": c.feature_freeze.date().isoformat(),
                    "code_freeze": c.code_freeze.date().isoformat(),
                    "integration_branch": c.integration_branch,
                    "phase": c.phase(now),
                    "next": c is upcoming,
                    "moved": c.version in moved,
                }
                for c in cycles
            ]
        )
        return
    rows = [
        (
            c.version,
            c.codename or "",
            c.feature_freeze.strftime("%a %Y-%m-%d") + (" (moved)" if c.version in moved else ""),
            c.code_freeze.strftime("%a %Y-%m-%d") + (" (moved)" if c.version in moved else ""),
            c.integration_branch,
            render.status_text(c.phase(now)),
            "◀ next" if c is upcoming else "",
        )
        for c in cycles
    ]
    columns = ("Version", "Codename", "Feature freeze", "Code freeze", "Integration branch", "Phase", "")
    render.emit(f"Release calendar ({cal.tz.key})", columns, rows)
