"""Reading and changing a few files of a remote branch without a clone or a worktree.

``open_branches(url, base, branch)`` fetches the tips of ``base`` and (if it exists) ``branch`` into a
scratch bare repository with ``--filter=blob:none --depth=1``: trees only, so listing a folder costs
nothing and a file's content is fetched when it is read (the scratch repository is a partial clone whose
promisor is the remote). ``commit_files`` writes blobs (``hash-object -w``), rebuilds only the trees on the
changed paths (``ls-tree`` / ``mktree --missing``: the blobs of unchanged files are never fetched) and
makes one commit (``commit-tree``); ``push_branch`` pushes it with a lease on what the branch was.
Files are text (UTF-8): GitOps values and manifests, release notes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from thor_cli.adapters.git_base import GitError, PushOutcome, Scratch, head_ref, ls_remote, repo_label, scratch

_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass
class Snapshot:
    """The files of one commit, read on demand."""

    repo: Scratch
    commit: str
    _cache: dict[str, str | None] = field(default_factory=dict)

    def paths(self, under: str = "") -> list[str]:
        """Every file path below the folder ``under`` ("" for the whole tree)."""
        args = ["ls-tree", "-r", "--name-only", "-z", self.commit]
        result = self.repo.git(*args, *([under.strip("/") + "/"] if under.strip("/") else []), what="ls-tree")
        return [p for p in result.stdout.split("\0") if p]

    def read(self, path: str) -> str | None:
        """The text of ``path``, or None when the commit has no such file."""
        if path not in self._cache:
            # ls-tree reads only trees, which are local; cat-file then fetches the one blob from the remote.
            listed = self.repo.git("ls-tree", self.commit, "--", path, what="ls-tree").stdout
            kind = listed.split()[1] if listed.strip() else None
            text = (
                self.repo.git("cat-file", "blob", f"{self.commit}:{path}", what="read").stdout
                if kind == "blob"
                else None
            )
            self._cache[path] = text
        return self._cache[path]


@dataclass
class Branches:
    """A scratch repository holding the tips of a base branch and of a work branch (when it exists)."""

    repo: Scratch
    base: str
    base_sha: str
    branch: str
    branch_sha: str | None

    def snapshot(self, sha: str) -> Snapshot:
        return Snapshot(self.repo, sha)

    def commit_files(self, parent: str, files: Mapping[str, str], message: str) -> str:
        """A commit on ``parent`` whose tree is ``parent``'s with ``files`` (path -> text) written."""
        tree = self.repo.git("rev-parse", f"{parent}^{{tree}}", what="rev-parse").stdout.strip()
        blobs = {path: self._blob(text) for path, text in files.items()}
        new_tree = self._replace(tree, blobs)
        result = self.repo.git("commit-tree", new_tree, "-p", parent, "-m", message, what="commit-tree")
        return result.stdout.strip()

    def push_branch(self, commit: str) -> PushOutcome:
        """Point the work branch at ``commit``, only if it is still where it was fetched (or still absent)."""
        ref = head_ref(self.branch)
        return self.repo.push_one(f"{commit}:{ref}", lease=f"{ref}:{self.branch_sha or ''}")

    def _blob(self, text: str) -> str:
        return self.repo.git("hash-object", "-w", "--stdin", input=text, what="hash-object").stdout.strip()

    def _replace(self, tree: str, blobs: Mapping[str, str]) -> str:
        """``tree`` with the blobs at their paths; only the trees along those paths are rewritten."""
        here: dict[str, str] = {}
        below: dict[str, dict[str, str]] = {}
        for path, blob in blobs.items():
            head, sep, rest = path.strip("/").partition("/")
            if sep:
                below.setdefault(head, {})[rest] = blob
            else:
                here[head] = blob
        entries: dict[str, tuple[str, str, str]] = {}
        if tree != _EMPTY_TREE:
            listing = self.repo.git("ls-tree", "-z", tree, what="ls-tree").stdout
            for line in filter(None, listing.split("\0")):
                meta, _, name = line.partition("\t")
                mode, kind, sha = meta.split()
                entries[name] = (mode, kind, sha)
        for name, blob in here.items():
            mode = entries[name][0] if name in entries and entries[name][1] == "blob" else "100644"
            entries[name] = (mode, "blob", blob)
        for name, sub in below.items():
            current = entries.get(name)
            if current is not None and current[1] != "tree":
                raise GitError(f"{self.repo.label}: cannot write below {name}: it is a file")
            entries[name] = ("040000", "tree", self._replace(current[2] if current else _EMPTY_TREE, sub))
        text = "".join(f"{mode} {kind} {sha}\t{name}\0" for name, (mode, kind, sha) in sorted(entries.items()))
        return self.repo.git("mktree", "-z", "--missing", input=text, what="mktree").stdout.strip()


@contextmanager
def open_branches(url: str, base: str | None, branch: str) -> Iterator[Branches]:
    """The tips of ``base`` (None: the remote's default branch) and ``branch`` in a scratch repository."""
    patterns = [head_ref(branch), head_ref(base) if base else "HEAD"]
    refs, symrefs = ls_remote(url, *patterns, symref=base is None)
    if base is None:
        target = symrefs.get("HEAD", "")
        if not target.startswith("refs/heads/"):
            raise GitError(f"{repo_label(url)}: cannot tell the default branch (the remote HEAD points nowhere)")
        base = target.removeprefix("refs/heads/")
        base_sha = refs.get("HEAD")
    else:
        base_sha = refs.get(head_ref(base))
    if not base_sha:
        raise GitError(f"{repo_label(url)}: branch {base} does not exist")
    branch_sha = refs.get(head_ref(branch))
    with scratch(url) as repo:
        repo.fetch(*([base_sha] + ([branch_sha] if branch_sha else [])), depth=1)
        yield Branches(repo, base, base_sha, branch, branch_sha)
