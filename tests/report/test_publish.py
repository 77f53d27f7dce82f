"""The site is swapped in whole: a reader sees the old site or the new one, never a mix, and a quiet tick
touches nothing. The interleavings are forced with the ``before_swap`` hook, never with sleeps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.report.month import Month, run, services
from thor_cli.errors import ConfigError
from thor_cli.report.publish import MARKER, publish

OLD = {"index.html": "old index", "releases/2021.09.html": "old release", "thor.css": "old css"}
NEW = {
    "index.html": "new index",
    "releases/2021.09.html": "new release",
    "releases/2021.10.html": "new",
    "thor.css": "x",
}


def read_site(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != MARKER
    }


def generations(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.is_dir() and not p.is_symlink() and p.name.startswith(".site."))


def test_a_reader_during_a_rewrite_sees_the_whole_old_site_then_the_whole_new_one(tmp_path: Path) -> None:
    target = tmp_path / "site"
    publish(OLD, target)
    seen: dict[str, dict[str, str]] = {}

    def between_build_and_swap(generation: Path) -> None:
        seen["target"] = read_site(target)  # what a reader gets now
        seen["generation"] = read_site(generation)  # the new site, complete before anyone can see it

    publish(NEW, target, before_swap=between_build_and_swap)
    assert seen == {"target": OLD, "generation": NEW}
    assert read_site(target) == NEW


def test_a_reader_who_started_on_the_old_site_can_finish_it(tmp_path: Path) -> None:
    target = tmp_path / "site"
    first = publish(OLD, target)
    opened = os.open(target / "releases", os.O_RDONLY)  # a reader half-way through the old site
    try:
        second = publish(NEW, target)
        assert sorted(os.listdir(opened)) == ["2021.09.html"]  # still the old one, whole
        assert (first / "releases" / "2021.09.html").read_text() == "old release"
    finally:
        os.close(opened)
    third = publish(OLD, target)
    assert not first.exists()  # two generations back: deleted
    assert generations(tmp_path) == sorted([second, third])  # the current one and the one before


def test_a_failed_build_leaves_the_old_site_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "site"
    publish(OLD, target)
    before = generations(tmp_path)

    def crash(_generation: Path) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish(NEW, target, before_swap=crash)
    assert read_site(target) == OLD
    assert generations(tmp_path) == before


def test_someone_elses_directory_is_never_replaced(tmp_path: Path) -> None:
    foreign = tmp_path / "site"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="non-empty directory Thor did not create"):
        publish(NEW, foreign)
    assert read_site(foreign) == {"notes.txt": "mine"}
    assert generations(tmp_path) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="it is a file"):
        publish(NEW, tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    publish(NEW, empty)  # an empty directory (made for the report) is fine
    assert read_site(empty) == NEW


def test_a_quiet_tick_touches_nothing(month: Month) -> None:
    link = os.readlink(month.site)
    before = {p.name: p.stat().st_mtime_ns for p in generations(month.root)}
    with services(month.root):
        quiet = run(month.config, "tick", "--now", "2021-10-08T09:01")  # load-tests polls at 09:05
    assert quiet.stdout == ""
    assert quiet.exit_code == 1 and "blocked: 2021.10" in quiet.stderr  # blocked, but nothing happened
    assert os.readlink(month.site) == link
    assert {p.name: p.stat().st_mtime_ns for p in generations(month.root)} == before


def test_thor_report_writes_the_site_and_refuses_a_foreign_directory(month: Month, tmp_path: Path) -> None:
    out = tmp_path / "board"
    result = run(month.config, "report", "--out", str(out), "--now", "2021-10-08T09:02")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"report written to {out / 'index.html'}\n"
    assert "2021.10" in (out / "index.html").read_text()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("keep")
    refused = run(month.config, "report", "--out", str(tmp_path / "mine"))
    assert refused.exit_code == 2
    assert refused.stderr.startswith("thor: cannot write the report to ") and refused.stderr.count("\n") == 1
    assert (tmp_path / "mine" / "keep.txt").read_text() == "keep"
