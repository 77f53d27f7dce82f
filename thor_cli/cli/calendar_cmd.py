"""``thor calendar``: the upcoming release cycles."""

from __future__ import annotations

import sys
from datetime import datetime

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import runtime
from thor_cli.cli.render import Col
from thor_cli.errors import UsageError


def register(app: typer.Typer) -> None:
    command(
        app,
        "calendar",
        calendar,
        """
        thor calendar                         the next six months of cycles
        thor calendar --from 2021-09 --months 12
        thor calendar --ics > gen3-releases.ics
        """,
    )


def calendar(
    ctx: typer.Context,
    from_month: str | None = typer.Option(None, "--from", metavar="YYYY-MM", help="First month to show."),
    months: int = typer.Option(
        6, "--months", min=1, max=240, metavar="N", help="How many months of cycles to show (1 to 240)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    as_ics: bool = typer.Option(False, "--ics", help="Print an iCalendar feed of the freeze dates."),
) -> None:
    """Show the upcoming release cycles: freeze dates, branch, phase.

    Dates are in the schedule's timezone; a month range with no cycle in it says so.
    """
    from dateutil.relativedelta import relativedelta

    if as_json and as_ics:
        raise UsageError("--json and --ics contradict each other: give one")

    from thor_cli.calendar import first_of_month
    from thor_cli.releases import with_moves

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
    cycles = with_moves(rt, cycles)  # a release moved by `thor release reschedule` shows its stored dates
    upcoming = next((c for c in cycles if c.code_freeze > now), None)
    if not cycles:
        _say_empty(cal, start_aware, months, to_stderr=as_json or as_ics)
        if not (as_json or as_ics):
            return
    if as_ics:
        from thor_cli.ics import to_ics

        sys.stdout.write(to_ics(cycles, now))
        return
    if as_json:
        render.print_json([c.as_data(now, upcoming=c is upcoming) for c in cycles])
        return
    rows = [
        (
            c.version,
            c.codename or "",
            c.feature_freeze.strftime("%a %Y-%m-%d") + (" (moved)" if c.moved else ""),
            c.code_freeze.strftime("%a %Y-%m-%d") + (" (moved)" if c.moved else ""),
            c.integration_branch,
            render.status_text(c.phase(now)),
            "◀ next" if c is upcoming else "",
        )
        for c in cycles
    ]
    columns = (
        Col("Version"),
        Col("Codename", hide_empty=True),
        Col("Feature freeze", short="Feature"),
        Col("Code freeze", short="Code"),
        Col("Integration branch", short="Branch", drop=1),
        Col("Phase"),
        Col("", hide_empty=True),
    )
    render.emit(f"Release calendar ({cal.tz.key})", columns, rows)


def _say_empty(cal, start: datetime, months: int, *, to_stderr: bool) -> None:  # type: ignore[no-untyped-def]
    """A range with no cycle says so (rather than an empty table), and where the next cycle is."""
    from dateutil.relativedelta import relativedelta

    last = start + relativedelta(months=months - 1)
    span = f"{start:%Y-%m}" + (f" to {last:%Y-%m}" if months > 1 else "")
    following = next(cal.iter_from(start), None)
    after = ""
    if following:
        after = f"; the next is {following.version} (feature freeze {following.feature_freeze:%Y-%m-%d})"
    line = f"no release cycle in {span}{after}"
    if to_stderr:
        render.warn(f"thor: {line}")
    else:
        render.say(line[0].upper() + line[1:] + ".")
