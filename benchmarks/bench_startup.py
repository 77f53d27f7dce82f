"""Start-up cost of the commands cron and people run most, against importing Thor's two base libraries.

    python benchmarks/bench_startup.py [--runs 15] [--releases 1000]

Measures, in one run on this machine: `python -c "import sqlmodel, typer"` (the baseline), `thor tick` with
nothing due, and `thor status` over N stored releases. Prints the median wall time of each and its ratio to
the baseline (target: at most 1.5x).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def median_seconds(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median wall time of each command, run round-robin so that a change in machine load hits all alike."""
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def populate(url: str, count: int) -> None:
    from sqlmodel import Session

    from thor_cli.pipeline import default_steps
    from thor_cli.store import open_store
    from thor_cli.store.models import Release, StepRun

    store = open_store(url)
    steps = list(default_steps())  # the shipped pipeline, so the benchmark follows it
    now = datetime.now(UTC)
    with Session(store.engine) as session:
        for index in range(count):
            feature_freeze = datetime(1950, 1, 13, tzinfo=UTC) + timedelta(days=28 * index)
            release = Release(
                version=f"r{index:05d}",
                feature_freeze=feature_freeze,
                code_freeze=feature_freeze + timedelta(days=14),
                integration_branch=f"integration{index}",
                stable_branch="stable",
                status="released",
                created_at=now,
                updated_at=now,
            )
            session.add(release)
            session.flush()
            for name in steps:
                session.add(StepRun(release_id=release.id, name=name, status="succeeded", attempts=1, updated_at=now))
        session.commit()
    store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--releases", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'thor.db'}"
        populate(url, args.releases)
        env = {**os.environ, "THOR_DATABASE_URL": url, "HOME": tmp, "XDG_DATA_HOME": tmp}
        env.pop("THOR_CONFIG", None)
        python = sys.executable
        # Two days before a feature freeze: nothing is due.
        commands = {
            "baseline": [python, "-c", "import sqlmodel, typer"],
            "tick": [python, "-m", "thor_cli", "tick", "--now", "2021-09-08T12:00"],
            "status": [python, "-m", "thor_cli", "status"],
        }
        median_seconds(commands, env, 1)  # warm the file cache: the first runs are outliers
        result = median_seconds(commands, env, args.runs)
    baseline, tick, status = result["baseline"], result["tick"], result["status"]
    print(f"baseline  import sqlmodel, typer          {baseline * 1000:7.1f} ms")
    print(f"thor tick (nothing due)                   {tick * 1000:7.1f} ms  ratio {tick / baseline:.2f}x")
    print(f"thor status ({args.releases} releases)          {status * 1000:7.1f} ms  ratio {status / baseline:.2f}x")
    print("target: ratio <= 1.50x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
