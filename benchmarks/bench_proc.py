"""What a program's output costs Thor: time and memory of ``proc.run`` on a large output, and redaction.

    python benchmarks/bench_proc.py --megabytes 200

Runs a child that prints MEGABYTES of text lines through ``thor_cli.adapters.proc.run`` (as a ``command``
step does) and prints the wall time, the peak resident memory of this process and how much output was kept;
then times ``redact`` on 80,000 letters without a break. Everything printed was measured in this run.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from thor_cli.adapters import proc
from thor_cli.secrets import redact

EMIT = """
import sys
line = b"line of output 0123456789 " * 40 + b"\\n"
block = line * ((1 << 20) // len(line))
for _ in range(int(sys.argv[1])):
    sys.stdout.buffer.write(block)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    result = proc.run([sys.executable, "-c", EMIT, str(args.megabytes)], merge_stderr=True, timeout=600)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{args.megabytes} MB of output: {elapsed:.2f} s, peak RSS {peak} MB, kept {len(result.output):,} chars")
    text = "a" * 80_000
    started = time.perf_counter()
    redact(text)
    print(f"redact 80,000 letters: {time.perf_counter() - started:.4f} s")


if __name__ == "__main__":
    main()
