"""The subprocess funnel (``adapters/proc.py``): bounded waits, bounded output, no secret in a child's
environment, and no child outliving the process that started it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from thor_cli.adapters import children, proc
from thor_cli.adapters.capture import CUT_MARGIN, HEAD_BYTES, TAIL_BYTES
from thor_cli.errors import CommandError

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, seconds: float = 10.0, what: str = "condition"):
    """Poll ``condition`` until it is truthy; a bounded wait on a condition, never a fixed sleep."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def pids_in(path: Path, count: int) -> list[int]:
    lines = path.read_text().split() if path.exists() else []
    return [int(x) for x in lines] if len(lines) >= count else []


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def test_a_timeout_returns_at_once_even_when_a_grandchild_escaped_into_its_own_session(tmp_path):
    # The old second communicate() waited for the escaped `sleep 30` to close the pipe: 30 s, not 1.
    pidfile = tmp_path / "escaped"
    script = f'setsid sh -c "echo \\$\\$ > {pidfile}; exec sleep 30" & sleep 60'
    started = time.monotonic()
    with pytest.raises(CommandError) as info:
        proc.run(["sh", "-c", script], timeout=1)
    elapsed = time.monotonic() - started
    assert elapsed < 1 + proc.KILL_WAIT + 2 * proc.DRAIN_GRACE
    assert "timed out after 1s" in info.value.message
    assert "kept its output open" in info.value.message  # what really happened, said
    (escaped,) = pids_in(pidfile, 1)
    wait_for(lambda: not running(escaped), what="the escaped process to be killed")


def test_a_program_that_exits_0_is_a_success_even_with_a_background_child_holding_its_output(tmp_path):
    # Old: reported as "timed out after 10s" after waiting the whole 10 seconds for `sleep 30`.
    started = time.monotonic()
    result = proc.run(["sh", "-c", "sleep 30 & echo $!; echo done"], timeout=10)
    assert time.monotonic() - started < 5
    assert result.returncode == 0
    background, done = result.stdout.split()
    assert done == "done"
    assert "background process it left running was stopped" in result.note
    wait_for(lambda: not running(int(background)), what="the background child to be stopped")
    assert proc.live_process_groups() == []


def test_output_is_kept_as_a_bounded_head_and_tail_while_it_streams():
    # 50 MB of output: the old communicate() held all of it (and then redacted all of it).
    size = 50 * 1024 * 1024
    code = textwrap.dedent(
        f"""
        import sys
        out = sys.stdout.buffer
        out.write(b"FIRST LINE\\n")
        block = (b"x" * 1023 + b"\\n") * 1024
        for _ in range({size} // len(block)):
            out.write(block)
        out.write(b"LAST LINE\\n")
        """
    )
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = proc.run([sys.executable, "-c", code], merge_stderr=True, timeout=60)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes for {size} bytes of output"
    assert result.stdout.startswith("FIRST LINE\n") and result.stdout.rstrip().endswith("LAST LINE")
    assert f"the middle of {size + 21:,} bytes of output left out" in result.stdout
    assert len(result.stdout) <= HEAD_BYTES + TAIL_BYTES + 200
    assert len(proc.tail(result.output)) == len(result.output)  # what proc keeps fits what is stored
    assert elapsed < 30
    unbroken = proc.run([sys.executable, "-c", "print('x' * 1_000_000, end='')"]).stdout
    assert "left out" in unbroken and len(proc.tail(unbroken)) == len(unbroken)


def test_a_secret_cut_in_half_at_either_edge_of_the_kept_output_never_shows(monkeypatch):
    token = "ghs_" + "S3cr3tT0k3n" * 3
    monkeypatch.setenv("THOR_GITHUB_TOKEN", token)
    total = 200_000
    head_edge = HEAD_BYTES + CUT_MARGIN - len(token) // 2  # the token straddles the end of the head
    tail_edge = total - (TAIL_BYTES + CUT_MARGIN) - len(token) // 2  # and the start of the tail
    code = textwrap.dedent(
        f"""
        import os, sys
        token = os.environ["TOKEN"]
        text = ["y"] * {total}
        for at in ({head_edge}, {tail_edge}):
            text[at:at + len(token)] = token
        sys.stdout.write("".join(text)[:{total}])
        """
    )
    # The token reaches the program explicitly (env) and is named as a secret, as a command step passes one.
    result = proc.run([sys.executable, "-c", code], env={"TOKEN": token}, secrets=[token])
    assert "left out" in result.stdout
    for piece in (token[i : i + 8] for i in range(len(token) - 8)):
        assert piece not in result.stdout


