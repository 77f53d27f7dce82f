"""Cutting and merging release branches across many repositories of real size: Thor, the old way, the floor.

    python benchmarks/bench_git.py --repos 30 --rounds 3

Three ways, measured in one run and alternated (the order rotates each round, so a change in the machine's
load touches all of them alike), each on fresh copies of the same repositories:

- Thor: ``thor step split-branch`` then ``thor step merge-stable``, the real command line with an SQLite
  database, ``--workers`` repositories at a time;
- old: the scripts Thor replaced: for each repository in turn, ``git clone``, ``git checkout -b``, ``git push``;
  then ``git clone``, ``git merge --no-ff``, ``git tag -a``, ``git push``;
- floor: ``floor_git.py``, a bare-bones parallel script doing the least transfer the same work allows;
- before (with ``--before-src DIR``): Thor's commands run from another source tree, e.g. an earlier commit
  exported with ``git archive COMMIT thor_cli | tar -x -C DIR``, to compare a change in the same run.

The repositories (``repo_shapes.py``) are of Gen3's size and shape: about 3,000 commits, 250-500 files in
nested folders, pull request merges, release tags, stable 30-60 merges behind master, and in a third of
them a hotfix merged on stable, so the release needs a real merge there. They are generated once into the
cache (``--cache-dir``, default ``$XDG_CACHE_HOME/thor-bench-git``) and hard-linked into a temporary
directory for every measurement, served over file:// like GitHub serves them (partial and by-SHA fetches
allowed). Git runs with a throw-away HOME, so the machine's git configuration plays no part. ``--profile``
adds one traced Thor round and prints where its time went, per git command, on Thor's side and the
remote's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import repo_shapes as shapes

VERSION, FEATURE_FREEZE, CODE_FREEZE = "2021.09", "2021-09-10T09:00", "2021-09-24T09:00"
DISABLED = ("create-jira-release", "load-tests", "release-notes", "mark-released", "announce")
FLOOR = Path(__file__).resolve().parent / "floor_git.py"


def sh(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout)[-800:]
        raise RuntimeError(f"{' '.join(map(str, args))} exited {done.returncode}: {reason}")
    return done.stdout


class Run:
    """One way's measurement on fresh copies of the remotes, in its own directory."""

    def __init__(self, root: Path, cache: shapes.RepoCache, specs: list[shapes.RepoSpec], workers: int) -> None:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        self.root, self.specs, self.workers = root, specs, workers
        self.remotes = cache.materialise(specs, root / "remotes")
        self.urls = [r.as_uri() for r in self.remotes]

    def thor_config(self) -> Path:
        names = ", ".join(json.dumps(s.name) for s in self.specs)
        text = f'[database]\nurl = "sqlite:///{self.root / "thor.db"}"\n\n'
        text += f'[repos]\nnames = [{names}]\nurl = "{(self.root / "remotes").as_uri()}/{{repo}}.git"\n'
        text += f"concurrency = {self.workers}\n"
        text += "".join(f"\n[steps.{name}]\nenabled = false\n" for name in DISABLED)
        path = self.root / "thor.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def thor(self, *args: str, env: dict[str, str] | None = None) -> None:
        config = self.thor_config()
        out = sh(sys.executable, "-m", "thor_cli", "--config", config, *args, cwd=self.root, env=env)
        if "failed" in out:
            raise RuntimeError(f"thor {' '.join(args)}: {out}")


def timed(func) -> float:  # type: ignore[no-untyped-def]
    os.sync()  # the copies' writes reach the disk first: they would slow the measurement down
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def measure_thor(run: Run, env: dict[str, str] | None = None) -> tuple[float, float]:
    run.thor("release", "start", VERSION, "--now", FEATURE_FREEZE, env=env)
    cut = timed(lambda: run.thor("step", "split-branch", VERSION, "--now", FEATURE_FREEZE, env=env))
    merge = timed(lambda: run.thor("step", "merge-stable", VERSION, "--now", CODE_FREEZE, env=env))
    check(run, "integration202109", VERSION)
    return cut, merge


def measure_floor(run: Run) -> tuple[float, float]:
    cut = timed(lambda: sh(sys.executable, FLOOR, "cut", str(run.workers), *run.urls))
    merge = timed(lambda: sh(sys.executable, FLOOR, "merge", str(run.workers), *run.urls))
    check(run, "integration-floor", "floor-2021.09")
    return cut, merge


