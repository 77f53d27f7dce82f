"""The scratch repositories of ``git_merge``: commits-only fetches, full packs from a shallow repository, and
the workspace that keeps the pre-check's scratch repositories for the merge."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from thor_cli.adapters.git_base import Scratch, init_bare


class MergeScratch(Scratch):
    """A scratch repository that pushes full packs when it is shallow: a thin pack from a shallow repository
    makes git read the trees of every commit the remote has (``--objects-edge-aggressive``), which a
    commits-only fetch does not have, so each would be fetched lazily. Only existing commits and a tag
    object are ever pushed from a shallow scratch, so a full pack is the tag object alone."""

    def __init__(self, url: str, path: Path) -> None:
        super().__init__(url, path)
        self.commits: set[str] = set()  # commits fetched (not lazily): what a tag may point at as is

    @property
    def shallow(self) -> bool:
        return (self.path / "shallow").exists()

    def git(self, *args: str, what: str | None = None, check: bool = True, input: str | None = None):
        if args and args[0] == "push" and self.shallow:
            args = ("push", "--no-thin", *args[1:])
        return super().git(*args, what=what, check=check, input=input)

    def fetch_objects(self, *oids: str, filter: str, depth: int | None = None, unshallow: bool = False) -> None:
        """One fetch of ``oids`` (commits or trees) with ``filter``, in one round trip."""
        args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-gc", f"--filter={filter}"]
        args += [f"--depth={depth}"] if depth else []
        args += ["--unshallow"] if unshallow else []
        self.git(*args, "origin", *dict.fromkeys(oids), what="fetch")


def new_scratch(url: str, path: Path) -> MergeScratch:
    init_bare(path, url)
    return MergeScratch(url, path)


class MergeWorkspace:
    """Where the pre-check's scratch repositories wait for the merge (one directory, removed at the end)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def new(self, url: str) -> MergeScratch:
        with self._lock:
            number = next(self._numbers)
        return new_scratch(url, self.root / f"{number}.git")

    def discard(self, scratch: MergeScratch | None) -> None:
        """Remove a scratch repository that has served its merge (the workspace's end removes the rest)."""
        if scratch is not None and scratch.path.parent == self.root:
            shutil.rmtree(scratch.path, ignore_errors=True)


@contextmanager
def merge_workspace() -> Iterator[MergeWorkspace]:
    with tempfile.TemporaryDirectory(prefix="thor-merge-") as tmp:
        yield MergeWorkspace(Path(tmp))


@contextmanager
def scratch_for(url: str, workspace: MergeWorkspace | None) -> Iterator[MergeScratch]:
    if workspace is not None:
        yield workspace.new(url)
        return
    with tempfile.TemporaryDirectory(prefix="thor-git-") as tmp:
        yield new_scratch(url, Path(tmp) / "scratch.git")
