"""``thor serve`` over real HTTP on 127.0.0.1: uvicorn started by the test in a process of its own, on a free
port it reports; read endpoints with the CLI's keys, token checks on every write, errors as one line of JSON,
and reads answered while a tick is in the middle of a step (held there by the step itself, not by a sleep).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import write_config
from tests.support import at_once, command, dump_tables, dump_text, only, spawn, steps_toml, wait_for

TOKEN = "pm-token-3f9a1c"
VERSION = "2021.09"
NOW = "2021-09-10T09:00"


@dataclass
class Server:
    url: str
    log: Path

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=30)

    def post(
        self, path: str, token: str | None = None, headers: dict[str, str] | None = None, **kw: object
    ) -> requests.Response:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + path, headers=auth | (headers or {}), timeout=30, **kw)  # type: ignore[arg-type]


@contextmanager
def serving(config: Path, token: str | None) -> Iterator[Server]:
    log = config.parent / f"serve-{os.getpid()}-{len(list(config.parent.glob('serve-*')))}.log"
    env = {k: v for k, v in os.environ.items() if k != "THOR_SERVER_TOKEN"} | (
        {"THOR_SERVER_TOKEN": token} if token else {}
    )
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "thor_cli", "--config", str(config), "--now", NOW, "serve", "--port", "0"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: "serving http://" in log.read_text() or process.poll() is not None, "the server to listen")
        assert process.poll() is None, log.read_text()
        line = next(text for text in log.read_text().splitlines() if "serving http://" in text)
        server = Server(line.split("serving ")[1].split("/ ")[0], log)
        wait_for(lambda: _healthy(server), "the server to answer")
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _healthy(server: Server) -> bool:
    try:
        return server.get("/healthz").status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'thor.db'}"


@pytest.fixture
def config(request: pytest.FixtureRequest, tmp_path: Path, run_thor) -> Path:  # type: ignore[no-untyped-def]
    """A release with a gate a PM approves, and a step that holds the tick until the test lets it go. On the
    database the test asks for: the HTTP checks run on SQLite, the concurrent reads on both backends."""
    database_url = request.getfixturevalue("database_url" if "database_url" in request.fixturenames else "sqlite_url")
    hold = (f"import pathlib, time; pathlib.Path({str(tmp_path / 'started')!r}).touch()\n"
            f"while not pathlib.Path({str(tmp_path / 'go')!r}).exists(): time.sleep(0.01)")  # fmt: skip
    steps = {
        **only(),
        "pm-approval": 'uses = "gate"\non = "feature_freeze"\n',
        "held": command(sys.executable, "-c", hold, on="feature_freeze", after=["pm-approval"]),
    }
    path = write_config(tmp_path / "thor.toml", steps_toml(steps), database_url)
    assert run_thor("--config", path, "release", "start", VERSION, "--now", NOW).exit_code == 0
    return path


def test_reads_have_the_cli_keys_and_a_server_without_token_is_read_only(config: Path, run_thor, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    with serving(config, token=None) as server:
        cli = lambda *a: run_thor("--config", config, *a, "--json", "--now", NOW).json()  # noqa: E731
        assert server.get("/api/releases").json() == cli("status")
        detail = server.get(f"/api/releases/{VERSION}").json()
        assert detail == cli("status", VERSION)
        assert server.get(f"/api/releases/{VERSION}/steps").json() == {"version": VERSION, "steps": detail["steps"]}
        assert server.get("/api/calendar").json() == cli("calendar")
        assert server.get("/api/envs").json() == cli("envs")
        health = server.get("/healthz").json()
        assert health["status"] == "ok" and health["writes"] is False
        before = dump_tables(sqlite_url)
        refused = server.post(f"/api/releases/{VERSION}/steps/pm-approval/approve", token=TOKEN)
        assert (refused.status_code, refused.json()) == (
            403, {"error": "this server is read-only: THOR_SERVER_TOKEN is not set"},
        )  # fmt: skip
        assert dump_tables(sqlite_url) == before
        page = server.get(f"/releases/{VERSION}.html")
        assert page.status_code == 200 and "pm-approval" in page.text and "thor.css" in page.text
        assert server.get("/thor.css").headers["content-type"].startswith("text/css")
        assert server.get("/calendar.ics").text.startswith("BEGIN:VCALENDAR")
        assert "Not found" in server.get("/releases/2099.01.html").text


def test_writes_need_the_token_and_go_through_the_engine_as_the_caller(config: Path, run_thor, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    approve = f"/api/releases/{VERSION}/steps/pm-approval/approve"
    with serving(config, token=TOKEN) as server:
        before = dump_tables(sqlite_url)
        for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
            refused = server.post(approve, token=token, json={"note": "ok"})
            assert refused.status_code == 401, token
            assert set(refused.json()) == {"error"} and "\n" not in refused.text
        assert server.post(approve, json={}, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        assert dump_tables(sqlite_url) == before  # nothing changed

        # Bad input: one line of JSON each, the right status, never a traceback.
        cases = {
            "/api/releases/2099.13/steps/pm-approval/approve": 404,  # no such cycle
            "/api/releases/2021.10/steps/pm-approval/approve": 404,  # not started
            f"/api/releases/{VERSION}/steps/no-such-step/approve": 404,
            "/api/releases/bad%20version!/steps/pm-approval/approve": 422,
            "/api/releases/2099.13/start": 404,
        }
        for path, status in cases.items():
            reply = server.post(path, token=TOKEN)
            assert reply.status_code == status, (path, reply.text)
            assert list(reply.json()) == ["error"] and "Traceback" not in reply.text
        assert server.post(approve, token=TOKEN, json={"note": 5}).status_code == 422
        assert (
            server.post(
                approve, token=TOKEN, data="{not json", headers={"Content-Type": "application/json"}
            ).status_code
            == 422
        )
        assert server.get("/api/releases/bad%20version!").status_code == 422
        assert server.get("/api/releases/2021.10").json() == {"error": "release 2021.10 has not started"}
        assert dump_tables(sqlite_url) == before

        ok = server.post(approve, token=TOKEN, json={"note": "looks good"})
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"message": f"{VERSION} pm-approval approved", "by": "server:127.0.0.1"}
        never_ran = server.post(f"/api/releases/{VERSION}/steps/held/retry", token=TOKEN)
        assert never_ran.status_code == 409 and "has not run yet" in never_ran.json()["error"]
        conflict = server.post(f"/api/releases/{VERSION}/steps/pm-approval/retry", token=TOKEN)
        assert conflict.status_code == 409 and "already succeeded" in conflict.json()["error"]
        started = server.post("/api/releases/2021.10/start", token=TOKEN)
        assert started.json() == {"message": "release 2021.10 started", "by": "server:127.0.0.1"}
        steps = {s["name"]: s["status"] for s in server.get(f"/api/releases/{VERSION}").json()["steps"]}
        assert steps == {"pm-approval": "succeeded", "held": "pending"}  # the server never runs a step
        log = server.log.read_text()
    events = run_thor("--config", config, "log", VERSION, "--json").json()["events"]
    approved = [e for e in events if e["kind"] == "approved"]
    assert [(e["actor"], e["message"]) for e in approved] == [
        ("server:127.0.0.1", "approved by server:127.0.0.1: looks good")
    ]
    assert TOKEN not in dump_text(sqlite_url) and TOKEN not in log


def test_reads_are_answered_while_a_tick_is_in_the_middle_of_a_step(
    database_url: str, config: Path, run_thor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert run_thor("--config", config, "approve", VERSION, "pm-approval", "--now", NOW).exit_code == 0
    with serving(config, token=TOKEN) as server:
        tick = spawn(config, "tick", "--now", "2021-09-10T09:30")
        try:
            wait_for(lambda: (tmp_path / "started").exists() or tick.poll() is not None, "the held step to start")
            assert tick.poll() is None, tick.communicate()

            def read() -> tuple[int, str, int]:
                detail = server.get(f"/api/releases/{VERSION}")
                page = server.get(f"/releases/{VERSION}.html")
                held = next(s for s in detail.json()["steps"] if s["name"] == "held")
                return detail.status_code, held["status"], page.status_code

            assert at_once(8, read) == [(200, "running", 200)] * 8  # the tick holds its lease meanwhile
            (tmp_path / "go").touch()
            out, err = tick.communicate(timeout=60)
            assert tick.returncode == 0, (out, err)
        finally:
            if tick.poll() is None:
                os.killpg(tick.pid, signal.SIGKILL)
        steps = {s["name"]: s["status"] for s in server.get(f"/api/releases/{VERSION}/steps").json()["steps"]}
        assert steps == {"pm-approval": "succeeded", "held": "succeeded"}
