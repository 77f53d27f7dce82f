"""``thor demo``: a whole release cycle in a throw-away sandbox, with nothing installed but python3 and git.

``sandbox`` builds the sandbox (local bare repositories with a realistic history, a ``thor.toml`` for them,
an SQLite database); ``run`` drives the cycle through the real CLI with ``--now`` (time travel).

The cycle is a fixed past one, so every run is the same: release 2021.09, feature freeze Friday 2021-09-10,
code freeze Friday 2021-09-24, the previous release tagged 2021.08 in every repository. This module holds
that scenario: the dates, the sandbox's file names, the repositories and their pull requests.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "2021.09"
PREVIOUS_VERSION = "2021.08"
INTEGRATION_BRANCH = "integration202109"
STABLE_BRANCH = "stable"
FEATURE_FREEZE = "2021-09-10T09:00"
BETWEEN = "2021-09-17T09:00"
CODE_FREEZE = "2021-09-24T09:00"
BEFORE = "2021-09-01T09:00"  # when the demo looks at the calendar

# Files and folders a sandbox is made of: only these are removed when a sandbox is rebuilt.
MARKER = ".thor-demo"
CONFIG_NAME = "thor.toml"
DATABASE_NAME = "thor.db"
MESSAGES_LOG = "slack-messages.log"
NOTES_DIR = "release-notes"
REMOTES_DIR = "remotes"
SCRIPTS_DIR = "scripts"
REPORT_DIR = "report"  # the release board (a link to a hidden generation directory beside it)

# The repositories: named like Gen3's, each with pull requests released in 2021.08 and more since.
ORG = "uc-cdis"
GITHUB = ("GitHub", "noreply@github.com")
DEVELOPERS = (
    ("Ada Lovelace", "ada@example.org"),
    ("Grace Hopper", "grace@example.org"),
    ("Alan Turing", "alan@example.org"),
)


@dataclass(frozen=True)
class PR:
    number: int
    title: str
    path: str
    squash: bool = False


@dataclass(frozen=True)
class Commit:
    """A commit pushed straight to the default branch (not a pull request: not in the release notes)."""

    message: str
    path: str
    content: str


@dataclass(frozen=True)
class RepoPlan:
    name: str
    files: dict[str, str]
    before: tuple[PR | Commit, ...]  # released in 2021.08
    after: tuple[PR | Commit, ...] = ()  # to be released in 2021.09
    hotfixes: tuple[PR | Commit, ...] = ()  # merged into stable after 2021.08 (not on master)


REPOS = (
    RepoPlan(
        "fence",
        {
            "README.md": "# Fence\n\nThe Gen3 authentication and authorization service.\n",
            "fence/__init__.py": "",
            "pyproject.toml": '[tool.poetry]\nname = "fence"\nversion = "5.2.0"\n',
        },
        (
            PR(923, "Add support for RAS passports", "fence/resources/ga4gh/passports.py"),
            PR(931, "Fix presigned URL expiry for GCS", "fence/blueprints/data/indexd.py", squash=True),
        ),
        (
            PR(944, "Rotate Google service account keys daily", "fence/resources/google/access_utils.py"),
            PR(947, "Fix refresh token reuse after logout", "fence/blueprints/oauth2.py", squash=True),
            Commit(
                "Bump version to 5.3.0",
                "pyproject.toml",
                '[tool.poetry]\nname = "fence"\nversion = "5.3.0"\n',
            ),
            PR(952, "Accept passports in the DRS access endpoint", "fence/blueprints/ga4gh.py"),
        ),
        (PR(940, "Pin cryptography below 3.4 for the Google client", "requirements.txt", squash=True),),
    ),
    RepoPlan(
        "indexd",
        {"README.md": "# Indexd\n\nThe Gen3 data indexing service.\n", "indexd/__init__.py": ""},
        (PR(301, "Paginate the bulk documents endpoint", "indexd/bulk/blueprint.py"),),
        (
            PR(309, "Support bundles in the GA4GH DRS API", "indexd/drs/blueprint.py"),
            PR(312, "Fix alias lookup for records with the same hash", "indexd/alias/driver.py", squash=True),
        ),
    ),
    RepoPlan(
        "sheepdog",
        {"README.md": "# Sheepdog\n\nThe Gen3 data submission service.\n", "sheepdog/__init__.py": ""},
        (PR(352, "Validate enum values case-insensitively", "sheepdog/utils/validators.py"),),
        (
            PR(358, "Allow deleting nodes with orphaned links", "sheepdog/transactions/deletion.py"),
            PR(361, "Speed up bulk submission transactions", "sheepdog/transactions/upload.py", squash=True),
            PR(363, "Upgrade gen3datamodel to 3.0.2", "requirements.txt"),
        ),
    ),
    RepoPlan(
        "peregrine",
        {"README.md": "# Peregrine\n\nThe Gen3 GraphQL query service.\n", "peregrine/__init__.py": ""},
        (PR(183, "Add a GraphQL query timeout setting", "peregrine/config.py"),),
        (
            PR(
                190,
                "Fix data node queries with filters",
                "peregrine/resources/submission/graphql/node.py",
                squash=True,
            ),
        ),
    ),
    RepoPlan(
        "cdis-manifest",
        {
            "README.md": "# cdis-manifest\n\nThe manifests of the Gen3 commons run by CTDS.\n",
            "gen3.datacommons.io/manifest.json": '{"versions": {}}\n',
        },
        (PR(3480, "Update qa-niaid to 2021.07", "qa-niaid.planx-pla.net/manifest.json"),),
        (
            PR(3512, "Roll out 2021.08 to gen3.datacommons.io", "gen3.datacommons.io/manifest.json"),
            PR(
                3527,
                "Turn on the discovery page for the staging portal",
                "staging.datacommons.io/portal.json",
                squash=True,
            ),
        ),
    ),
)

LOAD_TESTS_SCRIPT = '''\
#!/usr/bin/env python3
"""A stand-in for Gen3's Jenkins load-test job, in the `thor demo` sandbox.

Thor runs it as a `command` step (see thor.toml) with the release and its integration branch as arguments;
the step succeeds when it exits 0. The real job deploys the branch and runs k6 scenarios against it.
Set DEMO_LOAD_TESTS_FAIL=1 to see a failing run.
"""

import os
import sys
import zlib

SCENARIOS = [
    ("fence", "/user/user"),
    ("fence", "/data/download/{guid}"),
    ("indexd", "/index?limit=1024"),
    ("sheepdog", "/api/v0/submission/{program}/{project}"),
    ("peregrine", "/api/v0/submission/graphql"),
]


def main(version: str, branch: str) -> int:
    failing = bool(os.environ.get("DEMO_LOAD_TESTS_FAIL"))
    print(f"Gen3 load tests for release {version} on {branch}")
    print(f"  {'service':<10} {'endpoint':<40} {'requests':>8} {'p95 ms':>7} {'errors':>6}")
    for number, (service, endpoint) in enumerate(SCENARIOS):
        seed = zlib.crc32(f"{version} {endpoint}".encode())
        errors = 37 if failing and number == 1 else 0
        print(f"  {service:<10} {endpoint:<40} {1000 + seed % 500:>8} {80 + seed % 220:>7} {errors:>6}")
    if failing:
        print("FAILED: 37 errors on fence /data/download/{guid}")
        return 1
    print("PASSED: no errors, every p95 under 500 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
'''
