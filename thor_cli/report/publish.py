"""Put a rendered site in place so that a reader never sees half of it.

Each rewrite builds a complete new *generation* in a hidden directory next to the target
(``.board.<random>`` beside ``board``), then points ``board`` at it by renaming a fresh symbolic link over
the old one: ``rename(2)`` replaces it in one step, so a reader resolving ``board/index.html`` finds either
the whole old site or the whole new one. The previous generation is kept (a reader that started on it can
finish); older ones are deleted, under a lock file so that two ticks publishing together cannot delete each
other's. Only directories carrying Thor's marker file are ever deleted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from thor_cli import __version__
from thor_cli.errors import ConfigError

MARKER = ".thor-report"


def generation_prefix(target: Path) -> str:
    return f".{target.name}."


def publish(files: Mapping[str, str], target: Path, *, before_swap: Callable[[Path], None] | None = None) -> Path:
    """Write ``files`` (relative path → text) as a new generation and swap ``target`` to it; returns it."""
    target = Path(os.path.abspath(target.expanduser()))
    _check_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write the report in {target.parent}: {exc.strerror}") from None
    with _locked(target):  # two ticks finishing together publish one after the other
        try:
            generation = Path(tempfile.mkdtemp(prefix=generation_prefix(target), dir=target.parent))
        except OSError as exc:
            raise ConfigError(f"cannot write the report in {target.parent}: {exc.strerror}") from None
        try:
            _write(generation, files)
            if before_swap is not None:
                before_swap(generation)  # tests look at the target here: it must still be the old site
            previous = _swap(target, generation)
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        _prune(target, keep={generation.resolve(), *([previous] if previous else [])})
    return generation


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    import fcntl

    path = target.parent / f"{generation_prefix(target)}lock"
    try:
        handle = open(path, "a")  # noqa: SIM115  (held for the block)
    except OSError as exc:
        raise ConfigError(f"cannot write the report in {target.parent}: {exc.strerror}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _check_target(target: Path) -> None:
    if target.is_symlink() or not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(f"cannot write the report to {target}: it is a file")
    if any(target.iterdir()):
        # A directory Thor did not make: never replace (or delete) someone's files.
        raise ConfigError(f"cannot write the report to {target}: it is a non-empty directory Thor did not create")


def _write(root: Path, files: Mapping[str, str]) -> None:
    # The marker first: a generation left half-written by a killed process is Thor's, so the next one prunes it.
    try:
        (root / MARKER).write_text(f"written by thor {__version__}\n", encoding="utf-8")
        base = root.resolve()
        for relative, text in files.items():
            path = root / relative
            if base not in path.resolve().parents:
                raise ConfigError(f"refusing to write {relative!r} outside the report")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        root.chmod(0o755)  # mkdtemp makes it private; the site is meant to be read by a web server
    except OSError as exc:
        raise ConfigError(f"cannot write the report in {root.parent}: {exc.strerror}") from None


def _swap(target: Path, generation: Path) -> Path | None:
    """Point ``target`` at ``generation`` in one rename; returns the generation it pointed at before."""
    previous = None
    if target.is_symlink():
        previous = (target.parent / os.readlink(target)).resolve()
    elif target.is_dir():
        target.rmdir()  # empty (checked): nothing a reader could miss
    link = target.parent / f"{generation_prefix(target)}link-{generation.name.rsplit('.', 1)[-1]}"
    try:
        os.symlink(generation.name, link)  # relative: the site survives its parent being moved or mounted
        os.replace(link, target)
    except OSError as exc:
        link.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the report to {target}: {exc.strerror}") from None
    return previous


def _prune(target: Path, keep: set[Path]) -> None:
    for candidate in target.parent.glob(generation_prefix(target) + "*"):
        if candidate.is_symlink() or not candidate.is_dir() or candidate.resolve() in keep:
            continue
        if (candidate / MARKER).is_file():
            shutil.rmtree(candidate, ignore_errors=True)
