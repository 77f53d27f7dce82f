"""Helpers shared across the suite (``from tests.support import …``): thor.toml pieces for steps and git
repositories, git kept away from the real home, thor processes started together, and database dumps.

Fixtures stay in tests/conftest.py; this module holds plain functions only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import write_config
from tests.fakes import gitrepos as g
from tests.forking import ThorProcess

T = TypeVar("T")

# The built-in pipeline's steps, in order.
STEP_NAMES = ("create-jira-release", "split-branch", "load-tests", "release-notes", "check-images", "rollout-ci",
              "merge-stable", "check-release-images", "rollout", "mark-released", "announce")  # fmt: skip
# The built-in steps that talk to JIRA or Slack: disabled wherever a test has no fake of them.
# The environment steps (registry, GitOps pull requests) are off with them: they skip themselves anyway without
# [environments], and tests that count steps predate them.
ENVIRONMENT_STEPS = ("check-images", "rollout-ci", "check-release-images", "rollout")
SERVICE_STEPS = ("create-jira-release", "mark-released", "announce", *ENVIRONMENT_STEPS)


# -- thor.toml --------------------------------------------------------------------------------------


def command(*argv: str, **keys: object) -> str:
    """The TOML body of a ``command`` step running ``argv``, plus keys such as ``max_attempts=1``."""
    lines = ['uses = "command"', f"run = {json.dumps(list(argv))}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def steps_toml(steps: dict[str, str]) -> str:
    """``[steps.NAME]`` tables; a body of "" disables the step."""
    return "".join(f"\n[steps.{name}]\n{body or 'enabled = false'}\n" for name, body in steps.items())


def disabled(*names: str) -> str:
    """``[steps.NAME]`` tables with ``enabled = false``: by default the steps that talk to JIRA or Slack."""
    return steps_toml(dict.fromkeys(names or SERVICE_STEPS, ""))


def only(*enabled: str) -> dict[str, str]:
    """Disable every built-in step but these (their bodies can be added by the caller)."""
    return {name: "" for name in STEP_NAMES if name not in enabled}


def repos_toml(root: Path, names: Iterable[str], *, concurrency: int | None = None) -> str:
    """The ``[repos]`` table: these repositories, as bare remotes ``ROOT/OWNER/NAME.git``."""
    listed = ", ".join(json.dumps(n) for n in names)
    body = f'[repos]\nnames = [{listed}]\nurl = "{g.file_url(root)}/{{repo}}.git"\n'
    return body + (f"concurrency = {concurrency}\n" if concurrency is not None else "")


def git_config(tmp_path: Path, names: Iterable[str], steps: str, database_url: str | None = None) -> Path:
    """``tmp_path/thor.toml`` over the bare remotes in ``tmp_path/remotes``: [repos], then ``steps``
    (step tables and any other TOML), then the database (SQLite in ``tmp_path`` unless given)."""
    url = database_url or f"sqlite:///{tmp_path / 'thor.db'}"
    return write_config(tmp_path / "thor.toml", repos_toml(tmp_path / "remotes", names) + steps, url)


# -- git ------------------------------------------------------------------------------------------


def isolate_git(tmp_path: Path, monkeypatch: Any) -> None:
    """Keep git (ours and Thor's, in this process and its children) away from the real home."""
    for key, value in g.isolated_env(tmp_path / "git-home").items():
        monkeypatch.setenv(key, value)
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_COUNT"):
        monkeypatch.delenv(key, raising=False)


# -- processes ------------------------------------------------------------------------------------


def spawn(config: Path, *args: str) -> ThorProcess:
    """`thor --config CONFIG ARGS` in a process and session of its own (so its group can be killed), forked
    from this one with Thor already imported (see tests/forking.py)."""
    return ThorProcess(["--config", str(config), *args], env=os.environ, cwd=config.parent, new_session=True)


def wait_for(predicate: Callable[[], object], what: str = "a condition", timeout: float = 30.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def at_once(count: int, run: Callable[[], T], timeout: float = 120) -> list[T]:
    """Call ``run`` in ``count`` threads released at the same instant (behind a barrier); their results."""
    barrier = threading.Barrier(count, timeout=30)
    results: list[T | None] = [None] * count

    def one(index: int) -> None:
        barrier.wait()
        results[index] = run()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert all(r is not None for r in results), "a thread did not finish"
    return results  # type: ignore[return-value]


# -- the database -----------------------------------------------------------------------------------


def dump_tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (alembic's included), to prove that something wrote nothing."""
    from sqlalchemy import inspect, text

    from thor_cli.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: sorted((tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))), key=repr)
                for table in sorted(inspect(connection).get_table_names())
            }
    finally:
        engine.dispose()


def dump_text(url: str) -> str:
    """``dump_tables`` as text, a row a line: to check that a secret is nowhere in the database."""
    return "\n".join(
        f"{table}: " + " | ".join(map(str, row)) for table, rows in dump_tables(url).items() for row in rows
    )


def query(url: str, sql: str, **params: object) -> list[Any]:
    """The rows of one SELECT."""
    from sqlalchemy import text

    from thor_cli.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params).all())
    finally:
        engine.dispose()


def query_when_ready(url: str, sql: str, **params: object) -> list[Any]:
    """``query`` for a ``wait_for`` predicate polling a database that another process is still creating:
    no rows until the schema exists."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return query(url, sql, **params)
    except SQLAlchemyError:
        return []


def holder_of(url: str, step: str) -> str:
    """The lease holder recorded for ``step`` (JSON text), "" while there is none."""
    rows = query_when_ready(url, "SELECT lease_holder FROM thor_step_run WHERE name = :s", s=step)
    return str(rows[0][0] or "") if rows else ""


def child_groups_recorded(url: str, step: str) -> bool:
    """Whether the holder of ``step`` recorded at least one child process group with its lease."""
    holder = holder_of(url, step)
    return '"pgids": [' in holder and '"pgids": []' not in holder


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            return file.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def repo_results(url: str, step: str) -> dict[str, dict[str, Any]]:
    """What a git step recorded per repository: {repo: {status, sha, detail, data}}."""
    rows = query(url, "SELECT repo, status, sha, detail, data FROM thor_repo_result WHERE step = :step", step=step)
    return {r.repo: {"status": r.status, "sha": r.sha, "detail": r.detail, "data": json.loads(r.data)} for r in rows}


# -- services -------------------------------------------------------------------------------------


def unavailable_within(seconds: float, call: Callable[..., object], *args: object) -> str:
    """``call(*args)`` must raise ServiceUnavailable, in less than ``seconds``; returns its message."""
    import pytest

    from thor_cli.errors import ServiceUnavailable

    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        call(*args)
    assert time.monotonic() - started < seconds
    return str(caught.value)
