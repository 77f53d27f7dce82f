"""The floor for ``bench_git.py``: the least git work that cuts a branch, or merges and tags, in many repositories.

A bare-bones script with no database, no pre-check phase, no error handling worth the name and no
re-reading of the remote before the push: what anyone scripting the same transfers by hand would write.
Thor is compared against it; it is not meant to be used.

    python benchmarks/floor_git.py cut|merge WORKERS URL...
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BRANCH, STABLE, TAG, WINDOW = "integration-floor", "stable", "floor-2021.09", 128


def git(*args: str, input: str | None = None) -> str:
    return subprocess.run(["git", *args], input=input, capture_output=True, text=True, check=True).stdout.strip()


def refs(url: str, *names: str) -> dict[str, str]:
    out = git("ls-remote", url, *names)
    return {line.split("\t")[1]: line.split("\t")[0] for line in out.splitlines()}


def cut(url: str) -> None:
    master = refs(url, "refs/heads/master")["refs/heads/master"]
    with tempfile.TemporaryDirectory() as tmp:
        g = ("--git-dir", tmp, "-c", f"remote.origin.url={url}")
        git("init", "-q", "--bare", "--template=", tmp)
        fetch = (*g, "fetch", "-q", "--no-tags", "--no-write-fetch-head")
        git(*fetch, "--depth=1", "--filter=blob:none", "origin", master)
        git(*g, "push", "-q", f"--force-with-lease=refs/heads/{BRANCH}:", "origin", f"{master}:refs/heads/{BRANCH}")


def merge(url: str) -> None:
    found = refs(url, f"refs/heads/{BRANCH}", f"refs/heads/{STABLE}")
    new, old = found[f"refs/heads/{BRANCH}"], found[f"refs/heads/{STABLE}"]
    with tempfile.TemporaryDirectory() as tmp:
        g = ("--git-dir", tmp, "-c", f"remote.origin.url={url}")
        fetch = (*g, "fetch", "-q", "--no-tags", "--no-write-fetch-head")
        git("init", "-q", "--bare", "--template=", tmp)
        git(*fetch, f"--depth={WINDOW}", "--filter=tree:0", "origin", new, old)
        found = subprocess.run(["git", *g, "merge-base", "--all", old, new], capture_output=True, text=True)
        bases, thin = found.stdout.split(), "--no-thin"
        if bases != [old]:  # a real merge: the merge base, the three trees, then merge-tree
            edge = set(Path(tmp, "shallow").read_text().split()) if Path(tmp, "shallow").exists() else set()
            if len(bases) != 1 or not edge <= set(git(*g, "rev-list", bases[0]).split()):
                git(*fetch, "--unshallow", "--filter=tree:0", "origin", new, old)
                bases = git(*g, "merge-base", old, new).split()
            base = bases[0]
            Path(tmp, "shallow").unlink(missing_ok=True)  # the push needs no history below the merge base
            trees = git(*g, "log", "--no-walk=unsorted", "--format=%T", old, new, base).split()
            git(*fetch, "--filter=blob:none", "origin", *trees)
            tree = git(*g, "merge-tree", "--write-tree", old, new).split()[0]
            message = f"Merge branch '{BRANCH}' into {STABLE}"
            new, thin = git(*g, "commit-tree", tree, "-p", old, "-p", new, "-m", message), "--thin"
        git(*g, "tag", "-a", "-m", "Gen3 Core Release 2021.09", TAG, new)
        lease = f"--force-with-lease=refs/heads/{STABLE}:{old}"
        spec = (f"{new}:refs/heads/{STABLE}", f"refs/tags/{TAG}:refs/tags/{TAG}")
        git(*g, "push", "-q", thin, "--atomic", lease, "origin", *spec)


def main(argv: list[str]) -> int:
    what, workers, urls = argv[0], int(argv[1]), argv[2:]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map({"cut": cut, "merge": merge}[what], urls))
    return 0


if __name__ == "__main__":
    assert Path(__file__).name == "floor_git.py"
    sys.exit(main(sys.argv[1:]))
