"""The repositories a release covers, from ``[repos]`` in thor.toml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thor_cli.errors import ConfigError

if TYPE_CHECKING:
    from thor_cli.config import Settings


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
    names = [name.strip() for name in config.names if name.strip()]
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
        names.append(name)
    return names
