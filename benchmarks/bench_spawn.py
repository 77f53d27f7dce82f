"""What starting a child costs Thor: ``proc.run`` against a ``preexec_fn`` start and a bare ``vfork`` one.

    python benchmarks/bench_spawn.py [--hold-megabytes 500] [--children 200]

This process first holds HOLD_MEGABYTES of small Python objects (a test worker, or a long ``thor serve``,
is that big; a tick is about 100 MB), then starts ``git --version`` CHILDREN times each way, alternated in
rounds: ``proc.run`` as Thor runs every program (``setpriv`` and the gate of ``adapters/children.py``);
``subprocess.run`` with an empty ``preexec_fn``, which makes Python ``fork()`` the whole process (what
``proc.run`` did before); and a bare ``subprocess.run``, the ``vfork`` floor. It prints the medians per
child and the ratios. Everything printed was measured in this run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from thor_cli.adapters import children, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold-megabytes", type=int, default=500)
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    held = [bytearray(1024) for _ in range(args.hold_megabytes * 1000)]  # about 1.1 KB apiece with the header
    argv = ["git", "--version"]
    ways = {
        "proc.run": lambda: proc.run(argv),
        "preexec_fn": lambda: subprocess.run(
            argv, stdout=subprocess.DEVNULL, start_new_session=True, preexec_fn=lambda: None, check=True
        ),
        "vfork": lambda: subprocess.run(argv, stdout=subprocess.DEVNULL, start_new_session=True, check=True),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_number in range(args.rounds):
        order = list(ways)[round_number % len(ways) :] + list(ways)[: round_number % len(ways)]
        for name in order:
            started = time.perf_counter()
            for _ in range(args.children):
                ways[name]()
            times[name].append((time.perf_counter() - started) / args.children)
    launcher = "setpriv launcher" if children.launcher() else "preexec_fn (no setpriv here)"
    print(f"{len(held):,} objects held; proc.run starts children with: {launcher}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        rounds = ", ".join(f"{v * 1000:.2f}" for v in times[name])
        print(f"  {name:<11} {value * 1000:7.2f} ms a child (rounds: {rounds})")
    print(f"preexec_fn / proc.run: {medians['preexec_fn'] / medians['proc.run']:.1f}x")
    print(f"proc.run / vfork floor: {medians['proc.run'] / medians['vfork']:.2f}x")


if __name__ == "__main__":
    main()
