"""The repositories a release covers, from ``[repos]`` in thor.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thor_cli.errors import ConfigError

if TYPE_CHECKING:
    from thor_cli.config import Settings

# One segment of ``owner/name`` (just ``name`` when the url template holds the owner; GitLab subgroups add more):
# the characters GitHub and GitLab allow, never starting with "-" (git would read it as an option) and never
# "." or ".." (a path escape).
_SEGMENT = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*$")
MAX_NAME = 255  # thor_repo_result.repo (thor_cli/store/models.py)


def check_name(name: str, where: str = "") -> str:
    """A repository name as ``[repos]`` may list it; a ValueError naming ``where`` and the entry otherwise."""
    prefix = f"{where}: " if where else ""
    if not name.strip():
        raise ValueError(f"{prefix}empty repository name (use owner/name, like uc-cdis/fence)")
    if len(name) > MAX_NAME:
        raise ValueError(f"{prefix}repository name {name[:40]!r}... is longer than {MAX_NAME} characters")
    segments = name.split("/")
    if any(not _SEGMENT.match(s) or s in (".", "..") for s in segments):
        raise ValueError(
            f"{prefix}invalid repository name {name!r} (use owner/name of letters, digits, '.', '_' and '-', "
            "not starting with '-', like uc-cdis/fence)"
        )
    return name


def check_branch(branch: str) -> str:
    """A branch name from the configuration: git would take a leading "-" as an option."""
    if not branch.strip() or branch.startswith("-") or any(c.isspace() or ord(c) < 32 for c in branch):
        raise ValueError(f"invalid branch name {branch!r} (it must not be empty, start with '-' or contain spaces)")
    return branch


def check_url(url: str) -> str:
    """A clone URL (or template): git would take a leading "-" as an option, and whitespace is never meant."""
    if not url.strip() or url.startswith("-") or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError(f"invalid repository url {url!r} (it must not be empty, start with '-' or contain spaces)")
    return url


@dataclass(frozen=True)
class Repo:
    name: str
    url: str
    source_branch: str | None  # None: the remote's default branch
    stable_branch: str | None  # None: the release's stable branch


def load_repos(settings: Settings) -> list[Repo]:
    """``repos.names`` then the names in ``repos.file``, duplicates dropped (first kept), each with its URL
    and per-repository overrides; repositories overridden with ``enabled = false`` are left out."""
    config = settings.config.repos
    names = list(config.names)  # validated by the configuration (check_name)
    if config.file is not None:
        names += _read_names(settings.resolve(config.file))
    repos = []
    for name in dict.fromkeys(names):
        override = config.overrides.get(name)
        if override is not None and not override.enabled:
            continue
        url = (override.url if override and override.url else None) or config.url.replace("{repo}", name)
        source = (override.source_branch if override else None) or config.source_branch
        stable = override.stable_branch if override else None
        repos.append(Repo(name=name, url=url, source_branch=source or None, stable_branch=stable or None))
    return repos


def _read_names(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"repos.file: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"repos.file: cannot read {path}: {exc}") from None
    names = []
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if any(c.isspace() for c in name):
            raise ConfigError(f"repos.file: {path}:{number}: one repository name per line, got {name!r}")
        try:
            names.append(check_name(name, f"repos.file: {path}:{number}"))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return names
