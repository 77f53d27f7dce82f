"""Named points in the engine where a test can stop a process, to force one interleaving among many.

Production code calls ``reached(name)`` at a few places where a crash or a race matters (after a claim, after a
push, before a release's status is derived). It costs one dictionary lookup. Tests use it two ways:

- in the same process: ``install(name, callback)`` runs ``callback`` there (a barrier, an event to wait on);
- in a child process: ``THOR_FAILPOINTS=name=hold:DIR`` makes the process create ``DIR/name.reached`` and wait
  until ``DIR/name.go`` exists (bounded: 120 s), so a test can SIGKILL it right there or let it go on;
  ``name=kill`` makes the process kill its own process group with SIGKILL at that point.

Nothing here is reachable without that variable or an installed callback.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

ENV = "THOR_FAILPOINTS"
HOLD_LIMIT = 120.0

_installed: dict[str, Callable[[], None]] = {}


def install(name: str, callback: Callable[[], None]) -> None:
    _installed[name] = callback


def clear() -> None:
    _installed.clear()


def reached(name: str) -> None:
    callback = _installed.get(name)
    if callback is not None:
        callback()
    spec = os.environ.get(ENV)
    if spec:
        _from_env(spec, name)


def _from_env(spec: str, name: str) -> None:
    for item in spec.split(","):
        point, _, action = item.partition("=")
        if point.strip() != name:
            continue
        if action == "kill":
            os.killpg(os.getpgid(0), signal.SIGKILL)
        elif action.startswith("hold:"):
            folder = Path(action[len("hold:") :])
            (folder / f"{name}.reached").write_text(str(os.getpid()))
            deadline = time.monotonic() + HOLD_LIMIT
            go = folder / f"{name}.go"
            while not go.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
