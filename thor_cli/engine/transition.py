"""The one pure function that decides a step run's next state from what just happened to it.

Everything that ends a turn of a step goes through ``transition``: a result the step reported, a crash found
on recovery (the holder died: SIGKILL, OOM, a reboot), an interruption (Ctrl-C, SIGTERM). It reads nothing and
writes nothing, so every rule about attempts, retries and back-off is in this one place and tested as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from thor_cli.store.models import StepStatus

Happened = Literal["succeeded", "waiting", "failed", "crashed", "interrupted"]


@dataclass(frozen=True)
class Turn:
    """What the engine knows about the turn that just ended."""

    happened: Happened
    detail: str
    attempts: int  # the run's attempt count during the turn (the turn's own attempt included)
    max_attempts: int
    retry_after: timedelta
    was_waiting: bool  # the turn followed work an earlier turn started (a poll), rather than starting it
    poll_after: timedelta | None = None  # waiting: when to look again; None waits for a person
    crashes: int = 0  # crashed: how many turns in a row died with their process, this one included


@dataclass(frozen=True)
class Transition:
    status: StepStatus
    event: str  # the event kind recorded for it
    detail: str
    attempts: int  # the run's attempt count afterwards
    waiting: bool  # the next turn follows started work (poll) instead of starting anew
    next_attempt_at: datetime | None
    finished: bool  # sets finished_at


def transition(turn: Turn, now: datetime) -> Transition:
    if turn.happened == "succeeded":
        return Transition(StepStatus.SUCCEEDED, "succeeded", turn.detail, turn.attempts, False, None, True)
    if turn.happened == "waiting":
        next_at = now + turn.poll_after if turn.poll_after is not None else None
        return Transition(StepStatus.WAITING, "waiting", turn.detail, turn.attempts, True, next_at, False)
    if turn.happened == "interrupted":
        # Stopped from outside, not by its own work: the attempt is not counted. A poll that was interrupted
        # simply polls again; an attempt that was interrupted starts again.
        attempts = turn.attempts if turn.was_waiting else max(turn.attempts - 1, 0)
        status = StepStatus.WAITING if turn.was_waiting else StepStatus.PENDING
        detail = f"{turn.detail} (not counted as an attempt)"
        return Transition(status, "interrupted", detail, attempts, turn.was_waiting, now, False)
    if turn.happened == "crashed" and turn.was_waiting:
        # A poll died with its process (a reboot, an OOM kill): the work it follows goes on, so poll again at
        # once; but a step whose every poll kills its tick must end too.
        if turn.crashes < turn.max_attempts:
            detail = f"{turn.detail}; polling again (crash {turn.crashes} of at most {turn.max_attempts})"
            return Transition(StepStatus.WAITING, "recovered", detail, turn.attempts, True, now, False)
        detail = f"{turn.detail} ({turn.crashes} polls in a row died with their process)"
        return Transition(StepStatus.FAILED, "failed", detail, turn.attempts, False, None, True)
    # A failure, or a crashed attempt (counted like one, so a step that kills its tick every time ends too).
    crashed = turn.happened == "crashed"
    if turn.attempts < turn.max_attempts:
        # A crash is retried by the tick that found it; a failure waits for its back-off.
        retry_at = now if crashed else now + turn.retry_after
        detail = f"attempt {turn.attempts}/{turn.max_attempts} {'crashed' if crashed else 'failed'}: {turn.detail}"
        if retry_at > now:
            detail += f"; retry after {retry_at:%Y-%m-%d %H:%M} UTC"
        event = "recovered" if crashed else "retry"
        return Transition(StepStatus.PENDING, event, detail, turn.attempts, False, retry_at, False)
    detail = turn.detail
    if turn.max_attempts > 1:
        detail = f"{detail} (attempt {turn.attempts} of {turn.max_attempts})"
    return Transition(StepStatus.FAILED, "failed", detail, turn.attempts, False, None, True)
