"""Steering by hand: ``thor step``, ``thor steps``, ``thor retry``, ``thor skip``, ``thor approve``."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.options import flush_notifications, reporter, runtime
from thor_cli.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command("step")(step)
    app.command("steps")(steps)
    app.command("retry")(retry)
    app.command("skip")(skip)
    app.command("approve")(approve)


def step(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The step, like split-branch."),
    version: str = typer.Argument(..., help="The release, like 2021.09."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what it would do; change nothing."),
    force: bool = typer.Option(False, "--force", help="Run even if dependencies have not succeeded."),
) -> None:
    """Run one step now, regardless of the calendar."""
    from thor_cli.engine.steering import DryRun, run_step

    rt = runtime(ctx)
    outcome = run_step(rt, version, name, reporter(ctx), force=force, dry_run=dry_run)
    if not dry_run:
        flush_notifications(ctx)
    if isinstance(outcome, DryRun):
        render.say(f"{outcome.version} {outcome.step}: would {outcome.would}")
        if outcome.blocked_by:
            render.say(f"  but it {outcome.blocked_by} (--force runs it anyway)")
        return
    if outcome.status in ("succeeded", "waiting", "skipped"):
        if outcome.detail.startswith("already succeeded"):  # nothing ran, so nothing was reported
            render.say(f"{version} {name}: {outcome.detail}")
        return
    if outcome.status == "lost":
        render.warn(f"thor: {name} is being run by another process")
    raise typer.Exit(ExitCode.STEP_FAILED)


def steps(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show the pipeline: order, milestone, dependencies, type, enabled."""
    from thor_cli.durations import format_duration

    rt = runtime(ctx)
    pipeline = rt.pipeline
    data = [
        {
            "order": index,
            "name": s.name,
            "uses": s.uses,
            "on": s.on,
            "after": list(s.after),
            "enabled": s.enabled,
            "timeout": format_duration(s.timeout),
            "max_attempts": s.max_attempts,
            "retry_after": format_duration(s.retry_after),
        }
        for index, s in enumerate(pipeline.steps, start=1)
    ]
    if as_json:
        render.print_json({"steps": data})
        return
    rows = [
        (
            d["order"],
            d["name"],
            d["uses"],
            (d["on"] or "").replace("_", " "),
            ", ".join(d["after"]),
            "yes" if d["enabled"] else "no",
            d["timeout"],
            d["max_attempts"],
            d["retry_after"],
        )
        for d in data
    ]
    columns = ("#", "Step", "Type", "On", "After", "Enabled", "Timeout", "Attempts", "Retry after")
    render.emit("Pipeline", columns, rows)


def retry(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The release."),
    name: str = typer.Argument(..., help="The failed step."),
) -> None:
    """Re-arm a failed step: the next tick runs it again."""
    from thor_cli.engine.steering import retry as do_retry

    render.say(do_retry(runtime(ctx), version, name))
    flush_notifications(ctx)


def skip(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The release."),
    name: str = typer.Argument(..., help="The step to skip."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the event log)."),
) -> None:
    """Record a deliberate skip: dependants may run."""
    from thor_cli.engine.steering import skip as do_skip

    render.say(do_skip(runtime(ctx), version, name, reason))
    flush_notifications(ctx)


def approve(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The release."),
    name: str = typer.Argument(..., help="The gate step."),
    note: str | None = typer.Option(None, "--note", help="A note kept with the approval."),
) -> None:
    """Approve a gate step."""
    from thor_cli.engine.steering import approve as do_approve

    render.say(do_approve(runtime(ctx), version, name, note))
    flush_notifications(ctx)
