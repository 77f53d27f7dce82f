"""``[report] dir`` after a tick, and start-up: ``thor status`` and a quiet ``thor tick`` never import the
template engine or the web framework; a tick that changed something does load Jinja2 (the control)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_config
from tests.support import command, only, steps_toml

HEAVY = ("jinja2", "markdown_it", "fastapi", "starlette", "uvicorn")
PROBE = """
import json, sys
from thor_cli.cli import main
heavy = set(json.loads(sys.argv[1]))
for argv in json.loads(sys.argv[2]):  # one after the other, in one fresh interpreter, as cron would run them
    code = main(argv)
    loaded = sorted({name.split(".")[0] for name in sys.modules} & heavy)
    print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def small_config(tmp_path: Path) -> Path:
    """One command step on feature-freeze day; no git, no services: what a tick changes is cheap."""
    steps = {**only(), "hello": command("python3", "-c", "print('hello')", on="feature_freeze")}
    return write_config(tmp_path / "thor.toml", '[report]\ndir = "site"\n' + steps_toml(steps),
                        f"sqlite:///{tmp_path / 'thor.db'}")  # fmt: skip


def probe(config: Path, *commands: list[str]) -> list[dict[str, object]]:
    """Run ``commands`` in one new interpreter; after each, its exit code and the heavy modules loaded so far."""
    argvs = [["--config", str(config), *command] for command in commands]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(argvs)],
        capture_output=True, text=True, timeout=120, cwd=config.parent,
    )  # fmt: skip
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]


def test_status_and_a_quiet_tick_stay_light_a_busy_tick_writes_the_report(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    quiet, status, busy = probe(
        config,
        ["tick", "--now", "2021-09-01"],  # nothing due
        ["status", "--now", "2021-09-01"],
        ["tick", "--now", "2021-09-10T09:00"],  # the release starts: the report is written
    )
    assert quiet == {"code": 0, "loaded": []} and status == {"code": 0, "loaded": []}
    assert busy["code"] == 0 and "jinja2" in busy["loaded"]  # type: ignore[operator]  (the probe can see it)
    assert "fastapi" not in busy["loaded"] and "uvicorn" not in busy["loaded"]  # type: ignore[operator]
    assert "2021.09" in (tmp_path / "site" / "index.html").read_text()
    (after,) = probe(config, ["status", "2021.09", "--now", "2021-09-10T10:00"])
    assert after == {"code": 0, "loaded": []}


def test_a_report_that_cannot_be_written_is_one_line_and_the_tick_still_counts(run_thor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = small_config(tmp_path)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "mine.txt").write_text("not Thor's")
    result = run_thor("--config", config, "tick", "--now", "2021-09-10T09:00")
    assert result.exit_code == 0
    assert "2021.09 hello: succeeded" in result.stdout
    assert result.stderr == (
        f"thor: report not written: cannot write the report to {tmp_path / 'site'}: "
        "it is a non-empty directory Thor did not create\n"
    )
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["mine.txt"]


def test_report_section_is_validated_and_report_needs_somewhere_to_write(run_thor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = write_config(tmp_path / "bad.toml", '[report]\ndirectory = "site"\n')
    result = run_thor("--config", bad, "report")
    assert (result.exit_code, result.stderr) == (2, f"thor: {bad}: unknown key 'report.directory'\n")
    plain = write_config(tmp_path / "thor.toml", "", f"sqlite:///{tmp_path / 'thor.db'}")
    result = run_thor("--config", plain, "report")
    assert (result.exit_code, result.stderr) == (2, "thor: where to? give --out DIR or set [report] dir in thor.toml\n")
    assert not (tmp_path / "thor.db").exists()  # refused before the database was opened


def test_serve_on_a_port_in_use_is_one_line(run_thor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import socket

    config = write_config(tmp_path / "thor.toml", "", f"sqlite:///{tmp_path / 'thor.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_thor("--config", config, "serve", "--port", str(port))
    assert result.exit_code == 2
    assert result.stderr == f"thor: cannot listen on 127.0.0.1:{port}: Address already in use\n"
