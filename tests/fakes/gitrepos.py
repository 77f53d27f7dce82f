"""Real git repositories for tests, demos and end-to-end runs.

``make_remote`` builds a bare repository (a stand-in for a GitHub repository, serving partial and by-SHA
fetches like GitHub does) from a realistic history: direct commits, pull requests merged with a merge commit
("Merge pull request #N from org/branch" with the title as the body) and squash-merged ones ("Title (#N)").
The other helpers change a remote the way people and GitHub would, or inspect it.

Tests must not touch the real home directory: apply ``isolated_env(tmp_path)`` first (see the ``git_home``
fixture in tests/adapters/test_git.py).

Building a history takes some twenty git processes, so ``make_remote`` builds each distinct one once per
test process and copies it after that: a copy is a repository of its own, with the same commits (and so the
same SHAs) as every other copy of that history.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ORG = "uc-cdis"
FileContent = str | bytes | None  # None deletes the file
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Gen3 Developer",
    "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Gen3 Developer",
    "GIT_COMMITTER_EMAIL": "dev@example.org",
}


@dataclass(frozen=True)
class Change:
    """A commit straight on the branch."""

    message: str
    files: Mapping[str, FileContent] = field(default_factory=dict)


@dataclass(frozen=True)
class PR:
    """A pull request merged into the branch: a merge commit, or one squash commit when ``squash``."""

    number: int
    title: str
    files: Mapping[str, FileContent] | None = None
    squash: bool = False
    branch: str | None = None


@dataclass(frozen=True)
class Tag:
    """An annotated tag on the branch's tip."""

    name: str
    message: str | None = None


HistoryItem = Change | PR | Tag

DEFAULT_HISTORY: list[HistoryItem] = [
    Change(
        "Initial commit",
        {
            "README.md": "# Service\n\nA Gen3 microservice.\n",
            "setup.py": "from setuptools import setup\n\nsetup(name='service', version='1.0.0')\n",
            "service/__init__.py": "",
            "service/app.py": "def create_app():\n    return {}\n",
        },
    ),
    PR(1, "Add health check endpoint", {"service/health.py": "def health():\n    return 'ok'\n"}),
    PR(
        2,
        "Fix token refresh on expiry",
        {"service/auth.py": "def refresh(token):\n    return token\n"},
        squash=True,
    ),
    Change("Update README", {"README.md": "# Service\n\nA Gen3 microservice. See docs/.\n"}),
]


def isolated_env(home: Path) -> dict[str, str]:
    """Variables that keep git away from the real home directory and system configuration."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "NO_PROXY": "127.0.0.1,localhost",
        **_IDENTITY,
    }


def git(*args: str | Path, cwd: Path | None = None, input: str | None = None) -> str:
    """Run git (not through Thor) and return its stripped stdout; fail loudly with its stderr."""
    env = {**_IDENTITY, **{k: v for k, v in os.environ.items() if k in _IDENTITY and v}}
    completed = subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **env},
        input=input,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"git {' '.join(map(str, args))} failed: {completed.stderr.strip()}")
    return completed.stdout.strip()


def file_url(remote: Path) -> str:
    """The ``file://`` URL to give Thor (partial fetches need a URL, not a plain path)."""
    return Path(remote).resolve().as_uri()


def make_remote(
    root: Path,
    name: str,
    *,
    default_branch: str = "master",
    history: Sequence[HistoryItem] | None = None,
) -> Path:
    """Create the bare repository ``root/NAME.git`` with ``history`` (default: ``DEFAULT_HISTORY``).

    The first call for a history builds it; later ones copy that build (see the module's docstring)."""
    remote = Path(root) / f"{name}.git"
    remote.parent.mkdir(parents=True, exist_ok=True)
    items = list(DEFAULT_HISTORY if history is None else history)
    if remote.exists():  # re-initialise it in place, as `git init` does
        return _build(remote, default_branch, items)
    key = repr((default_branch, items, _identity()))
    built = _BUILT.get(key)
    if built is None or not built.is_dir():
        built = _build(_build_root() / f"{len(_BUILT)}.git", default_branch, items)
        _BUILT[key] = built
    shutil.copytree(built, remote, symlinks=True)
    return remote


# Histories built by this process (key: branch, items, identity) -> the pristine bare repository.
_BUILT: dict[str, Path] = {}
_BUILD_ROOT: list[Path] = []