def measure_old(run: Run) -> tuple[float, float]:
    work = run.root / "work"

    def cut() -> None:
        for i, url in enumerate(run.urls):
            clone = work / f"cut{i}"
            sh("git", "clone", "--quiet", url, clone)
            sh("git", "-C", clone, "checkout", "--quiet", "-b", "integration-old")
            sh("git", "-C", clone, "push", "--quiet", "origin", "integration-old")
            shutil.rmtree(clone)

    def merge() -> None:
        for i, url in enumerate(run.urls):
            clone = work / f"merge{i}"
            sh("git", "clone", "--quiet", "--branch", "stable", url, clone)
            message = "Merge branch 'integration-old' into stable"
            sh("git", "-C", clone, "merge", "--quiet", "--no-ff", "-m", message, "origin/integration-old")
            sh("git", "-C", clone, "tag", "-a", "-m", "Gen3 Core Release 2021.09", "old-2021.09")
            sh("git", "-C", clone, "push", "--quiet", "origin", "stable", "old-2021.09")
            shutil.rmtree(clone)

    result = timed(cut), timed(merge)
    check(run, "integration-old", "old-2021.09")
    return result


def check(run: Run, branch: str, tag: str) -> None:
    """Every repository merged and tagged: stable contains the branch and carries the tag."""
    for remote in run.remotes:
        git = ("git", "--git-dir", remote)
        stable = sh(*git, "rev-parse", "stable").strip()
        assert sh(*git, "rev-parse", f"{tag}^{{commit}}").strip() == stable, (remote, tag)
        sh(*git, "merge-base", "--is-ancestor", branch, "stable")


def measure_before(run: Run) -> tuple[float, float]:
    """Thor as it was: the same commands with another source tree first on the path (``--before-src``)."""
    return measure_thor(run, env={**os.environ, "PYTHONPATH": BEFORE_SRC[0]})


BEFORE_SRC: list[str] = []
WAYS = {"thor": measure_thor, "floor": measure_floor, "old": measure_old, "before": measure_before}


