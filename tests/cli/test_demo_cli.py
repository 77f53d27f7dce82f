"""`thor demo` at its edges: Ctrl-C, two demos on one directory, a directory that cannot be written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from thor_cli.demo.sandbox import claimed


def test_a_second_demo_on_the_same_directory_is_refused(run_thor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    box = tmp_path / "box"
    with claimed(box):  # a first demo holds the directory
        result = run_thor("demo", "--dir", box, "--setup-only")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"thor: {box} is in use by another `thor demo`: wait for it or use another --dir"
    assert sorted(p.name for p in box.iterdir()) == [".thor-demo.lock"]  # nothing built by the second
    # Once the first is done, the directory can be used (and rebuilt) again.
    assert run_thor("demo", "--dir", box, "--setup-only").exit_code == 0
    assert run_thor("demo", "--dir", box, "--setup-only").exit_code == 0


def test_an_unwritable_directory_is_one_line_exit_2(run_thor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_thor("demo", "--dir", blocker / "sandbox")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"thor: cannot build the demo sandbox in {blocker / 'sandbox'}: Not a directory"
    assert result.stdout == ""


def test_ctrl_c_stops_the_demo_at_once_cleans_up_and_exits_130(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "thor_cli", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None and child.stderr is not None
    seen = []
    for line in child.stdout:  # the named point: the feature-freeze stage has begun
        seen.append(line)
        if line.startswith("── Feature freeze"):
            break
    assert [p.name for p in temp.iterdir() if p.name.startswith("thor-demo-")], "the sandbox exists"
    child.send_signal(signal.SIGINT)
    rest, errors = child.communicate(timeout=60)
    assert child.returncode == 130, (rest, errors)
    assert errors.count("thor: interrupted") == 1, errors
    assert "skipping to the release's status" not in rest
    assert "The release notes" not in rest and "Done in" not in rest
    assert not [p for p in temp.iterdir() if p.name.startswith("thor-demo-")]  # cleaned up
