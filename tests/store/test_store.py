"""The store on both backends: schema, releases, compare-and-set claims with leases, the event log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from thor_cli.clock import as_utc
from thor_cli.errors import ConfigError, ServiceUnavailable
from thor_cli.store import Store, leases, open_store, queries
from thor_cli.store.models import Release, ReleaseStatus, StepRun, StepStatus
from thor_cli.store.schema import HEAD_REVISION, current_revision, ensure_schema, upgrade

NOW = datetime(2021, 9, 10, 9, 0, tzinfo=UTC)
TABLES = {"thor_release", "thor_step_run", "thor_repo_result", "thor_event", "thor_outbox", "alembic_version"}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def new_release(version: str = "2021.09", **values: object) -> Release:
    base: dict[str, object] = dict(
        version=version, feature_freeze=datetime(2021, 9, 10, 5, tzinfo=UTC),
        code_freeze=datetime(2021, 9, 24, 5, tzinfo=UTC), integration_branch="integration202109",
        stable_branch="stable", created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    return Release(**(base | values))


def add_run(store: Store, release: Release, name: str = "split-branch") -> StepRun:
    with store.transaction() as session:
        row = StepRun(release_id=release.id, name=name, updated_at=NOW)  # type: ignore[arg-type]
        session.add(row)
        session.commit()
        return row


def test_the_schema_is_created_at_head_and_upgrade_is_idempotent(store: Store) -> None:
    assert set(inspect(store.engine).get_table_names()) >= TABLES
    with store.engine.connect() as connection:
        assert current_revision(connection) == HEAD_REVISION
    assert upgrade(store.engine) == HEAD_REVISION
    ensure_schema(store.engine)
    again = open_store(str(store.engine.url.render_as_string(hide_password=False)))
    again.dispose()
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_open_store_without_schema_only_connects(database_url: str) -> None:
    bare = open_store(database_url, create_schema=False)
    try:
        assert "thor_release" not in inspect(bare.engine).get_table_names()
    finally:
        bare.dispose()


def test_releases_round_trip_with_aware_utc_times(store: Store) -> None:
    with store.transaction() as session:
        release, created = queries.insert_release(session, new_release())
        assert created and release.id is not None
    with store.transaction() as session:
        stored = queries.get_release(session, "2021.09")
        assert stored is not None
        assert as_utc(stored.feature_freeze) == datetime(2021, 9, 10, 5, tzinfo=UTC)
        assert stored.status == ReleaseStatus.ACTIVE and stored.started is True
        assert queries.get_release(session, "2021.10") is None


def test_inserting_a_release_twice_keeps_the_first(store: Store) -> None:
    with store.transaction() as session:
        first, created = queries.insert_release(session, new_release(codename="First"))
    with store.transaction() as session:
        second, created_again = queries.insert_release(session, new_release(codename="Second"))
    assert created and not created_again
    assert second.id == first.id and second.codename == "First"


def test_list_releases_in_calendar_order_and_by_status(store: Store) -> None:
    with store.transaction() as session:
        queries.insert_release(session, new_release("2021.10", feature_freeze=datetime(2021, 10, 8, tzinfo=UTC)))
        queries.insert_release(session, new_release("2021.09", status=ReleaseStatus.BLOCKED))
        queries.insert_release(
            session,
            new_release("2021.08", feature_freeze=datetime(2021, 8, 13, tzinfo=UTC), status="cancelled"),
        )
        assert [r.version for r in queries.list_releases(session)] == ["2021.08", "2021.09", "2021.10"]
        open_ones = queries.list_releases(session, [ReleaseStatus.ACTIVE, ReleaseStatus.BLOCKED])
        assert [r.version for r in open_ones] == ["2021.09", "2021.10"]


def test_a_claim_is_compare_and_set(store: Store) -> None:
    with store.transaction() as session:
        release, _ = queries.insert_release(session, new_release())
    row = add_run(store, release)
    lease = NOW + timedelta(minutes=10)
    with store.transaction() as session:
        mine = leases.claim(session, row, owner="a", holder="{}", lease_until=lease, attempts=StepRun.attempts + 1)
    with store.transaction() as session:  # the same revision read: too late
        theirs = leases.claim(session, row, owner="b", holder="{}", lease_until=lease)
    assert mine and not theirs
    with store.session() as session:
        claimed = leases.reload(session, row.id)  # type: ignore[arg-type]
    assert (claimed.status, claimed.lease_owner, claimed.attempts, claimed.revision) == (StepStatus.RUNNING, "a", 1, 1)
    assert as_utc(claimed.lease_expires_at) == lease  # type: ignore[arg-type]
    # A holder's writes are guarded by its ownership of the lease.
    with store.transaction() as session:
        assert not leases.held(session, row.id, "b", detail="intruder")  # type: ignore[arg-type]
    with store.transaction() as session:
        assert leases.held(session, row.id, "a", state=leases.dump_state({"build": 7}))  # type: ignore[arg-type]
    with store.session() as session:
        saved = leases.reload(session, row.id)  # type: ignore[arg-type]
    assert saved.revision == 2 and leases.load_state(saved) == {"build": 7}
    # Taking over needs the current revision; the old holder can then write nothing.
    with store.transaction() as session:
        assert leases.claim(session, saved, owner="b", holder="{}", lease_until=lease)
    with store.transaction() as session:
        assert not leases.held(session, row.id, "a", detail="lost")  # type: ignore[arg-type]
    with store.session() as session:
        taken = leases.reload(session, row.id)  # type: ignore[arg-type]
    assert (taken.lease_owner, taken.attempts) == ("b", 1)
    with store.transaction() as session:
        assert leases.unheld(session, taken, status=StepStatus.PENDING, lease_owner=None)
    with store.transaction() as session:  # a person's change on a stale read changes nothing
        assert not leases.unheld(session, taken, status=StepStatus.SKIPPED)
        assert session.get(StepRun, row.id).status == StepStatus.PENDING  # type: ignore[union-attr]


def test_one_step_run_per_release_and_name(store: Store) -> None:
    from sqlalchemy.exc import IntegrityError

    with store.transaction() as session:
        release, _ = queries.insert_release(session, new_release())
    add_run(store, release)
    with pytest.raises(IntegrityError):
        add_run(store, release)
    with store.transaction() as session:
        assert list(queries.step_runs(session, release.id)) == ["split-branch"]  # type: ignore[arg-type]


def test_state_survives_garbage() -> None:
    assert leases.load_state(StepRun(release_id=1, name="x", updated_at=NOW, state="not json")) == {}
    assert leases.load_state(StepRun(release_id=1, name="x", updated_at=NOW, state="[1]")) == {}


def test_the_event_log_is_ordered_filtered_and_redacted(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THOR_SLACK_TOKEN", "xoxb-never-stored-1234")
    with store.transaction() as session:
        release, _ = queries.insert_release(session, new_release())
        for index, step in enumerate(["split-branch", None, "load-tests", "split-branch"]):
            queries.add_event(
                session, at=NOW + timedelta(seconds=index), actor="tick", kind="started",
                release_id=release.id, step=step, message=f"event {index} xoxb-never-stored-1234",
                output="token xoxb-never-stored-1234",
            )  # fmt: skip
        everything = queries.events(session, release.id)  # type: ignore[arg-type]
        split = queries.events(session, release.id, "split-branch")  # type: ignore[arg-type]
    assert [e.message for e in everything] == [f"event {i} ***" for i in range(4)]
    assert [e.message for e in split] == ["event 0 ***", "event 3 ***"]
    assert all(e.output == "token ***" for e in everything)


def test_repo_results_upsert(store: Store) -> None:
    with store.transaction() as session:
        release, _ = queries.insert_release(session, new_release())
        for status in ("pending", "succeeded"):
            queries.upsert_repo_result(
                session, release_id=release.id, step="split-branch", repo="uc-cdis/fence", status=status,  # type: ignore[arg-type]
                sha="abc123", detail=status, data={"n": 1}, now=NOW,
            )  # fmt: skip
        queries.upsert_repo_result(
            session, release_id=release.id, step="split-branch", repo="uc-cdis/arborist", status="failed",  # type: ignore[arg-type]
            sha=None, detail="no", data={}, now=NOW,
        )  # fmt: skip
        rows = queries.repo_results(session, release.id, "split-branch")  # type: ignore[arg-type]
        assert [(r.repo, r.status) for r in rows] == [
            ("uc-cdis/arborist", "failed"),
            ("uc-cdis/fence", "succeeded"),
        ]
        assert queries.repo_results(session, release.id, "merge-stable") == []  # type: ignore[arg-type]


def test_step_counts(store: Store) -> None:
    with store.transaction() as session:
        release, _ = queries.insert_release(session, new_release())
    for name in ("a", "b", "c"):
        add_run(store, release, name)
    with store.transaction() as session:
        runs = queries.step_runs(session, release.id)  # type: ignore[arg-type]
        leases.unheld(session, runs["a"], status=StepStatus.SUCCEEDED)
        assert queries.step_counts(session) == {release.id: {"pending": 2, "succeeded": 1}}


def test_an_unreachable_database_is_service_unavailable_without_the_password() -> None:
    with pytest.raises(ServiceUnavailable) as caught:
        open_store("postgresql://thor:pa55word-xyz@127.0.0.1:1/thor")
    assert "pa55word-xyz" not in caught.value.message
    assert "127.0.0.1:1" in caught.value.message


def test_an_unsupported_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported database url"):
        open_store("mysql://thor:secret-pw@db/thor")
    with pytest.raises(ConfigError) as caught:
        open_store("mysql://thor:secret-pw@db/thor")
    assert "secret-pw" not in caught.value.message


def test_postgres_urls_use_psycopg2(postgres_url: str) -> None:
    bare = postgres_url.replace("postgresql://", "postgres://", 1)
    for url in (postgres_url, bare):
        opened = open_store(url)
        try:
            assert opened.dialect == "postgresql"
            assert opened.engine.dialect.driver == "psycopg2"
        finally:
            opened.dispose()


def test_an_sqlite_file_is_written_ahead_and_synced_at_checkpoints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # WAL (readers beside a writer) with synchronous=NORMAL (no fsync per commit): see docs/architecture.md.
    store = open_store(f"sqlite:///{tmp_path / 'thor.db'}")
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        store.dispose()
