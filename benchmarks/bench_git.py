"""Cutting and merging release branches across many repositories: Thor's way against the old way.

Thor's way (thor_cli.adapters.git): ls-remote, then a scratch bare repository per repository that fetches
only what it needs (one commit and its trees, no file contents) and pushes by SHA, 8 repositories at a time.
The old way: for each repository in turn, a full ``git clone``, ``git checkout -b`` / ``git merge`` /
``git tag``, and ``git push``.

    python benchmarks/bench_git.py --repos 30

Generates the repositories (each a few hundred files, some incompressible binary blobs and a history of
merged pull requests) in a temporary directory, served over file:// like GitHub serves them (partial and
by-SHA fetches allowed), and prints the times and ratios measured in this run. Git runs with a throw-away
HOME, so the machine's git configuration plays no part.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from thor_cli.adapters import git

WORDS = [
    "release",
    "stable",
    "token",
    "fence",
    "indexd",
    "sheepdog",
    "peregrine",
    "arborist",
    "metadata",
    "upload",
    "manifest",
    "index",
]
IDENTITY = "Gen3 Developer <dev@example.org>"


def sh(*args: str | Path, cwd: Path | None = None, input: bytes | None = None) -> None:
    subprocess.run([str(a) for a in args], cwd=cwd, input=input, check=True, capture_output=True)


def text_file(rng: random.Random, lines: int) -> bytes:
    rows = (" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(lines))
    return ("\n".join(f"# {row}" for row in rows) + "\n").encode()


def data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def modify(path: str, payload: bytes) -> bytes:
    return f"M 100644 inline {path}\n".encode() + data(payload)


def history_stream(files: int, binaries: int, binary_kb: int, prs: int, seed: int = 7) -> bytes:
    """A ``git fast-import`` stream: an initial commit, then ``prs`` pull requests merged into master (a side
    commit and a merge commit each); every fifth one replaces a binary blob. Also ``stable-thor`` and
    ``stable-old``: an older master commit plus a hotfix, so that merging integration needs a merge commit."""
    rng = random.Random(seed)
    out: list[bytes] = []
    when = 1_600_000_000
    paths = [f"src/pkg{i % 12}/module_{i}.py" for i in range(files)]

    def commit(ref: str, mark: int, message: str, parents: list[int], changes: list[bytes]) -> None:
        nonlocal when
        when += 3600
        out.append(f"commit {ref}\nmark :{mark}\n".encode())
        out.append(f"author {IDENTITY} {when} +0000\ncommitter {IDENTITY} {when} +0000\n".encode())
        out.append(data(message.encode()))
        if parents:
            out.append(f"from :{parents[0]}\n".encode())
        out.extend(f"merge :{p}\n".encode() for p in parents[1:])
        out.extend(changes)

    initial = [modify(p, text_file(rng, rng.randint(30, 90))) for p in paths]
    initial += [modify(f"assets/blob_{i}.bin", os.urandom(binary_kb * 1024)) for i in range(binaries)]
    commit("refs/heads/master", 1, "Initial commit\n", [], initial)
    master, stable_base = 1, 1
    for number in range(1, prs + 1):
        changes = [modify(rng.choice(paths), text_file(rng, rng.randint(30, 90))) for _ in range(3)]
        if number % 5 == 0:
            changes.append(modify(f"assets/blob_{number % binaries}.bin", os.urandom(binary_kb * 1024)))
        side, merge = 2 * number, 2 * number + 1
        commit("refs/heads/feature", side, f"Change number {number}\n", [master], changes)
        title = f"Merge pull request #{number} from uc-cdis/feature/change-{number}\n\nChange number {number}\n"
        commit("refs/heads/master", merge, title, [master, side], changes)
        master = merge
        if number == prs * 2 // 3:
            stable_base = merge
    commit("refs/heads/stable-thor", 10_000, "Hotfix on stable\n", [stable_base], [modify("HOTFIX.md", b"fix\n")])
    out.append(b"reset refs/heads/stable-old\nfrom :10000\n\n")
    return b"".join(out)


def make_repos(root: Path, count: int, args: argparse.Namespace) -> list[str]:
    template = root / "template.git"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=master", template)
    stream = history_stream(args.files, args.binaries, args.binary_kb, args.prs)
    sh("git", "-C", template, "fast-import", "--quiet", input=stream)
    sh("git", "-C", template, "update-ref", "-d", "refs/heads/feature")
    sh("git", "-C", template, "repack", "-a", "-d", "-q")
    sh("git", "-C", template, "config", "uploadpack.allowFilter", "true")
    sh("git", "-C", template, "config", "uploadpack.allowAnySHA1InWant", "true")
    urls = []
    for i in range(count):
        repo = root / "remotes" / f"service{i:02d}.git"
        shutil.copytree(template, repo)
        urls.append(repo.as_uri())
    return urls


def timed(label: str, func) -> float:
    os.sync()  # let the writes of the previous phase reach the disk first: they would slow this one down
    start = time.perf_counter()
    func()
    elapsed = time.perf_counter() - start
    print(f"  {label:<58} {elapsed:8.2f} s", flush=True)
    return elapsed


def thor_cut(urls: list[str], workers: int) -> None:
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda u: git.cut_branch(u, "integration-thor", "master"), urls))
    assert all(r.status == "created" for r in results), results


def thor_merge(urls: list[str], workers: int) -> None:
    def one(url: str) -> git.MergeResult:
        plan = git.plan_merge(url, "integration-thor", "stable-thor")
        assert plan.kind == "merge", plan
        return git.merge_and_tag(url, plan, tag="thor-2021.09", message="Gen3 Core Release 2021.09")

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, urls))
    assert all((r.status, r.tag_status) == ("merged", "created") for r in results), results


def old_cut(urls: list[str], work: Path) -> None:
    for i, url in enumerate(urls):
        clone = work / f"cut{i}"
        sh("git", "clone", "--quiet", url, clone)
        sh("git", "-C", clone, "checkout", "--quiet", "-b", "integration-old")
        sh("git", "-C", clone, "push", "--quiet", "origin", "integration-old")
        shutil.rmtree(clone)


def old_merge(urls: list[str], work: Path) -> None:
    for i, url in enumerate(urls):
        clone = work / f"merge{i}"
        sh("git", "clone", "--quiet", url, clone)
        sh("git", "-C", clone, "checkout", "--quiet", "stable-old")
        message = "Merge branch 'integration-old' into stable"
        sh("git", "-C", clone, "merge", "--quiet", "--no-ff", "-m", message, "origin/integration-old")
        sh("git", "-C", clone, "tag", "-a", "-m", "Gen3 Core Release 2021.09", "old-2021.09")
        sh("git", "-C", clone, "push", "--quiet", "origin", "stable-old", "old-2021.09")
        shutil.rmtree(clone)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=30)
    parser.add_argument("--workers", type=int, default=8, help="Thor's concurrency ([repos] concurrency)")
    parser.add_argument("--files", type=int, default=300, help="text files per repository")
    parser.add_argument("--binaries", type=int, default=12, help="binary blobs per repository")
    parser.add_argument("--binary-kb", type=int, default=512, help="size of each binary blob")
    parser.add_argument("--prs", type=int, default=150, help="merged pull requests in each history")
    parser.add_argument("--keep", action="store_true", help="keep the generated repositories")
    args = parser.parse_args(argv)

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
    os.environ.pop("THOR_GITHUB_TOKEN", None)
    try:
        start = time.perf_counter()
        urls = make_repos(root, args.repos, args)
        size = sum(f.stat().st_size for f in (root / "template.git").rglob("*") if f.is_file())
        blobs = f"{args.binaries} x {args.binary_kb} KiB binary blobs"
        print(
            f"{args.repos} repositories, each {args.files} text files + {blobs}, "
            f"{2 * args.prs + 2} commits, {size / 2**20:.1f} MiB packed "
            f"(generated in {time.perf_counter() - start:.1f} s); git {git_version()}, {os.cpu_count()} CPUs"
        )
        work = root / "work"
        work.mkdir()
        print("cut the integration branch")
        thor_c = timed(f"Thor: cut_branch, {args.workers} at a time", lambda: thor_cut(urls, args.workers))
        old_c = timed("old: clone + checkout -b + push, one after another", lambda: old_cut(urls, work))
        print("merge integration into stable and tag")
        thor_m = timed(
            f"Thor: plan_merge + merge_and_tag, {args.workers} at a time",
            lambda: thor_merge(urls, args.workers),
        )
        old_m = timed("old: clone + merge + tag + push, one after another", lambda: old_merge(urls, work))
        print("ratios (old / Thor; target >= 10x)")
        print(f"  cut:   {old_c / thor_c:6.1f}x   ({old_c:.2f} s / {thor_c:.2f} s)")
        print(f"  merge: {old_m / thor_m:6.1f}x   ({old_m:.2f} s / {thor_m:.2f} s)")
    finally:
        if args.keep:
            print(f"repositories kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def git_version() -> str:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


if __name__ == "__main__":
    sys.exit(main())
