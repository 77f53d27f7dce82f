"""Hand steering that tells the truth: refusals are one line, exit 2, and write and post nothing."""

from __future__ import annotations

import pytest

from tests.engine.conftest import Thor

NOTIFY = '[notify]\nfile = "slack.log"\n'
GATE = {"merge-stable": 'uses = "gate"\non = "code_freeze"\nafter = ["load-tests"]\n'}


def messages(thor: Thor) -> list[str]:
    path = thor.dir / "slack.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_cancelled_release_refuses_retry_skip_and_approve_and_posts_nothing(thor: Thor) -> None:
    thor.configure(GATE, extra=NOTIFY)
    assert thor.tick("2021-09-10").exit_code == 0
    assert thor("release", "cancel", "2021.09", "--reason", "no release this month").exit_code == 0
    before, posted = thor.dump(), messages(thor)
    for args in (
        ("retry", "2021.09", "load-tests"),
        ("skip", "2021.09", "merge-stable", "--reason", "x"),
        ("approve", "2021.09", "merge-stable"),
        ("step", "merge-stable", "2021.09"),
    ):
        refused = thor(*args)
        assert refused.exit_code == 2, (args, refused.stderr)
        assert refused.stderr.count("\n") == 1 and "cancelled" in refused.stderr, (args, refused.stderr)
    assert thor.dump() == before and messages(thor) == posted
    [release] = thor.status()["releases"]
    assert (release["status"], release["next_step"]) == ("cancelled", None)


def test_retry_of_a_step_that_never_ran_is_refused(thor: Thor) -> None:
    assert thor.tick("2021-09-10").exit_code == 0
    before = thor.dump()
    refused = thor("retry", "2021.09", "merge-stable")  # waits for code freeze: it never ran
    assert refused.exit_code == 2 and "has not run yet" in refused.stderr
    assert thor.dump() == before


def test_a_release_rescheduled_before_it_starts_is_pending_and_its_move_is_shown_and_told(thor: Thor) -> None:
    thor.configure(extra=NOTIFY)
    moved = thor(
        "release", "reschedule", "2021.09", "--feature-freeze", "2021-09-13", "--code-freeze", "2021-09-27",
        "--now", "2021-09-01",
    )  # fmt: skip
    assert moved.exit_code == 0, moved.stderr
    [release] = thor.status(now="2021-09-01")["releases"]
    assert (release["status"], release["next_step"]) == ("pending", None)
    calendar = thor("calendar", "--json", "--from", "2021-09", "--months", "1", "--now", "2021-09-01").json()
    assert [(c["version"], c["feature_freeze"], c["code_freeze"], c["moved"]) for c in calendar] == [
        ("2021.09", "2021-09-13", "2021-09-27", True)
    ]
    table = thor("calendar", "--from", "2021-09", "--months", "1", "--now", "2021-09-01")
    assert "(moved)" in table.stdout
    assert [e["kind"] for e in thor.events()] == ["release-rescheduled"]
    assert messages(thor) == []  # no thread before the release starts: the news waits for it
    assert thor.tick("2021-09-13").exit_code == 0
    assert any("rescheduled by" in line for line in messages(thor))


def test_a_feature_freeze_moved_past_the_next_release_needs_force(thor: Thor) -> None:
    args = ("release", "reschedule", "2021.09", "--feature-freeze", "2021-10-08", "--code-freeze", "2021-10-20")
    assert thor("db", "upgrade").exit_code == 0
    before = thor.dump()
    refused = thor(*args, "--now", "2021-09-01")
    assert refused.exit_code == 2 and "2021.10" in refused.stderr and "--force" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert thor.dump() == before
    assert thor(*args, "--force", "--now", "2021-09-01").exit_code == 0


def test_starting_a_release_more_than_a_cycle_ahead_needs_force(thor: Thor) -> None:
    refused = thor("release", "start", "2021.12", "--now", "2021-09-01")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert thor("release", "start", "2021.12", "--now", "2021-09-01", "--force").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("release", "start", "2021.09"),
        ("release", "cancel", "2021.09"),
        ("release", "reschedule", "2021.09", "--feature-freeze", "2021-09-13", "--code-freeze", "2021-09-27"),
    ],
    ids=lambda a: a[1],
)
def test_release_commands_take_dry_run_and_change_nothing(thor: Thor, args: tuple[str, ...]) -> None:
    assert thor("db", "upgrade").exit_code == 0  # the database exists, empty
    before = thor.dump()
    result = thor(*args, "--dry-run", "--now", "2021-09-01")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("would ")
    assert thor.dump() == before
