"""Repositories of the size and shape of Gen3's, for ``bench_git.py``: generated once, cached, copied per run.

A Gen3 service repository has about 3,000 commits (mostly pull requests merged with a merge commit), a few
hundred files in nested folders (7-13 MB checked out, a 6-10 MB pack), release tags, and a ``stable`` branch
30-60 pull requests behind ``master``; some have hotfixes merged on ``stable`` itself, so the release needs a
real merge there. ``TEMPLATES`` such histories are generated with ``git fast-import`` (a fixed seed each, so
the same on every machine) and cached; each benchmark repository is a hard-linked copy of one of them with
its own ``stable`` (and, for every third, a hotfix pull request merged into it). Copies share the template's
pack files, so 300 repositories cost little disk; git never rewrites a pack file in place, so a push into a
copy never changes the cache.

The cache lives in ``$XDG_CACHE_HOME/thor-bench-git`` (``~/.cache`` without it) or ``--cache-dir``, never in
the repository. Its directory name carries ``CACHE_VERSION`` and the shape parameters, so a change to either
builds a new one.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CACHE_VERSION = 1
TEMPLATES = 3  # distinct histories; repository i is a copy of template i % TEMPLATES
IDENTITY = "Gen3 Developer <dev@example.org>"
_FOLDERS = ["api", "models", "utils", "resources", "auth", "blueprints", "schemas", "jobs", "storage", "admin"]
_LEAVES = ["v1", "v2", "internal", "helpers", "fixtures", "static", "templates", "migrations"]


@dataclass(frozen=True)
class Shape:
    """One template history. ``prs`` pull requests of 1-3 commits, plus direct commits: ~2.7 commits a PR."""

    seed: int
    files: int = 350
    prs: int = 1100
    big_files: int = 3  # generated JSON fixtures / lock files of 250-700 KB
    binaries: int = 3  # images and such: incompressible, 60-250 KB

    @property
    def key(self) -> str:
        return f"s{self.seed}-f{self.files}-p{self.prs}-b{self.big_files}-x{self.binaries}"


def default_shapes() -> list[Shape]:
    return [Shape(seed=11, files=200), Shape(seed=12, files=280), Shape(seed=13, files=360)]


def cache_root(cache_dir: str | None) -> Path:
    base = Path(cache_dir) if cache_dir else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (base / "thor-bench-git" / f"v{CACHE_VERSION}").resolve()


def sh(*args: str | Path, input: bytes | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], input=input, cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode().strip()


# -- generating a template ------------------------------------------------------------------------------


class _Text:
    """Plausible source text: lines of words from a vocabulary large enough that zlib does not flatter it."""

    def __init__(self, rng: random.Random) -> None:
        letters = "abcdefghijklmnopqrstuvwxyz_"
        self.rng = rng
        self.words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 11))) for _ in range(3000)]

    def line(self) -> str:
        rng = self.rng
        indent = "    " * rng.randint(0, 3)
        return indent + " ".join(rng.choice(self.words) for _ in range(rng.randint(3, 10)))

    def lines(self, count: int) -> list[str]:
        return [self.line() for _ in range(count)]


def _paths(rng: random.Random, count: int) -> list[str]:
    """``count`` file paths in nested folders (1-4 deep), like a Python service with tests and docs."""
    paths: set[str] = {"README.md", "CHANGELOG.md", "setup.py", "Dockerfile", ".github/workflows/ci.yaml"}
    while len(paths) < count:
        top = rng.choice(["service", "service", "service", "tests", "docs", "deployment"])
        depth = rng.randint(0, 3)
        parts = [top, *(rng.choice(_FOLDERS) for _ in range(depth))]
        if depth and rng.random() < 0.3:
            parts.append(rng.choice(_LEAVES))
        ext = {"docs": ".md", "deployment": ".yaml"}.get(top, ".py")
        name = f"{rng.choice(_FOLDERS)}_{rng.randint(1, 40)}{ext}"
        paths.add("/".join([*dict.fromkeys(parts), name]))
    return sorted(paths)


class _Stream:
    """Writes a ``git fast-import`` stream; blobs get marks so a merge commit reuses its side's blobs."""

    def __init__(self, out) -> None:  # type: ignore[no-untyped-def]
        self.out = out
        self.mark = 0
        self.when = 1_500_000_000

    def _next(self) -> int:
        self.mark += 1
        return self.mark

    def blob(self, payload: bytes) -> int:
        mark = self._next()
        self.out.write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(payload), payload))
        return mark

    def commit(self, ref: str, message: str, parents: list[str], changes: dict[str, int | None]) -> str:
        """Write a commit; returns its mark as fast-import names it (``:N``)."""
        mark = self._next()
        self.when += 1800
        body = message.encode()
        head = f"commit {ref}\nmark :{mark}\nauthor {IDENTITY} {self.when} +0000\n"
        head += f"committer {IDENTITY} {self.when} +0000\ndata {len(body)}\n"
        self.out.write(head.encode() + body + b"\n")
        if parents:
            self.out.write(f"from {parents[0]}\n".encode())
        for parent in parents[1:]:
            self.out.write(f"merge {parent}\n".encode())
        for path, blob in changes.items():
            self.out.write(f"D {path}\n".encode() if blob is None else f"M 100644 :{blob} {path}\n".encode())
        self.out.write(b"\n")
        return f":{mark}"

    def tag(self, name: str, commit: str, message: str) -> None:
        body = message.encode()
        self.out.write(f"tag {name}\nfrom {commit}\ntagger {IDENTITY} {self.when} +0000\n".encode())
        self.out.write(f"data {len(body)}\n".encode() + body + b"\n")


