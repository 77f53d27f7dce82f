"""``[report]``: where ``thor tick`` keeps the release board up to date (see docs/report.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class ReportConfig(BaseModel):
    # The same rules as every other section of thor.toml (thor_cli.config.Section), restated here so this
    # module does not import thor_cli.config, which imports it.
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The site directory; relative paths are relative to thor.toml. None: ticks write no report.
    dir: Path | None = None
