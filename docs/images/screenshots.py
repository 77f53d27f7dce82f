"""Make the board screenshots in this folder: ``python docs/images/screenshots.py`` (needs ``chromium``).

A demo sandbox with a ``qa-signoff`` gate runs 2021.09 to the end and 2021.10 to its code freeze, where the gate
waits for a project manager; ``thor report`` writes the site and headless Chromium photographs the board, the
release page and the environments matrix at desktop and phone widths.

The environments page is rendered from ``sample-environments.json`` (the shape of ``thor envs --json``): the
demo has no GitOps repositories for Thor to roll releases out to.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHOTS = {  # file name → (page, width, height)
    "board-desktop.png": ("index.html", 1280, 900),
    "board-phone.png": ("index.html", 390, 844),
    "release-desktop.png": ("releases/2021.10.html", 1280, 900),
    "release-phone.png": ("releases/2021.10.html", 390, 844),
    "environments-desktop.png": ("environments.html", 1280, 1000),
    "environments-phone.png": ("environments.html", 390, 844),
}
GATE = """
[steps.qa-signoff]
uses = "gate"
on = "code_freeze"

[steps.merge-stable]
after = ["load-tests", "qa-signoff"]
"""


def thor(config: Path, *args: str) -> None:
    from thor_cli.cli import main

    code = main(["--config", str(config), "-q", *args])
    if code not in (0, 1):
        raise SystemExit(f"thor {' '.join(args)} exited {code}")


def main() -> None:
    from thor_cli.demo.sandbox import build, demo_environment
    from thor_cli.report import build as site
    from thor_cli.report import data, views
    from thor_cli.report.data import generated_at
    from thor_cli.runtime import Runtime

    root = Path(tempfile.mkdtemp(prefix="thor-shots-"))
    try:
        with demo_environment():
            box = build(root)
            box.config.write_text(box.config.read_text() + GATE)
            for now in ("2021-09-10T09:00", "2021-09-24T09:00"):
                thor(box.config, "tick", "--now", now)
            thor(box.config, "approve", "2021.09", "qa-signoff", "--note", "QA passed", "--now", "2021-09-24T11:00")
            for now in ("2021-09-24T11:05", "2021-10-08T09:00", "2021-10-22T09:00"):
                thor(box.config, "tick", "--now", now)
            out = root / "site"
            thor(box.config, "report", "--out", str(out), "--now", "2021-10-22T14:30")
            rt = Runtime.create(box.config, "2021-10-22T14:30")
            envs = json.loads((HERE / "sample-environments.json").read_text())
            versions = views.matrix_versions(envs, data.releases(rt))
            page = site.Page(
                "environments.html",
                "environments.html",
                {"groups": views.owner_groups(envs, versions), "versions": versions},
            )
            (out / "environments.html").write_text(site.render_page(rt, page, generated=generated_at(rt)))
            rt.close()
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        if browser is None:
            raise SystemExit("needs chromium (apt-get install chromium)")
        for name, (path, width, height) in SHOTS.items():
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--window-size={width},{height}", f"--screenshot={HERE / name}", (out / path).as_uri()],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            print(f"{name}: {(HERE / name).stat().st_size // 1024} KiB", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
