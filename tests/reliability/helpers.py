"""Shared by the reliability suite: thor.toml for the fakes and real git remotes, processes started at the
same instant or killed at a chosen moment, requests held by a fake, and what the outside world recorded.

Everything here is bounded: waits give up with an assertion, held requests let go by themselves. What the
rest of the suite shares too (step tables, git isolation, spawn, wait_for, database dumps) is in tests/support.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import write_config
from tests.fakes import gitrepos as g
from tests.fakes.http import FakeServer, Request, Response
from tests.forking import ThorProcess
from tests.support import at_once, only, spawn, steps_toml

VERSION = "2021.09"  # feature freeze Fri 2021-09-10, code freeze Fri 2021-09-24
BRANCH = "integration202109"
FEATURE_FREEZE = "2021-09-10T09:00"
CODE_FREEZE = "2021-09-24T09:00"
JOB = "gen3-load-tests"
REPOS = ("uc-cdis/fence", "uc-cdis/indexd", "uc-cdis/sheepdog")
# Kinds of events that mark a step's state changes in `thor log` (not its "log" lines).
STEP_EVENTS = frozenset({"started", "recovered", "succeeded", "failed", "retry", "waiting", "skipped"})


# -- git ------------------------------------------------------------------------------------------


def make_remotes(root: Path, names: tuple[str, ...] = REPOS) -> dict[str, Path]:
    """Bare remotes with the default history, each logging every ref a push updates (see ``pushes``)."""
    remotes = {}
    for name in names:
        remote = g.make_remote(root, name)
        hook = remote / "hooks" / "post-receive"
        hook.parent.mkdir(exist_ok=True)
        log = (remote / "pushes.log").resolve()
        hook.write_text(f'#!/bin/sh\nwhile read old new ref; do echo "$ref" >> "{log}"; done\n')
        hook.chmod(0o755)
        remotes[name] = remote
    return remotes


def pushes(remote: Path) -> list[str]:
    """Every ref a push updated in ``remote``, in order (one line per ref per push)."""
    log = remote / "pushes.log"
    return log.read_text().splitlines() if log.exists() else []


def hold_pushes(remote: Path, seconds: float = 20.0) -> Path:
    """Make pushes to ``remote`` hang in a pre-receive hook (then refuse them); returns the file the hook
    creates once a push is being held. The hook is bounded: it rejects the push after ``seconds``."""
    started = (remote / "push-held").resolve()
    hook = remote / "hooks" / "pre-receive"
    steps = int(seconds * 10)
    hook.write_text(
        f'#!/bin/sh\ntouch "{started}"\ni=0\nwhile [ $i -lt {steps} ]; do sleep 0.1; i=$((i+1)); done\n'
        "echo 'held too long' >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    return started


def release_pushes(remote: Path) -> None:
    (remote / "hooks" / "pre-receive").unlink(missing_ok=True)


# -- configuration --------------------------------------------------------------------------------


def services_toml(
    *,
    jira: FakeServer | None = None,
    jenkins: FakeServer | None = None,
    slack: FakeServer | None = None,
    remotes: Path | None = None,
    repos: tuple[str, ...] = REPOS,
    concurrency: int = 8,
    timeout: float = 5,
    extra: dict[str, str] | None = None,
) -> str:
    """The service sections of thor.toml (only those given), pointing at the fakes and the remotes;
    ``extra`` adds lines to a section by name ({"slack": "max_rate_limit_retries = 0"})."""
    sections: dict[str, str] = {}
    if remotes is not None:
        names = ", ".join(json.dumps(n) for n in repos)
        sections["repos"] = (
            f'names = [{names}]\nurl = "{g.file_url(remotes)}/{{repo}}.git"\nconcurrency = {concurrency}\n'
        )
    if jira is not None:
        sections["jira"] = f'url = "{jira.url}"\nproject = "GEN3"\nmax_retries = 0\ntimeout = {timeout}\n'
    if jenkins is not None:
        sections["jenkins"] = f'url = "{jenkins.url}"\ntimeout = {timeout}\n'
    if slack is not None:
        sections["slack"] = f'channel = "releases"\nbase_url = "{slack.url}/api/"\ntimeout = {timeout}\n'
    for name, lines in (extra or {}).items():
        sections[name] = sections.get(name, "") + lines.strip() + "\n"
    return "\n".join(f"[{name}]\n{body}" for name, body in sections.items())


# -- processes ------------------------------------------------------------------------------------


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


def kill(process: ThorProcess) -> Finished:
    """SIGKILL the process and everything it started (git, hooks), then collect what it printed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=30)
    return Finished(process.returncode, stdout, stderr)


