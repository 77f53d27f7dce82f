"""Release codenames from a CSV of ``version,name`` lines, like Gen3's list of release names."""

from __future__ import annotations

import csv
from pathlib import Path

from thor_cli.errors import ConfigError

MAX_CODENAME = 128  # thor_release.codename (thor_cli/store/models.py)


def load_codenames(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"schedule.codenames: cannot read {path}: {exc.strerror}") from None
    names: dict[str, str] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) != 2:
            raise ConfigError(f"{path}:{number}: expected 'version,name', got {','.join(row)!r}")
        version, name = row[0].strip(), row[1].strip()
        if number == 1 and version.lower() == "version":
            continue  # header
        if len(name) > MAX_CODENAME:
            raise ConfigError(f"{path}:{number}: codename {name[:40]!r}... is longer than {MAX_CODENAME} characters")
        names[version] = name
    return names
