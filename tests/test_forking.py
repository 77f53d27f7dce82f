"""The suite's forked thor processes (tests/forking.py) behave as ``python -m thor_cli`` started afresh: same
output and exit codes, the environment and directory they are given, none of the test process's own Thor
state (failpoint callbacks, children, watchdog), and signals handled as Thor handles them even when the fork
was made from a thread other than the main one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.engine.conftest import JIRA_OFF
from tests.forking import ThorProcess
from tests.support import child_groups_recorded, query, steps_toml, wait_for

NOW = "2021-09-10T09:00"
VERSION = "2021.09"
OTHERS_OFF = {"load-tests": "", "release-notes": "", "merge-stable": ""}


def _config(tmp_path: Path, split_run: str) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'thor.db'}"
    steps = steps_toml(OTHERS_OFF | {"split-branch": f'uses = "command"\nrun = {split_run}'})
    return write_config(tmp_path / "thor.toml", JIRA_OFF + steps, url), url


def _fresh(args: list[str], cwd: Path) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "thor_cli", *args], cwd=cwd, env=dict(os.environ), capture_output=True, text=True
    )
    return done.returncode, done.stdout, done.stderr


def _forked(args: list[str], cwd: Path, **env: str) -> tuple[int, str, str]:
    process = ThorProcess(args, env={**os.environ, **env}, cwd=cwd, new_session=True)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("args", "code"), [(["--version"], 0), (["no-such-command"], 2), (["steps"], 0), (["status", "--json"], 3)]
)
def test_a_fork_answers_as_a_fresh_interpreter(tmp_path: Path, args: list[str], code: int) -> None:
    _config(tmp_path, '["true"]')  # found as ./thor.toml: the fork works in the directory it is given
    expected = _fresh(args, tmp_path)
    assert expected[0] == code, expected
    assert _forked(args, tmp_path) == expected


def test_the_test_process_failpoint_callbacks_stay_behind_the_environment_s_points_are_taken(tmp_path: Path) -> None:
    from thor_cli.engine import failpoints

    config, url = _config(tmp_path, '["true"]')
    failpoints.install("step-claimed", lambda: os._exit(99))  # would end the fork at once, had it kept it
    try:
        killed = _forked(["--config", str(config), "tick", "--now", NOW], tmp_path, THOR_FAILPOINTS="step-claimed=kill")
        ran = _forked(["--config", str(config), "tick", "--now", NOW], tmp_path)
    finally:
        failpoints.clear()
    assert killed[0] == -signal.SIGKILL
    assert ran[0] == 0, ran
    assert query(url, "SELECT status FROM thor_step_run WHERE name = 'split-branch'") == [("succeeded",)]


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGTERM, 143, "thor: interrupted (SIGTERM)"), (signal.SIGHUP, -signal.SIGHUP, "")],
    ids=["thor-handles-it", "default-disposition"],
)
def test_a_fork_made_from_a_thread_takes_signals_as_a_fresh_thor(
    tmp_path: Path, sig: signal.Signals, code: int, said: str
) -> None:
    config, url = _config(tmp_path, '["sh", "-c", "sleep 60"]')
    made: list[ThorProcess] = []
    # The test process ignores the signal; a fresh interpreter would not, nor may the fork.
    previous = signal.signal(sig, signal.SIG_IGN)
    try:
        args = ["--config", str(config), "step", "split-branch", VERSION, "--now", NOW]
        thread = threading.Thread(
            target=lambda: made.append(ThorProcess(args, env=os.environ, cwd=tmp_path, new_session=True))
        )
        thread.start()
        thread.join()
    finally:
        signal.signal(sig, previous)
    process = made[0]
    wait_for(lambda: child_groups_recorded(url, "split-branch") or process.poll() is not None, "the step's child")
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err.strip()) == (code, said)