def finish(process: ThorProcess, timeout: float = 90) -> Finished:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(process)
        raise AssertionError(f"thor did not finish within {timeout}s") from None
    return Finished(process.returncode, stdout, stderr)


def run_together(config: Path, *args: str, count: int = 4) -> list[Finished]:
    """Start ``count`` identical thor processes at the same instant (threads behind a barrier)."""
    return at_once(count, lambda: finish(spawn(config, *args)))


# -- fakes ------------------------------------------------------------------------------------------


class Hold:
    """Hold the first request a fake receives that ``matches``: before serving it, or (``after``) once it
    has been served but before the answer goes out — the outside world changed, the client has not heard.
    Let go by ``release()`` or after ``seconds``."""

    def __init__(
        self, fake: FakeServer, matches: Callable[[Request], bool], *, after: bool, seconds: float = 30
    ) -> None:
        self.fake, self.matches, self.after, self.seconds = fake, matches, after, seconds
        self.reached = threading.Event()
        self._go = threading.Event()
        self._lock = threading.Lock()
        self._taken = False
        self._serve = fake.handle  # the fake's own bound method; requests look it up on the instance

    def _handle(self, request: Request) -> Response:
        with self._lock:
            mine = not self._taken and self.matches(request)
            self._taken = self._taken or mine
        if not mine:
            return self._serve(request)
        response = self._serve(request) if self.after else None
        self.reached.set()
        self._go.wait(self.seconds)
        return response if response is not None else self._serve(request)

    def __enter__(self) -> Hold:
        self.fake.handle = self._handle  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        self._go.set()
        self.fake.__dict__.pop("handle", None)

    def wait(self, what: str, timeout: float = 30) -> None:
        assert self.reached.wait(timeout), f"timed out waiting for {what}"


def threads_of(slack: Any, channel: str = "releases") -> list[dict[str, Any]]:
    """Top-level messages of the channel: the release threads' first messages."""
    return [m for m in slack.channel_messages(channel) if m.get("thread_ts") in (None, m["ts"])]


def reply_texts(slack: Any, thread: dict[str, Any], channel: str = "releases") -> list[str]:
    return [m["text"] for m in slack.replies(channel, thread["ts"])]


# -- the database -----------------------------------------------------------------------------------


def outbox(url: str) -> list[tuple[str, str | None]]:
    """(status, last_error) of every Slack outbox row, oldest first."""
    from sqlalchemy import text

    from thor_cli.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT status, last_error FROM thor_outbox ORDER BY id"))
            return [(row[0], row[1]) for row in rows]
    finally:
        engine.dispose()


# -- the CLI in this process -----------------------------------------------------------------------


class Cli:
    """``run_thor`` bound to one thor.toml, with readers of what the release looks like."""

    def __init__(self, run_thor: Callable[..., Any], config: Path) -> None:
        self.run_thor, self.config = run_thor, config

    def __call__(self, *args: str) -> Any:
        return self.run_thor("--config", str(self.config), *args)

    def tick(self, now: str, *flags: str) -> Any:
        return self("tick", "--now", now, *flags)

    def status(self) -> dict[str, Any]:
        result = self("status", VERSION, "--json")
        assert result.exit_code == 0, result.stderr
        return result.json()

    def steps(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.status()["steps"]}

    def events(self, step: str | None = None) -> list[dict[str, Any]]:
        result = self("log", VERSION, *([step] if step else []), "--json")
        assert result.exit_code == 0, result.stderr
        return result.json()["events"]

    def transitions(self, step: str) -> list[str]:
        """The kinds of a step's state-changing events, oldest first."""
        return [e["kind"] for e in self.events(step) if e["kind"] in STEP_EVENTS]


def one_step_config(tmp_path: Path, database_url: str, services: str, step: str, body: str) -> Path:
    """``tmp_path/thor.toml``: the ``services`` sections and one step alone (``body`` its table), every
    built-in step but it disabled."""
    return write_config(tmp_path / "thor.toml", services + steps_toml(only(step) | {step: body}), database_url)