def profile(run: Run) -> dict[str, dict[str, tuple[int, float]]]:
    """One Thor round with every git process traced: {operation: {command: (count, seconds)}}."""
    out: dict[str, dict[str, tuple[int, float]]] = {}
    for op, step, now in (("cut", "split-branch", FEATURE_FREEZE), ("merge", "merge-stable", CODE_FREEZE)):
        trace = run.root / f"trace-{op}"
        trace.mkdir()
        env = {**os.environ, "GIT_TRACE2_EVENT": str(trace)}
        if op == "cut":
            run.thor("release", "start", VERSION, "--now", FEATURE_FREEZE)
        run.thor("step", step, VERSION, "--now", now, env=env)
        totals: dict[str, list[float]] = defaultdict(list)
        for path in trace.iterdir():
            events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            names = [e for e in events if e["event"] == "cmd_name"]
            ends = [e for e in events if e["event"] == "exit"]
            if names and ends:
                hierarchy = names[0]["hierarchy"]
                side = "remote " if "upload-pack" in hierarchy or "receive-pack" in hierarchy else ""
                totals[side + hierarchy.split("/")[-1]].append(ends[0]["t_abs"])
        out[op] = {name: (len(ts), sum(ts)) for name, ts in totals.items()}
    start = time.perf_counter()
    run.thor("status", VERSION)  # one command's start-up, engine and database: the part that is not git
    out["start-up"] = {"thor status": (1, time.perf_counter() - start)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each way, alternated")
    parser.add_argument("--workers", type=int, default=8, help="Thor's and the floor's concurrency")
    parser.add_argument("--ways", default="thor,floor,old", help="which of thor, floor, old to measure")
    parser.add_argument("--cache-dir", help="where the generated repositories are kept (default: XDG cache)")
    parser.add_argument("--profile", action="store_true", help="add a traced Thor round: where the time goes")
    parser.add_argument(
        "--before-src",
        help="a source tree of an earlier Thor (e.g. from git archive): measured too, as the way 'before'",
    )
    args = parser.parse_args(argv)
    ways = [w for w in args.ways.split(",") if w]
    if args.before_src:
        BEFORE_SRC.append(str(Path(args.before_src).resolve()))
        ways.append("before")

    root = Path(tempfile.mkdtemp(prefix="thor-bench-git-"))
    home = root / "home"
    home.mkdir()
    os.environ.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Gen3 Developer",
        GIT_AUTHOR_EMAIL="dev@example.org",
        GIT_COMMITTER_NAME="Gen3 Developer",
        GIT_COMMITTER_EMAIL="dev@example.org",
    )
    for key in ("THOR_GITHUB_TOKEN", "THOR_CONFIG", "THOR_DATABASE_URL", "THOR_NOW", "GIT_TRACE2_EVENT"):
        os.environ.pop(key, None)
    try:
        cache = shapes.RepoCache(shapes.cache_root(args.cache_dir), shapes.default_shapes())
        specs = shapes.specs(args.repos, cache.shapes)
        start = time.perf_counter()
        pristine = [cache.remote(s) for s in specs]
        sizes = list(shapes.iter_sizes(pristine))
        merges = sum(s.hotfix for s in specs)
        print(
            f"{args.repos} repositories ({merges} need a merge commit, the others fast-forward), copies of "
            f"{len(sizes)} histories: "
            + "; ".join(
                f"{s['commits']:.0f} commits, {s['files']:.0f} files, {s['tree_mb']:.1f} MB tree, "
                f"{s['pack_mb']:.1f} MB pack"
                for s in sizes
            )
        )
        print(
            f"cache {cache.root} ready in {time.perf_counter() - start:.1f} s; git {git_version()}, "
            f"{os.cpu_count()} CPUs, {args.workers} workers, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        times: dict[str, dict[str, list[float]]] = {w: {"cut": [], "merge": []} for w in ways}
        for number in range(args.rounds):
            order = ways[number % len(ways) :] + ways[: number % len(ways)]
            for way in order:
                run = Run(root / f"r{number}-{way}", cache, specs, args.workers)
                cut, merge = WAYS[way](run)
                times[way]["cut"].append(cut)
                times[way]["merge"].append(merge)
                print(f"  round {number + 1} {way:<5} cut {cut:7.2f} s   merge {merge:7.2f} s", flush=True)
                shutil.rmtree(run.root, ignore_errors=True)
        report(times, args.repos)
        if args.profile and "thor" in ways:
            report_profile(profile(Run(root / "profile", cache, specs, args.workers)), args.repos, times)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def report(times: dict[str, dict[str, list[float]]], repos: int) -> None:
    med = {w: {op: statistics.median(ts) for op, ts in ops.items()} for w, ops in times.items()}
    print(f"medians ({repos} repositories)                cut           merge")
    for way, ops in med.items():
        per = f"{ops['cut'] * 1000 / repos:5.0f} / {ops['merge'] * 1000 / repos:4.0f} ms per repo"
        print(f"  {way:<5} {ops['cut']:26.2f} s {ops['merge']:12.2f} s    ({per})")
    if "thor" not in med:
        return
    thor = med["thor"]
    # Each round's merge and cut ran back to back: their ratio, round by round, cancels most of the drift
    # in the machine's load between rounds.
    paired = statistics.median(m / c for c, m in zip(times["thor"]["cut"], times["thor"]["merge"], strict=True))
    print("ratios")
    print(f"  Thor merge-stable / Thor split-branch: {thor['merge'] / thor['cut']:5.2f}x  (target <= 1.2x)")
    print(f"    the same, median of each round's ratio: {paired:5.2f}x")
    if "old" in med:
        for op, step in (("cut", "split-branch"), ("merge", "merge-stable")):
            ratio = med["old"][op] / thor[op]
            print(f"  old / Thor {step:<13}          {ratio:6.1f}x  (target >= 15x)")
    if "floor" in med:
        for op, step in (("cut", "split-branch"), ("merge", "merge-stable")):
            print(f"  Thor {step} / floor:       {thor[op] / med['floor'][op]:6.2f}x")
    if "before" in med:
        for op, step in (("cut", "split-branch"), ("merge", "merge-stable")):
            print(f"  Thor {step} before / now:  {med['before'][op] / thor[op]:6.2f}x")


def report_profile(found: dict[str, dict[str, tuple[int, float]]], repos: int, times: dict) -> None:  # type: ignore[type-arg]
    print("where Thor's time goes (one traced round; seconds summed over processes, which overlap)")
    for op, commands in found.items():
        total = sum(s for _, s in commands.values())
        print(f"  {op}: {total:.2f} s of git processes, {total * 1000 / repos:.0f} ms per repository")
        for name, (count, seconds) in sorted(commands.items(), key=lambda kv: -kv[1][1])[:10]:
            print(f"    {name:<22} {count:5d} processes {seconds:7.2f} s  {seconds * 1000 / count:6.1f} ms each")


def git_version() -> str:
    return sh("git", "--version").split()[-1]


if __name__ == "__main__":
    sys.exit(main())