def test_the_childs_environment_never_holds_thors_secrets(monkeypatch):
    for name, value in {
        "THOR_GITHUB_TOKEN": "tok-github-123456",
        "THOR_JIRA_TOKEN": "tok-jira-123456",
        "THOR_SLACK_TOKEN": "xoxb-123456-abcdef",
        "THOR_DATABASE_URL": "postgresql://thor:dbpass-123456@db/thor",
        "THOR_EXTRA_TOKEN": "tok-extra-123456",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("THOR_HARMLESS", "kept")
    names = {line.partition("=")[0] for line in proc.run(["env"]).stdout.splitlines()}
    assert {"THOR_GITHUB_TOKEN", "THOR_JIRA_TOKEN", "THOR_SLACK_TOKEN", "THOR_DATABASE_URL"}.isdisjoint(names)
    assert "THOR_EXTRA_TOKEN" not in names
    assert "THOR_HARMLESS" in names and "PATH" in names


def test_terminate_children_stops_every_group_term_first_then_kill(tmp_path):
    ready = tmp_path / "ready"
    stubborn = f'trap "" TERM; echo $$ > {ready}; while :; do sleep 0.05; done'
    errors: list[BaseException] = []

    def run() -> None:
        try:
            proc.run(["sh", "-c", stubborn], timeout=60)
        except BaseException as exc:  # the thread hands it to the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    (pid,) = wait_for(lambda: pids_in(ready, 1), what="the child to start")
    # Its own session: group id == its pid; registered once Popen has returned in the thread.
    wait_for(lambda: pid in proc.live_process_groups(), what="the group to be registered")
    started = time.monotonic()
    proc.terminate_children(grace=0.3)
    assert time.monotonic() - started < 0.3 + 1.5
    thread.join(10)
    assert not thread.is_alive()
    assert not running(pid)
    assert isinstance(errors[0], CommandError) and "SIGKILL" in errors[0].message
    assert proc.live_process_groups() == []


HELPER = """
import sys
sys.path.insert(0, {root!r})
from thor_cli.adapters import proc
proc.run(["sh", "-c", "echo $$ > {pids}; sleep 60 & echo $! >> {pids}; wait"], timeout=120, quick={quick})
"""


@pytest.mark.parametrize("start", ["setpriv launcher", "preexec_fn", "quick"])
def test_children_of_a_sigkilled_process_do_not_survive_it(tmp_path, start):
    # A tick (here a small Python process) SIGKILLed while its command runs: with the old proc.run both the
    # shell and its `sleep 60` kept running in their own session, and a takeover would start a second copy.
    # Every way of starting a child is covered: a PATH without setpriv takes the preexec_fn one, and a
    # ``quick`` child (no launcher, no pdeathsig) is stopped by the watchdog alone.
    env = dict(os.environ)
    if start == "preexec_fn":
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for program in ("sh", "sleep"):
            (bin_dir / program).symlink_to(shutil.which(program))
        env["PATH"] = str(bin_dir)
    elif shutil.which("setpriv") is None:
        pytest.skip("util-linux setpriv is not installed")
    pids = tmp_path / "pids"
    helper = tmp_path / "tick.py"
    helper.write_text(HELPER.format(root=str(ROOT), pids=pids, quick=start == "quick"))
    tick = subprocess.Popen([sys.executable, str(helper)], env=env)
    try:
        shell, sleeper = wait_for(lambda: pids_in(pids, 2), what="the command and its child to start")
        assert running(shell) and running(sleeper)
        os.kill(tick.pid, signal.SIGKILL)
        assert tick.wait(10) == -signal.SIGKILL
        wait_for(lambda: not running(shell) and not running(sleeper), what="the tick's children to die")
    finally:
        if tick.poll() is None:
            tick.kill()
            tick.wait()
        for pid in pids_in(pids, 1):
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_launched_child_runs_its_program_only_once_released(tmp_path):
    # The launcher's gate: until Thor has told the watchdog the group (``release``) the program does not
    # run, and a Thor that dies before that (its end of the pipe closes) leaves nothing running.
    launcher = children.launcher()
    if launcher is None:
        pytest.skip("util-linux setpriv is not installed")
    marker = tmp_path / "ran"
    child = subprocess.Popen(
        [*launcher, "sh", "-c", f"echo yes > {marker}"], stdin=subprocess.PIPE, start_new_session=True
    )
    child.stdin.close()  # what Thor's death does to the pipe
    assert child.wait(10) == 125
    assert not marker.exists()
    child = subprocess.Popen([*launcher, "cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    children.release(child)
    out, _ = child.communicate(b"the rest is the program's\n", timeout=10)
    assert out == b"the rest is the program's\n"


def test_exit_status_and_missing_programs_read_plainly(tmp_path):
    with pytest.raises(CommandError) as info:
        proc.run(["sh", "-c", "kill -9 $$"])
    assert "exited on signal SIGKILL" in info.value.message
    with pytest.raises(CommandError) as info:
        proc.run(["no-such-program-xyz"])
    assert info.value.message == "program not found: no-such-program-xyz"
    with pytest.raises(CommandError) as info:
        proc.run([str(tmp_path / "no-such-program")])
    assert info.value.message == f"program not found: {tmp_path / 'no-such-program'}"
    (tmp_path / "plain").write_text("#!/bin/sh\n")
    with pytest.raises(CommandError) as info:
        proc.run([str(tmp_path / "plain")])
    assert info.value.message == f"program not executable: {tmp_path / 'plain'}"
    (tmp_path / "tool").write_text("#!/bin/sh\necho from cwd\n")
    (tmp_path / "tool").chmod(0o755)
    assert proc.run(["./tool"], cwd=tmp_path).stdout == "from cwd\n"  # a relative path is the child's
    with pytest.raises(CommandError) as info:
        proc.run(["true"], cwd=tmp_path / "missing")
    assert info.value.message.startswith("working directory not found")
    assert proc.run(["cat"], input="z" * 300_000, full_stdout=True).stdout == "z" * 300_000


def _has_pidfd_for(pid: int) -> bool:
    """Whether this process holds a pidfd for ``pid`` (``proc.run`` opens one to wait for its program)."""
    for name in os.listdir("/proc/self/fdinfo"):
        try:
            if f"\nPid:\t{pid}\n" in Path(f"/proc/self/fdinfo/{name}").read_text():
                return True
        except OSError:
            continue
    return False


def test_a_program_whose_exit_status_another_waiter_took_ends_the_wait_at_once(tmp_path):
    # Seen under four test workers: a stale Popen of a reused pid reaped a git push, Popen.poll() kept
    # answering None, and proc.run waited for the whole 600 s timeout for a program long gone. Here another
    # waiter takes the status while Popen's own waitpid lock is held, so poll() cannot tell either.
    go = tmp_path / "go"
    returned = threading.Event()
    helpers: list[threading.Thread] = []

    def other_waiter(process: subprocess.Popen) -> None:
        wait_for(lambda: _has_pidfd_for(process.pid), what="proc.run to wait on its pidfd")
        go.write_text("")
        os.waitpid(process.pid, 0)  # the status is gone
        returned.wait(30)
        process._waitpid_lock.release()  # the lock Popen.poll() checks (stdlib): held, poll() returns None

    def listener(pgid: int) -> None:
        process = children._live[pgid]
        process._waitpid_lock.acquire()
        helper = threading.Thread(target=other_waiter, args=(process,))
        helper.start()
        helpers.append(helper)

    proc.add_spawn_listener(listener)
    started = time.monotonic()
    try:
        result = proc.run(["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done; exit 3"], timeout=60, check=False)
    finally:
        returned.set()
        proc.remove_spawn_listener(listener)
        for helper in helpers:
            helper.join(30)
    assert time.monotonic() - started < 10
    assert result.returncode == proc.LOST_STATUS
    assert "exit status was collected elsewhere" in result.note
    assert proc.live_process_groups() == []
