"""The environment × release matrix and the owners' pages, from data of the shape ``thor envs --json`` prints
(``thor_cli.environments.view.overview``), rendered through the real templates."""

from __future__ import annotations

import re
from typing import Any

from thor_cli.report import views

RELEASES = [  # `thor status --json`'s releases, newest first (as report.data.releases returns them)
    {"version": "2021.10", "status": "active"},
    {"version": "2021.09", "status": "released"},
    {"version": "2021.08", "status": "released"},
]


def rollout(version: str, status: str, number: int | None = None, **times: str) -> dict[str, Any]:
    url = f"https://github.com/uc-cdis/gen3-gitops/pull/{number}" if number else None
    return {"version": version, "status": status, "pr_number": number, "pr_url": url, "opened_at": times.get("opened"),
            "merged_at": times.get("merged"), "approvals": 0}  # fmt: skip


def env(name: str, owner: str | None, release: str | None, *rollouts: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "owner": owner, "slack_user": None, "stage": "qa", "repo": "uc-cdis/gen3-gitops",
            "path": name, "format": "helm-values", "release": release, "rollouts": list(rollouts)}  # fmt: skip


ENVS = {
    "environments": [
        env("qa", "Ada", "2021.10",
            rollout("2021.09", "merged", 5, merged="2021-09-24T15:00:00+00:00"),
            rollout("2021.10", "merged", 9, merged="2021-10-22T15:00:00+00:00")),
        env("staging", "Ada", "2021.09",
            rollout("2021.09", "merged", 6, merged="2021-09-25T15:00:00+00:00"),
            rollout("2021.10", "opened", 10, opened="2021-10-22T15:10:00+00:00")),
        env("prod", "<b>Grace</b> & co", "2021.08", rollout("2021.09", "declined", 7)),
        env("dev", None, None, rollout("2021.10", "waiting")),
    ]
}  # fmt: skip


def test_matrix_cells_say_on_it_pr_open_since_declined_behind() -> None:
    versions = views.matrix_versions(ENVS, RELEASES)
    assert versions == ["2021.08", "2021.09", "2021.10"]
    groups = views.owner_groups(ENVS, versions)
    assert [(g.owner, g.slug) for g in groups] == [("<b>Grace</b> & co", "b-grace-b-co"), ("Ada", "ada"),
                                                   ("no owner", "no-owner")]  # fmt: skip
    rows = {e["name"]: [(c.text, c.since) for c in cells] for g in groups for e, cells in g.rows}
    assert rows["qa"] == [("on a later release", None), ("merged", "2021-09-24T15:00:00+00:00"),
                          ("on it", "2021-10-22T15:00:00+00:00")]  # fmt: skip
    assert rows["staging"] == [("on a later release", None), ("on it", "2021-09-25T15:00:00+00:00"),
                               ("PR open", "2021-10-22T15:10:00+00:00")]  # fmt: skip
    assert rows["prod"] == [("on it", None), ("declined", None), ("behind", None)]
    assert rows["dev"] == [("behind", None), ("behind", None), ("waiting", None)]
    assert views.owners_to_act(ENVS, "2021.10") == [
        {"owner": "Ada", "environment": "staging", "pr_url": "https://github.com/uc-cdis/gen3-gitops/pull/10"}
    ]


def test_a_release_older_than_the_one_an_environment_runs_is_not_behind() -> None:
    versions = ["2021.08", "2021.09", "2021.10"]
    cell = views.cell(env("x", "A", "2021.10"), "2021.09", versions)
    assert (cell.text, cell.status) == ("on a later release", "later")


def test_slugs_are_file_names_and_unique() -> None:
    envs = {"environments": [env("a", "../../etc", None), env("b", "Ops", None), env("c", "ops", None)]}
    slugs = [g.slug for g in views.owner_groups(envs, [])]
    assert slugs == ["etc", "ops", "ops-2"]


def test_the_environments_pages_escape_owners_and_link_pull_requests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from thor_cli.report import build
    from thor_cli.runtime import Runtime

    rt = Runtime.create(None, "2021-10-23T12:00")
    versions = views.matrix_versions(ENVS, RELEASES)
    groups = views.owner_groups(ENVS, versions)
    generated = {"iso": "2021-10-23T12:00:00+00:00", "text": "2021-10-23 12:00", "timezone": "UTC"}
    page = build.Page("environments.html", "environments.html", {"groups": groups, "versions": versions})
    html = build.render_page(rt, page, generated=generated)
    assert "&lt;b&gt;Grace&lt;/b&gt; &amp; co" in html and "<b>Grace" not in html
    assert '<a href="owners/b-grace-b-co.html">' in html
    staging = html.split('data-label="Environment">staging')[1].split("</tr>")[0]
    cells = re.findall(r'<td data-label="(2021\.\d\d)">(.*?)</td>', staging, re.S)
    assert [v for v, _ in cells] == versions
    assert "PR open" in cells[2][1] and "since <time" in cells[2][1] and "2021-10-22" in cells[2][1]
    assert '<a href="https://github.com/uc-cdis/gen3-gitops/pull/10">pull request</a>' in cells[2][1]
    assert 'aria-hidden="true">✓</span> on it' in cells[1][1]  # an icon and a word, not a colour alone
    ada = build.Page("owners/ada.html", "owner.html", {"group": groups[1], "versions": versions})
    owner = build.render_page(rt, ada, generated=generated)
    assert "Environments of Ada" in owner and 'href="../thor.css"' in owner and "prod" not in owner
    rt.close()


def test_backticked_commands_become_code_and_everything_else_stays_escaped() -> None:
    from thor_cli.report.build import code_spans

    shown = str(code_spans("run `thor approve 2021.09 gate` & `<script>x</script>` <b>now</b>"))
    assert shown == (
        "run <code>thor approve 2021.09 gate</code> &amp; <code>&lt;script&gt;x&lt;/script&gt;</code> "
        "&lt;b&gt;now&lt;/b&gt;"
    )
