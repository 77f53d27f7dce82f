"""What the board shows at each moment of a real month (SQLite and PostgreSQL), and that nothing from outside
(a pull request title, a step's output, an approval note) reaches a page unescaped."""

from __future__ import annotations

import re

from tests.report.month import HOSTILE_OUTPUT, HOSTILE_OWNER, HOSTILE_TITLE, TIMEZONE, Month, run


def text(html: str) -> str:
    """A page's text without its tags and with its whitespace folded, to assert on what a reader sees."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_every_page_is_self_contained_and_says_when_it_was_generated(month: Month) -> None:
    for moment, files in month.snapshots.items():
        pages = {path: html for path, html in files.items() if path.endswith(".html")}
        assert {"index.html", "environments.html", "calendar.html", "releases/2021.09.html",
                "owners/ada-lovelace.html"} <= set(pages)  # fmt: skip
        for path, html in pages.items():
            depth = "../" * path.count("/")
            assert f'<link rel="stylesheet" href="{depth}thor.css">' in html, (moment, path)
            assert "<script" not in html.lower(), (moment, path)  # no JavaScript, and nothing hostile
            assert not re.search(r'(src|href)="(https?:)?//(?!127\.0\.0\.1)', html), (moment, path)  # no CDN
            assert f"Times are in {TIMEZONE}" in html
        assert files["thor.css"].startswith("/* Thor release board")
    generated = text(month.snapshots["retrying"]["index.html"])
    assert f"Generated 2021-09-10 09:05 {TIMEZONE}" in generated  # --now 09:05 local, not UTC


def test_feature_freeze_day_a_repository_retrying(month: Month) -> None:
    board = text(month.snapshots["retrying"]["index.html"])
    assert "2021.09" in board and "active" in board and "in feature freeze" in board
    assert "1 of 9 steps done" in board  # the JIRA version exists; split-branch waits for its retry
    assert "Waiting for split-branch ( · pending ): attempt 1/3 failed: 1 of 3 repos failed" in board
    assert "retry after 2021-09-10 15:00 UTC, since 2021-09-10 09:00" in board
    assert "Who must act nobody: Thor moves on by itself" in board
    page = month.snapshots["retrying"]["releases/2021.09.html"]
    split = page.split("<caption>split-branch: failed repositories first</caption>")[1].split("</table>")[0]
    repos = re.findall(r'data-label="Repository">([^<]+)<', split)
    assert repos == ["uc-cdis/peregrine", "uc-cdis/fence", "uc-cdis/indexd"]  # the failed one first
    assert "pushes are frozen" in text(split)


def test_code_freeze_the_gate_names_who_must_act(month: Month) -> None:
    board = text(month.snapshots["gate"]["index.html"])
    assert "in code freeze" in board
    assert "Waiting for qa-signoff ( ◷ waiting ): waiting for thor approve 2021.09 qa-signoff" in board
    assert "Who must act an approver: thor approve 2021.09 qa-signoff" in board
    assert "<code>thor approve 2021.09 qa-signoff</code>" in month.snapshots["gate"]["index.html"]
    assert "5 of 9 steps done" in board


def test_released_the_release_page_has_steps_links_results_notes_and_the_log(month: Month) -> None:
    files = month.snapshots["released"]
    board = text(files["index.html"])
    assert "Past releases" in board and "2021.09 ✓ released 2021-09-10 2021-09-24 9 of 9" in board
    assert "Next: 2021.10 Phase before feature freeze Feature freeze 2021-10-08" in board
    page = files["releases/2021.09.html"]
    seen = text(page)
    for step in ("create-jira-release", "split-branch", "load-tests", "release-notes", "smoke", "qa-signoff",
                 "merge-stable", "mark-released", "announce"):  # fmt: skip
        assert f'data-label="Step">{step}<br>' in page
    assert re.search(r'<a href="http://127\.0\.0\.1:\d+/job/gen3-load-tests/1/">open</a>', page)  # Jenkins build
    assert re.search(r'<a href="http://127\.0\.0\.1:\d+/projects/GEN3/versions/\d+">open</a>', page)  # JIRA
    assert re.search(r"Slack thread #C\w+, message \d+\.\d+", seen)  # the channel's id, the thread's ts
    assert "merge-stable: failed repositories first" in page and "2021.09 tagged" in seen
    # The notes, rendered: headings per repository, each pull request; the hostile title as text.
    notes = page.split('<section class="notes"')[1].split("</section>")[0]
    assert "<h2>uc-cdis/fence</h2>" in notes and "Add data upload endpoint (#10)" in notes
    assert "&lt;script&gt;alert(&quot;pr&quot;)&lt;/script&gt; Fix pagination (#11)" in notes
    # The event log: who did what, the approval note escaped.
    assert "approved by " in seen and "QA &lt;b&gt;ok&lt;/b&gt;" in page
    assert "release-released" in seen


def test_blocked_release_first_on_the_board_with_who_must_act(month: Month) -> None:
    files = month.snapshots["blocked"]
    board = text(files["index.html"])
    assert board.index("2021.10") < board.index("Past releases") < board.index("2021.09")
    assert "blocked" in board
    assert "Waiting for smoke ( ✗ failed ): python3" in board
    assert "a release engineer: thor retry 2021.10 smoke or thor skip 2021.10 smoke --reason …" in board
    page = files["releases/2021.10.html"]
    escaped = "&lt;script&gt;alert(&#34;out&#34;)&lt;/script&gt;"
    assert escaped in page  # in the step's detail and in the event log's captured output
    assert HOSTILE_OUTPUT not in page and HOSTILE_TITLE not in page


def test_calendar_page_and_feed_are_what_thor_calendar_prints(month: Month) -> None:
    files = month.snapshots["released"]
    ics = run(month.config, "calendar", "--ics", "--now", "2021-09-24T12:00").stdout
    assert (
        files["calendar.ics"].replace("\r\n", "\n").split("DTSTAMP")[0] == ics.replace("\r\n", "\n").split("DTSTAMP")[0]
    )
    assert [line for line in files["calendar.ics"].splitlines() if "DTSTAMP" not in line] == [
        line for line in ics.splitlines() if "DTSTAMP" not in line
    ]
    cycles = run(month.config, "calendar", "--json", "--now", "2021-09-24T12:00").json()
    page = text(files["calendar.html"])
    for cycle in cycles:
        assert f"{cycle['version']}" in page and cycle["feature_freeze"] in page and cycle["code_freeze"] in page
    assert "2021.10 (next)" in page
    assert 'href="calendar.ics" type="text/calendar"' in files["calendar.html"]


def test_environments_grouped_by_owner_each_with_a_page(month: Month) -> None:
    files = month.snapshots["released"]
    envs = run(month.config, "envs", "--json", "--now", "2021-09-24T12:00").json()
    assert sorted(e["name"] for e in envs["environments"]) == ["prod-brh", "qa-niaid"]
    page = files["environments.html"]
    assert "&lt;i&gt;Mallory&lt;/i&gt; &amp; co" in page and HOSTILE_OWNER not in page
    assert '<a href="owners/ada-lovelace.html">Ada Lovelace</a>' in page
    assert '<a href="owners/i-mallory-i-co.html">' in page
    seen = text(page)
    # One column for the one release that ran; no rollout has merged anywhere (they are off in this month).
    assert "Environment Stage Runs 2021.09 qa-niaid uc-cdis/gen3-gitops qa-niaid qa not known ! behind" in seen
    owner = text(files["owners/ada-lovelace.html"])
    assert "Environments of Ada Lovelace" in owner and "qa-niaid" in owner and "prod-brh" not in owner


def test_thor_tick_wrote_the_site_through_report_dir(month: Month) -> None:
    assert month.site.is_symlink()
    index = (month.site / "index.html").read_text()
    assert "Generated 2021-10-08 09:0" in text(index)  # the last tick that changed something
    assert (month.site / "releases" / "2021.10.html").is_file() and (month.site / "calendar.ics").is_file()


def test_a_release_page_shows_each_environments_rollout(month: Month) -> None:
    """The rollout rows are of the shape ``thor status VERSION --json`` gives (environments.view.release_rollouts);
    this month runs no rollout (no registry), so one row of that shape is added to the release's real data."""
    from thor_cli.report import build, data
    from thor_cli.runtime import Runtime

    rt = Runtime.create(month.config, "2021-09-24T12:00")
    try:
        detail = data.release_page(rt, "2021.09")
        assert detail["environments"] == []  # the rollout steps are off here
        detail["environments"] = [
            {"name": "prod-brh", "step": "rollout", "owner": HOSTILE_OWNER, "tag": "2021.09", "status": "opened",
             "pr_number": 3531, "pr_url": "https://github.com/uc-cdis/cdis-manifest/pull/3531",
             "opened_at": "2021-09-24T15:00:00+00:00", "merged_at": None, "approvals": 0},
        ]  # fmt: skip
        page = build.Page("releases/2021.09.html", "release.html", {"release": detail})
        html = build.render_page(rt, page, generated=data.generated_at(rt))
    finally:
        rt.close()
    row = html.split('data-label="Environment">prod-brh</th>')[1].split("</tr>")[0]
    assert "&lt;i&gt;Mallory&lt;/i&gt; &amp; co" in row and "◷</span> opened" in row
    assert "2021-09-24 10:00" in row  # 15:00 UTC, shown in America/Chicago
    assert '<a href="https://github.com/uc-cdis/cdis-manifest/pull/3531">#3531</a>' in row
