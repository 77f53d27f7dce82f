"""``[report] dir``: after a tick that changed something, rewrite the board. A quiet tick touches nothing.

Light on purpose: ``thor tick`` imports this module every time, and Jinja2 only when a site is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thor_cli.errors import ThorError

if TYPE_CHECKING:
    from thor_cli.engine.tick import TickReport
    from thor_cli.runtime import Runtime


def changed(report: TickReport) -> bool:
    """Whether the tick started a release or moved a step (a step another process claimed first is not ours)."""
    return bool(report.started) or any(outcome.status != "lost" for outcome in report.outcomes)


def after_tick(rt: Runtime, report: TickReport, warn) -> None:  # type: ignore[no-untyped-def]
    """Rewrite the configured site when the tick changed something; a failure is one line, never the tick's."""
    directory = rt.settings.config.report.dir
    if directory is None or not changed(report):
        return
    from thor_cli.report.build import write_site

    try:
        write_site(rt, rt.settings.resolve(directory))
    except ThorError as exc:
        warn(f"thor: report not written: {exc.message}")
