"""Steering by hand: ``thor step``, ``thor steps``, ``thor retry``, ``thor skip``, ``thor approve``."""

from __future__ import annotations

import typer

from thor_cli.cli import render
from thor_cli.cli.helptext import command
from thor_cli.cli.options import flush_notifications, reporter, runtime
from thor_cli.cli.render import Col
from thor_cli.errors import ExitCode

STEP_HELP = "The step, like split-branch (`thor steps` lists them)."
VERSION_HELP = "The release, like 2021.09."


def register(app: typer.Typer) -> None:
    command(
        app,
        "step",
        step,
        """
        thor step split-branch 2021.09              run split-branch now
        thor step load-tests 2021.09 --dry-run      say what it would do
        thor step release-notes 2021.09 --force     run it again, redoing its work
        """,
    )
    command(app, "steps", steps, "thor steps\nthor --config thor.toml steps --json")
    command(
        app,
        "retry",
        retry,
        """
        thor retry 2021.09 load-tests               the next tick runs load-tests again
        """,
    )
    command(
        app,
        "skip",
        skip,
        """
        thor skip 2021.09 load-tests --reason "Jenkins is down; tested by hand"
        """,
    )
    command(
        app,
        "approve",
        approve,
        """
        thor approve 2021.09 qa-sign-off --note "QA passed on staging"
        """,
    )


def _looks_like_version(text: str) -> bool:
    return text[:1].isdigit()


def step_and_version(ctx: typer.Context, step_name: str, version: str) -> tuple[str, str]:
    """Accept the arguments in either order when their shapes make it unambiguous: `thor step` takes the step
    first and `retry`/`skip`/`approve` the version first, and people mix them up."""
    pipeline = runtime(ctx).pipeline
    if (
        pipeline.get(step_name) is None
        and pipeline.get(version) is not None
        and _looks_like_version(step_name)
        and not _looks_like_version(version)
    ):
        return version, step_name
    return step_name, version


def step(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="STEP", help=STEP_HELP),
    version: str = typer.Argument(..., metavar="VERSION", help=VERSION_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what it would do; change nothing."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Run it again even if it already succeeded (the step redoes its work), "
        "or before its dependencies have succeeded.",
    ),
) -> None:
    """Run one step of a release now, regardless of the calendar.

    STEP comes first (the other commands take VERSION first; either order works when it is unambiguous).
    """
    from thor_cli.engine.steering import DryRun, run_step

    rt = runtime(ctx)
    name, version = step_and_version(ctx, name, version)
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
    """Show the pipeline in force: order, type, milestone, dependencies."""
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
    columns = (
        Col("#", drop=4),
        Col("Step"),
        Col("Type"),
        Col("On", hide_empty=True),
        Col("After", wrap=True),
        Col("Enabled", short="Use"),
        Col("Timeout", drop=1),
        Col("Attempts", short="Tries", drop=2),
        Col("Retry after", short="Retry", drop=3),
    )
    render.emit("Pipeline", columns, rows)


def retry(
    ctx: typer.Context,
    version: str = typer.Argument(..., metavar="VERSION", help=VERSION_HELP),
    name: str = typer.Argument(..., metavar="STEP", help="The failed (or skipped, or waiting) step."),
) -> None:
    """Re-arm a failed step: the next tick runs it again.

    The step gets a fresh set of attempts; a skipped or waiting step may be re-armed too.
    """
    from thor_cli.engine.steering import retry as do_retry

    name, version = step_and_version(ctx, name, version)
    render.say(do_retry(runtime(ctx), version, name))
    flush_notifications(ctx)


def skip(
    ctx: typer.Context,
    version: str = typer.Argument(..., metavar="VERSION", help=VERSION_HELP),
    name: str = typer.Argument(..., metavar="STEP", help="The step to skip."),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why (kept in the event log)."),
) -> None:
    """Mark a step skipped on purpose: the steps after it may run."""
    from thor_cli.engine.steering import skip as do_skip

    name, version = step_and_version(ctx, name, version)
    render.say(do_skip(runtime(ctx), version, name, reason))
    flush_notifications(ctx)


def approve(
    ctx: typer.Context,
    version: str = typer.Argument(..., metavar="VERSION", help=VERSION_HELP),
    name: str = typer.Argument(..., metavar="STEP", help="The gate step."),
    note: str | None = typer.Option(None, "--note", metavar="TEXT", help="A note kept with the approval."),
) -> None:
    """Approve a manual gate step (also one that timed out)."""
    from thor_cli.engine.steering import approve as do_approve

    name, version = step_and_version(ctx, name, version)
    render.say(do_approve(runtime(ctx), version, name, note))
    flush_notifications(ctx)
