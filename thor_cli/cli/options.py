"""The global options, and building the runtime from them once per command."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from thor_cli.engine.reporting import Reporter
    from thor_cli.runtime import Runtime


@dataclass
class GlobalOptions:
    config: str | None = None
    now: str | None = None
    verbose: bool = False
    quiet: bool = False
    _runtime: Runtime | None = field(default=None, repr=False)


def options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


# Commands that only read: they open the database read-only and never create or migrate it (nor does any
# command run with --dry-run). `thor doctor` builds its own read-only runtime (thor_cli/doctor.py).
READ_ONLY_COMMANDS = frozenset({"status", "log", "steps", "calendar", "notes", "doctor"})


def writes(ctx: typer.Context) -> bool:
    """Whether this command may write to the database (and so create or migrate it)."""
    path = ctx.command_path.split()[1:]  # "thor status" -> ["status"]
    if ctx.params.get("dry_run"):
        return False
    return not (path and path[0] in READ_ONLY_COMMANDS)


def runtime(ctx: typer.Context) -> Runtime:
    from thor_cli.runtime import Runtime

    opts = options(ctx)
    if opts._runtime is None:
        opts._runtime = Runtime.create(
            opts.config, opts.now, verbose=opts.verbose, quiet=opts.quiet, writable=writes(ctx)
        )
        ctx.call_on_close(opts._runtime.close)
        # Every command checks the whole configuration the same way (pipeline and what it points to, like the
        # codenames file), so `thor steps` cannot pass a file that `thor calendar` then refuses.
        opts._runtime.validate()
    return opts._runtime


def reporter(ctx: typer.Context) -> Reporter:
    """Step transitions to stdout (what cron mails), details to stderr with --verbose."""
    from thor_cli.engine.reporting import Reporter

    opts = options(ctx)

    def say(line: str) -> None:
        if not opts.quiet:
            print(line, flush=True)

    def debug(line: str) -> None:
        if opts.verbose:
            print(line, file=sys.stderr, flush=True)

    return Reporter(say=say, debug=debug, interactive=sys.stderr.isatty() and not opts.quiet)


def flush_notifications(ctx: typer.Context) -> None:
    """Send what a hand-run command queued, so Slack need not wait for the next tick; failures wait there."""
    from thor_cli import notify

    report = notify.flush(runtime(ctx))
    if report.error and options(ctx).verbose:
        print(f"notifications delayed: {report.error}", file=sys.stderr)