def generate(shape: Shape, dest: Path) -> None:
    """Write the bare repository ``dest`` with ``shape``'s history (``master`` and release tags)."""
    rng = random.Random(shape.seed)
    text = _Text(rng)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    sh("git", "init", "--quiet", "--bare", "--initial-branch=master", "--template=", tmp)
    process = subprocess.Popen(
        ["git", "--git-dir", str(tmp), "fast-import", "--quiet", "--depth=50"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    stream = _Stream(process.stdin)
    files: dict[str, list[str]] = {}
    for path in _paths(rng, shape.files):
        files[path] = text.lines(rng.randint(80, 700) if path != "CHANGELOG.md" else 40)
    initial: dict[str, int | None] = {p: stream.blob(_join(lines)) for p, lines in files.items()}
    for i in range(shape.big_files):
        path = f"service/resources/fixtures/data_{i}.json"
        files[path] = text.lines(rng.randint(4000, 11000))
        initial[path] = stream.blob(_join(files[path]))
    for i in range(shape.binaries):
        initial[f"docs/img/figure_{i}.png"] = stream.blob(rng.randbytes(rng.randint(60_000, 250_000)))
    master = stream.commit("refs/heads/master", "Initial commit\n", [], initial)
    editable = [p for p in files if not p.startswith("service/resources/fixtures/")]
    for number in range(1, shape.prs + 1):
        if rng.random() < 0.12:  # a direct commit: a version bump, a typo
            path = rng.choice(editable)
            blob = stream.blob(_join(_edit(rng, text, files[path])))
            master = stream.commit("refs/heads/master", f"Update {path}\n", [master], {path: blob})
        changed: dict[str, int | None] = {}
        side = master
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            step: dict[str, int | None] = {}
            for _ in range(rng.choice([1, 1, 2, 3])):
                roll = rng.random()
                if roll < 0.04:  # a new module
                    path = _new_path(rng, files)
                    files[path] = text.lines(rng.randint(30, 300))
                    editable.append(path)
                elif roll < 0.05 and len(editable) > shape.files // 2:  # a module removed
                    path = editable.pop(rng.randrange(5, len(editable)))
                    del files[path]
                    step[path] = None
                    continue
                else:
                    path = rng.choice(editable)
                    files[path] = _edit(rng, text, files[path])
                step[path] = stream.blob(_join(files[path]))
            if rng.random() < 0.2:  # a changelog entry, at the end
                files["CHANGELOG.md"] = [*files["CHANGELOG.md"], f"- change number {number}"]
                step["CHANGELOG.md"] = stream.blob(_join(files["CHANGELOG.md"]))
            side = stream.commit("refs/heads/pr", f"Change {number}\n", [side], step)
            changed.update(step)
        title = f"Change {number}"
        if rng.random() < 0.15:  # squash-merged
            squash = f"{title} (#{number})\n"
            master = stream.commit("refs/heads/master", squash, [master], changed)
        else:
            message = f"Merge pull request #{number} from uc-cdis/feat/change-{number}\n\n{title}\n"
            master = stream.commit("refs/heads/master", message, [master, side], changed)
        if number % 45 == 0:
            tag = f"{2015 + number // 540}.{(number // 45) % 12 + 1:02d}"
            stream.tag(tag, master, f"Gen3 Core Release {tag}\n")
    process.stdin.close()
    if process.wait() != 0:
        assert process.stderr is not None
        raise RuntimeError(f"fast-import failed: {process.stderr.read().decode(errors='replace')}")
    sh("git", "--git-dir", tmp, "update-ref", "-d", "refs/heads/pr")
    sh("git", "--git-dir", tmp, "repack", "-a", "-d", "-f", "-q", "--window=10", "--depth=50")
    sh("git", "--git-dir", tmp, "pack-refs", "--all")
    sh("git", "--git-dir", tmp, "commit-graph", "write", "--reachable")  # as GitHub keeps one
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def _join(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _edit(rng: random.Random, text: _Text, lines: list[str]) -> list[str]:
    """A small change somewhere in the file: a few lines replaced, inserted or removed."""
    out = list(lines)
    at = rng.randrange(len(out))
    kind = rng.random()
    if kind < 0.5:
        out[at : at + rng.randint(1, 4)] = text.lines(rng.randint(1, 5))
    elif kind < 0.85 or len(out) < 20:
        out[at:at] = text.lines(rng.randint(1, 12))
    else:
        del out[at : at + rng.randint(1, 6)]
    return out


def _new_path(rng: random.Random, files: dict[str, list[str]]) -> str:
    folder = rng.choice(sorted({p.rpartition("/")[0] for p in files if p.startswith("service/")}))
    while True:
        path = f"{folder}/new_{rng.randint(1, 10_000)}.py"
        if path not in files:
            return path


# -- the benchmark's repositories -----------------------------------------------------------------------


@dataclass(frozen=True)
class RepoSpec:
    index: int
    template: Shape
    behind: int  # how many first-parent commits stable is behind master
    hotfix: bool  # a hotfix pull request merged into stable: the release needs a merge commit

    @property
    def name(self) -> str:
        return f"uc-cdis/service{self.index:03d}"


def specs(count: int, shapes: list[Shape]) -> list[RepoSpec]:
    return [RepoSpec(i, shapes[i % len(shapes)], behind=30 + (i * 13) % 31, hotfix=i % 3 == 1) for i in range(count)]


class RepoCache:
    """Templates and per-repository remotes under ``root``; built the first time each is asked for."""

    def __init__(self, root: Path, shapes: list[Shape]) -> None:
        self.root = root
        self.shapes = shapes

    def template(self, shape: Shape) -> Path:
        path = self.root / "templates" / f"{shape.key}.git"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            generate(shape, path)
        return path

    def remote(self, spec: RepoSpec) -> Path:
        """The cached pristine remote for ``spec`` (a hard-linked copy of its template, with its stable)."""
        path = self.root / "repos" / spec.template.key / f"{spec.name}-b{spec.behind}-h{int(spec.hotfix)}.git"
        if not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            link_copy(self.template(spec.template), tmp)
            _set_stable(tmp, spec)
            tmp.rename(path)
        return path

    def materialise(self, repos: list[RepoSpec], dest: Path) -> list[Path]:
        """Fresh working copies of the remotes under ``dest`` (``dest/uc-cdis/serviceNNN.git``)."""
        out = []
        for spec in repos:
            target = dest / f"{spec.name}.git"
            target.parent.mkdir(parents=True, exist_ok=True)
            link_copy(self.remote(spec), target)
            out.append(target)
        return out


def link_copy(src: Path, dest: Path) -> None:
    """Copy a bare repository, hard-linking its pack files (never rewritten in place by git)."""

    def copy(s: str, d: str) -> None:
        if f"{os.sep}objects{os.sep}" in s:
            os.link(s, d)
        else:
            shutil.copy2(s, d)

    shutil.copytree(src, dest, copy_function=copy)


def _set_stable(repo: Path, spec: RepoSpec) -> None:
    """``stable`` ``behind`` first-parent commits behind master; with ``hotfix``, a pull request merged
    into it that changes the top of CHANGELOG.md (master appends at its end: a clean content merge)."""
    git = ("git", "--git-dir", repo)
    sh(*git, "config", "uploadpack.allowFilter", "true")
    sh(*git, "config", "uploadpack.allowAnySHA1InWant", "true")
    sh(*git, "config", "receive.autogc", "false")
    sh(*git, "config", "gc.auto", "0")
    base = sh(*git, "rev-parse", f"master~{spec.behind}")
    if not spec.hotfix:
        sh(*git, "update-ref", "refs/heads/stable", base)
        return
    lines = sh(*git, "cat-file", "blob", f"{base}:CHANGELOG.md").splitlines()
    lines[1:1] = [f"- hotfix for service {spec.index} (security)"]
    payload = _join(lines)
    when = 1_700_000_000 + spec.index
    stream = [
        b"blob\nmark :1\ndata %d\n%s\n" % (len(payload), payload),
        _commit(
            b"refs/heads/hotfix", 2, b"Fix a security issue\n", when, [base.encode()], b"M 100644 :1 CHANGELOG.md\n"
        ),
        _commit(
            b"refs/heads/stable",
            3,
            b"Merge pull request #9001 from uc-cdis/hotfix/security\n\nFix a security issue\n",
            when + 60,
            [base.encode(), b":2"],
            b"M 100644 :1 CHANGELOG.md\n",
        ),
    ]
    sh(*git, "fast-import", "--quiet", input=b"".join(stream))
    sh(*git, "update-ref", "-d", "refs/heads/hotfix")


def _commit(ref: bytes, mark: int, message: bytes, when: int, parents: list[bytes], changes: bytes) -> bytes:
    who = IDENTITY.encode()
    out = b"commit %s\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\n" % (ref, mark, who, when, who, when)
    out += b"data %d\n%s\nfrom %s\n" % (len(message), message, parents[0])
    out += b"".join(b"merge %s\n" % p for p in parents[1:])
    return out + changes + b"\n"


def describe(repo: Path) -> dict[str, float]:
    """Commits on master, files and size of master's tree, pack size: to print what was measured on."""
    git = ("git", "--git-dir", repo)
    commits = int(sh(*git, "rev-list", "--count", "master"))
    sizes = [int(line.split()[3]) for line in sh(*git, "ls-tree", "-r", "-l", "master").splitlines()]
    pack = sum(f.stat().st_size for f in (repo / "objects" / "pack").glob("*.pack"))
    return {"commits": commits, "files": len(sizes), "tree_mb": sum(sizes) / 1e6, "pack_mb": pack / 1e6}


def iter_sizes(repos: list[Path]) -> Iterator[dict[str, float]]:
    seen: set[int] = set()
    for repo in repos:
        ino = min(f.stat().st_ino for f in (repo / "objects" / "pack").glob("*.pack"))
        if ino not in seen:
            seen.add(ino)
            yield describe(repo)
