"""``thor tick``: what cron runs. Quiet when there is nothing to do; exit 1 when a release is blocked."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import reporter, runtime
from thor_cli.errors import ExitCode, UsageError


def register(app: typer.Typer) -> None:
    command(
        app,
        "tick",
        tick,
        """
        thor tick                              what cron runs every morning
        thor tick --dry-run                    the plan: what is due, what waits for what
        thor tick --wait 2h                    follow waiting steps (a Jenkins build) for up to 2 hours
        thor tick --now 2021-09-10T09:00       time travel, for a rehearsal
        """,
    )


def tick(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
    wait: str | None = typer.Option(
        None, "--wait", metavar="DURATION", help="Keep polling waiting steps for up to this long (like 2h)."
    ),
) -> None:
    """Run whatever the calendar and the stored state say is due, once.

    Prints a line per step that changed state and nothing when nothing was due (cron mails nothing);
    exit 1 when a step failed or a release is blocked.
    """
    from thor_cli.durations import parse_duration
    from thor_cli.engine import tick as engine

    rt = runtime(ctx)
    try:
        wait_for = parse_duration(wait) if wait is not None else None
    except ValueError as exc:
        raise UsageError(f"--wait: {exc}") from None
    rt.pipeline  # noqa: B018  (validate the pipeline before touching anything)
    if dry_run:
        _print_plan(rt, engine)
        return
    report = engine.tick(rt, reporter(ctx), wait=wait_for)
    from thor_cli.report.hook import after_tick

    after_tick(rt, report, render.warn)  # [report] dir: rewrite the board if the tick changed something
    grace_days = rt.settings.config.schedule.start_grace_days
    for version in report.missed:
        # On stderr, so even `tick -q` under cron mails it: someone has to start or cancel the release.
        render.warn(
            f"thor: missed start: {version}'s feature freeze passed more than {grace_days} days ago and "
            f"the release was never started; run `thor release start {version}` or "
            f"`thor release cancel {version}`"
        )
    if report.notify_set_aside:
        render.warn(
            f"thor: {report.notify_set_aside} Slack message(s) could not be delivered and were set aside: "
            f"{report.notify_set_aside_error} (kept in the database; see `thor status`)"
        )
    if report.notify_error:
        # Every tick says so while messages wait: a channel name that cannot be found must not go unnoticed.
        render.warn(f"thor: notifications delayed: {report.notify_error}")
    if report.blocked:
        # The hint names the real release(s): a placeholder would send people to the help first.
        hints = " or ".join(f"`thor status {version}`" for version in report.blocked)
        render.warn(f"thor: blocked: {', '.join(report.blocked)} (see {hints})")
    if report.failed:
        raise typer.Exit(ExitCode.STEP_FAILED)


def _print_plan(rt, engine) -> int:  # type: ignore[no-untyped-def]
    to_start, missed = engine.planned_starts(rt)
    for cycle in to_start:
        render.say(f"{cycle.version}: would start the release (feature freeze {cycle.feature_freeze:%Y-%m-%d})")
    for cycle in missed:
        render.say(f"{cycle.version}: missed start (feature freeze {cycle.feature_freeze:%Y-%m-%d}); not started")
    for plan in engine.plan(rt):
        rows = []
        for decision in plan.decisions:
            status = decision.run.status if decision.run else "pending"
            action = f"would {decision.mode}" if decision.due else decision.reason
            rows.append((decision.step.name, render.status_text(status), action))
        columns = (render.Col("Step"), render.Col("Status"), render.Col("Plan", wrap=True))
        render.emit(f"{plan.version} ({plan.status})", columns, rows)
    if to_start:
        render.say("Steps of releases that would start are planned by the tick that starts them.")