def _build_root() -> Path:
    if not _BUILD_ROOT:
        root = Path(tempfile.mkdtemp(prefix="thor-test-remotes-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _BUILD_ROOT.append(root)
    return _BUILD_ROOT[0]


def _identity() -> dict[str, str]:
    """Who commits, and when if the environment says: part of what a history is (the SHAs depend on it)."""
    dates = {k: v for k, v in os.environ.items() if k in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")}
    return {**_IDENTITY, **{k: v for k, v in os.environ.items() if k in _IDENTITY and v}, **dates}


def _build(remote: Path, default_branch: str, items: Sequence[HistoryItem]) -> Path:
    git("init", "--quiet", "--bare", f"--initial-branch={default_branch}", remote)
    git("-C", remote, "config", "uploadpack.allowFilter", "true")
    git("-C", remote, "config", "uploadpack.allowAnySHA1InWant", "true")
    if items:
        with tempfile.TemporaryDirectory(prefix="thor-test-work-") as tmp:
            work = Path(tmp) / "work"
            git("init", "--quiet", f"--initial-branch={default_branch}", work)
            for item in items:
                _apply(work, default_branch, item)
            git("-C", work, "push", "--quiet", remote, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*")
    return remote


def add_pr(
    remote: Path,
    number: int,
    title: str,
    *,
    squash: bool = False,
    branch: str | None = None,
    files: Mapping[str, FileContent] | None = None,
    base: str | None = None,
) -> str:
    """Merge a pull request into ``base`` (default: the default branch); returns the new tip SHA."""
    with _work_clone(remote, base) as (work, base_branch):
        _apply(work, base_branch, PR(number, title, files, squash, branch))
        git("-C", work, "push", "--quiet", "origin", f"HEAD:refs/heads/{base_branch}")
        return git("-C", work, "rev-parse", "HEAD")


def commit_on(
    remote: Path, branch: str, files: Mapping[str, FileContent], message: str, *, start: str | None = None
) -> str:
    """Commit ``files`` on ``branch`` (created from ``start`` or the default branch if missing); new SHA."""
    with _work_clone(remote, branch, start=start) as (work, _):
        _apply(work, branch, Change(message, files))
        git("-C", work, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return git("-C", work, "rev-parse", "HEAD")


def tag(remote: Path, name: str, at: str, message: str | None = None) -> None:
    """Put a tag (annotated when ``message``) directly in the remote."""
    git("-C", remote, "tag", *(["-a", "-m", message] if message else []), name, at)


def heads(remote: Path) -> dict[str, str]:
    out = git("-C", remote, "for-each-ref", "refs/heads", "--format=%(refname:lstrip=2) %(objectname)")
    return dict(line.split(" ", 1) for line in out.splitlines())


def tags(remote: Path) -> dict[str, str]:
    """Tag name -> the commit it points to (peeled)."""
    fmt = "--format=%(refname:lstrip=2) %(objectname) %(*objectname)"
    result = {}
    for line in git("-C", remote, "for-each-ref", "refs/tags", fmt).splitlines():
        name, sha, *peeled = line.split(" ")
        result[name] = peeled[0] if peeled and peeled[0] else sha
    return result


def all_refs(remote: Path) -> dict[str, str]:
    out = git("-C", remote, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ", 1) for line in out.splitlines())


def set_ref(remote: Path, branch: str, sha: str) -> None:
    git("-C", remote, "update-ref", f"refs/heads/{branch}", sha)


def parents(remote: Path, rev: str) -> list[str]:
    return git("-C", remote, "rev-list", "--parents", "-n", "1", rev).split()[1:]


def message(remote: Path, rev: str) -> str:
    return git("-C", remote, "log", "-1", "--format=%B", rev)


def make_conflict(remote: Path, stable: str, integration: str, path: str) -> tuple[str, str]:
    """Change ``path`` differently on both branches so that merging them conflicts; returns both new SHAs."""
    left = commit_on(remote, stable, {path: "hotfix made on stable\n"}, f"Hotfix {path} on {stable}")
    right = commit_on(remote, integration, {path: "feature work on integration\n"}, f"Rework {path}")
    return left, right


def reject_pushes(remote: Path, reason: str = "pushes to this repository are frozen") -> None:
    """Make the remote refuse every push (a pre-receive hook exiting 1)."""
    hook = Path(remote) / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f"#!/bin/sh\necho '{reason}' >&2\nexit 1\n")
    hook.chmod(0o755)


def allow_pushes(remote: Path) -> None:
    (Path(remote) / "hooks" / "pre-receive").unlink(missing_ok=True)


@contextmanager
def _work_clone(remote: Path, branch: str | None, *, start: str | None = None) -> Iterator[tuple[Path, str]]:
    with tempfile.TemporaryDirectory(prefix="thor-test-work-") as tmp:
        work = Path(tmp) / "work"
        git("clone", "--quiet", "--no-checkout", remote, work)
        default = git("-C", work, "symbolic-ref", "--short", "HEAD")
        branch = branch or default
        exists = bool(git("-C", work, "branch", "--remotes", "--list", f"origin/{branch}"))
        origin = f"origin/{branch}" if exists else (start or f"origin/{default}")
        git("-C", work, "checkout", "--quiet", "-B", branch, origin)
        yield work, branch


def _apply(work: Path, branch: str, item: HistoryItem) -> None:
    if isinstance(item, Tag):
        git("-C", work, "tag", "-a", "-m", item.message or item.name, item.name)
    elif isinstance(item, Change):
        _write(work, item.files or {"CHANGELOG.md": f"{item.message}\n"})
        git("-C", work, "commit", "--quiet", "--allow-empty", "-m", item.message)
    else:
        feature = item.branch or f"feature/{_slug(item.title)}"
        files = item.files if item.files is not None else {f"changes/pr-{item.number}.md": f"{item.title}\n"}
        git("-C", work, "checkout", "--quiet", "-b", feature)
        _write(work, files)
        git("-C", work, "commit", "--quiet", "--allow-empty", "-m", item.title)
        git("-C", work, "checkout", "--quiet", branch)
        if item.squash:
            git("-C", work, "merge", "--quiet", "--squash", feature)
            git("-C", work, "commit", "--quiet", "--allow-empty", "-m", f"{item.title} (#{item.number})")
        else:
            text = f"Merge pull request #{item.number} from {ORG}/{feature}\n\n{item.title}"
            git("-C", work, "merge", "--quiet", "--no-ff", "-m", text, feature)
        git("-C", work, "branch", "--quiet", "-D", feature)


def _write(work: Path, files: Mapping[str, FileContent]) -> None:
    for name, content in files.items():
        path = work / name
        if content is None:
            git("-C", work, "rm", "--quiet", "--ignore-unmatch", name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        git("-C", work, "add", name)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "change"
