"""``thor status [VERSION]`` and ``thor log VERSION [STEP]``."""

from __future__ import annotations

import textwrap

import typer

from thor_cli.cli import render
from thor_cli.cli.options import runtime


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("log")(log)


def status(
    ctx: typer.Context,
    version: str | None = typer.Argument(None, help="One release's steps; all releases when omitted."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show every release, or one release's steps."""
    from thor_cli.status import release_detail, releases_overview

    rt = runtime(ctx)
    if version is None:
        releases = releases_overview(rt)
        if as_json:
            render.print_json({"releases": releases})
            return
        if not releases:
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
        columns = ("Version", "Codename", "Status", "Feature freeze", "Code freeze", "Steps", "Next step")
        render.emit("Releases", columns, rows)
        return
    detail = release_detail(rt, version)
    if as_json:
        render.print_json(detail)
        return
    title = f"{detail['version']} {detail['codename'] or ''}".strip()
    heading = (
        f"{title} — {detail['status']} — feature freeze {detail['feature_freeze']}, "
        f"code freeze {detail['code_freeze']}" + (" (rescheduled)" if detail["rescheduled"] else "")
    )
    rows = [
        (
            s["name"],
            render.status_text(s["status"]),
            s["attempts"],
            _short(s["started_at"]),
            _short(s["finished_at"]),
            s["detail"] + (f"\n{s['link']}" if s["link"] else ""),
        )
        for s in detail["steps"]
    ]
    columns = ("Step", "Status", "Attempts", "Started (UTC)", "Finished (UTC)", "Detail / link")
    render.emit(heading, columns, rows)
    if detail.get("environments"):
        from thor_cli.cli.envs_cmd import rollout_rows

        render.emit("Environments", ("Environment", "Step", "Rollout", "Pull request", "Approvals", "Owner"),
                    rollout_rows(detail["environments"]))  # fmt: skip
    if detail["hotfixes"]:
        render.emit(
            "Hotfixes",
            ("At (UTC)", "By", "What"),
            [(_short(h["at"]), h["actor"], h["message"]) for h in detail["hotfixes"]],
        )
    undelivered = detail["undelivered_messages"]
    if undelivered:
        count = len(undelivered)
        render.warn(
            f"thor: {count} Slack message{'s' if count > 1 else ''} could not be delivered for {detail['version']}: "
            f"{undelivered[0]['error']} (see `thor status {detail['version']} --json`)"
        )


def log(
    ctx: typer.Context,
    version: str = typer.Argument(..., help="The release."),
    step: str | None = typer.Argument(None, help="Only this step's events."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show a release's event log, with captured output."""
    from thor_cli.status import event_log

    rt = runtime(ctx)
    if step is not None and rt.pipeline.get(step) is None:
        from thor_cli.errors import UsageError

        raise UsageError(f"unknown step {step!r} (steps: {', '.join(rt.pipeline.names)})")
    entries = event_log(rt, version, step)
    if as_json:
        render.print_json({"version": version, "events": entries})
        return
    for entry in entries:
        where = f" {entry['step']}" if entry["step"] else ""
        render.say(f"{entry['at']}{where} [{entry['kind']}] {entry['message']} ({entry['actor']})")
        if entry["output"]:
            render.say(textwrap.indent(entry["output"].rstrip(), "    "))


def _short(iso: str | None) -> str:
    """2021-09-10T00:00:00+00:00 → 2021-09-10 00:00 (UTC) for the table; JSON keeps the full form."""
    return iso[:16].replace("T", " ") if iso else ""
