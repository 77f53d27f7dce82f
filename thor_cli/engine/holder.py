"""Who holds a step's lease, precisely enough to prove on the same host that the holder is gone.

A lease records the holder's host, pid, the pid's start time (so a reused pid is not mistaken for the holder)
and the process groups of the children it started. A takeover on the same host may then start at once when the
holder's process no longer exists, after making sure none of its children still run. On another host nothing
can be proved, and the lease's expiry decides.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from dataclasses import dataclass

REAP_LIMIT = 10.0  # seconds to wait for an old holder's process groups to go


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()  # noqa: SIM115
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing one.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    pid_start: str | None
    pgids: tuple[int, ...] = ()

    @classmethod
    def me(cls, pgids: list[int] | tuple[int, ...] = ()) -> Holder:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _start_ticks(pid), tuple(sorted(set(pgids))))

    def dump(self) -> str:
        return json.dumps({"host": self.host, "pid": self.pid, "pid_start": self.pid_start, "pgids": list(self.pgids)})

    @classmethod
    def load(cls, text: str | None) -> Holder | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["host"]), int(data["pid"]), data.get("pid_start"), tuple(data.get("pgids") or ()))
        except (ValueError, KeyError, TypeError):
            return None

    def gone(self) -> str | None:
        """Why this holder is provably gone (a reason to say), or None when it may still be alive."""
        if self.host != socket.gethostname():
            return None
        if self.pid == os.getpid():
            return None  # ourselves: a lease this process lost track of is not proof of anything
        start = _start_ticks(self.pid)
        if start is None:
            return f"its process {self.pid} on {self.host} no longer exists"
        if self.pid_start is not None and start != self.pid_start:
            return f"its process {self.pid} on {self.host} has ended (the pid now belongs to another process)"
        return None

    def reap(self) -> list[int]:
        """Kill what is left of the holder's children (same host only); returns the groups that had to go."""
        if self.host != socket.gethostname():
            return []
        from thor_cli.adapters.children import running_member, signal_group

        killed = [pgid for pgid in self.pgids if running_member(pgid)]
        for pgid in killed:
            signal_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + REAP_LIMIT
        while killed and time.monotonic() < deadline and any(running_member(g) for g in killed):
            time.sleep(0.01)
        return killed
