"""Storage on SQLite and PostgreSQL: migrations that keep rows, an audit table the database
itself keeps append-only, and a unit of work that commits concurrent writes together."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from app.audit.events import TOKEN_ISSUED, AuditEvent, recording
from app.ops import metrics
from app.storage import Storage, StorageUnavailableError
from app.storage.appends import AppendRows
from app.storage.engine import create_storage_engine
from app.storage.migrate import migration_status, upgrade
from app.storage.schema import (
    audit_events,
    audit_prune_permits,
    client_secrets,
    clients,
    metadata,
)
from app.storage.writers import CHECKPOINT_EVERY_COMMITS


@pytest.fixture
def storage(database_url):
    engine = create_storage_engine(database_url)
    upgrade(engine)
    yield Storage(engine)
    engine.dispose()


def test_an_upgrade_keeps_the_rows_of_a_database_made_by_the_first_migration(database_url):
    engine = create_storage_engine(database_url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            insert(clients),
            {"client_id": "orders", "grant_types": "client_credentials", "created_at": 1},
        )
        connection.execute(
            insert(client_secrets),
            {"client_id": "orders", "sha256_digest": b"\x01" * 32, "created_at": 1},
        )
    status = upgrade(engine)
    assert status.is_current and status.current == status.head
    with engine.connect() as connection:
        assert connection.execute(select(clients.c.client_id)).scalars().all() == ["orders"]
        assert connection.execute(select(client_secrets.c.sha256_digest)).scalar() == b"\x01" * 32
    engine.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_queries(storage):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with storage.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET event = 'forged'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE occurred_at < 100",
        "TRUNCATE audit_events",
    ],
    ids=["update", "delete", "delete-older", "truncate"],
)
def test_the_database_refuses_to_change_or_delete_audit_events(storage, statement):
    if statement.startswith("TRUNCATE") and storage.engine.dialect.name == "sqlite":
        pytest.skip(
            "SQLite has no TRUNCATE (and no truncate optimisation on a table with triggers)"
        )
    with storage.transaction() as connection:
        connection.execute(insert(audit_events), {"occurred_at": 1, "event": "token.issued"})
    with pytest.raises(DBAPIError, match="append-only"), storage.engine.begin() as connection:
        connection.execute(text(statement))
    with storage.reading() as connection:
        assert connection.execute(select(audit_events.c.event)).scalars().all() == ["token.issued"]


def test_a_prune_permit_lets_through_only_the_delete_of_older_rows(storage):
    """The path `tokenidp audit prune` takes: a permit for rows before 100 deletes those, and
    neither a newer row nor an UPDATE gets through while it exists."""
    with storage.transaction() as work:
        for occurred_at in (10, 50, 150):
            work.execute(insert(audit_events), {"occurred_at": occurred_at, "event": "e"})
        work.execute(insert(audit_prune_permits), {"before": 100})
    for statement in (
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE occurred_at = 150",
        "UPDATE audit_events SET event = 'forged' WHERE occurred_at = 10",
    ):
        with pytest.raises(DBAPIError, match="append-only"), storage.engine.begin() as connection:
            connection.execute(text(statement))
    with storage.engine.begin() as connection:
        deleted = connection.execute(text("DELETE FROM audit_events WHERE occurred_at < 100"))
        assert deleted.rowcount == 2
        connection.execute(text("DELETE FROM audit_prune_permits"))
    with pytest.raises(DBAPIError, match="append-only"), storage.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))
    with storage.reading() as connection:
        assert connection.execute(select(audit_events.c.occurred_at)).scalars().all() == [150]


def test_concurrent_writes_from_the_event_loop_commit_together(storage):
    """Units that arrive together share one transaction, and each gets its own result."""
    transactions = []

    def record(work):
        transactions.append(id(work))
        work.execute(insert(audit_events), {"occurred_at": 1, "event": "token.issued"})
        return len(transactions)

    async def burst():
        try:
            return await asyncio.gather(*(storage.write(record) for _ in range(50)))
        finally:
            await storage.close()

    results = asyncio.run(burst())
    assert sorted(results) == list(range(1, 51))
    assert len(set(transactions)) < 10, "units that arrived together shared a commit"
    with storage.reading() as connection:
        assert len(connection.execute(select(audit_events.c.id)).all()) == 50


def test_a_failing_unit_fails_alone_and_the_others_commit(storage):
    def good(connection):
        connection.execute(insert(audit_events), {"occurred_at": 1, "event": "ok"})

    def bad(connection):
        raise ValueError("refused by the unit")

    async def burst():
        try:
            return await asyncio.gather(
                storage.write(good), storage.write(bad), storage.write(good), return_exceptions=True
            )
        finally:
            await storage.close()

    outcomes = asyncio.run(burst())
    assert [type(outcome).__name__ for outcome in outcomes] == [
        "NoneType",
        "ValueError",
        "NoneType",
    ]
    with storage.reading() as connection:
        assert connection.execute(select(audit_events.c.event)).scalars().all() == ["ok", "ok"]


def _event(number: int) -> AuditEvent:
    return AuditEvent(TOKEN_ISSUED, 1_800_000_000, client_id="orders", jti=f"jti-{number}")


def _write_all(storage, units):
    async def burst():
        try:
            return await asyncio.gather(
                *(storage.write(unit) for unit in units), return_exceptions=True
            )
        finally:
            await storage.close()

    return asyncio.run(burst())


def _jtis(storage):
    with storage.reading() as connection:
        query = select(audit_events.c.jti).order_by(audit_events.c.id)
        return connection.execute(query).scalars().all()


def test_audit_events_written_together_are_all_committed_in_the_order_they_came(storage):
    """The token endpoint's write (an appended row, no transaction of SQLAlchemy's)."""
    outcomes = _write_all(storage, [recording(_event(number)) for number in range(50)])
    assert outcomes == [None] * 50
    assert _jtis(storage) == [f"jti-{number}" for number in range(50)]


def test_a_row_the_database_refuses_fails_alone_among_appended_rows(storage):
    refused = AppendRows(audit_events, [(1, None, *[None] * 10)])  # no event: NOT NULL
    outcomes = _write_all(
        storage, [recording(_event(1)), refused, recording(_event(2)), recording(_event(3))]
    )
    assert outcomes[0] is None and outcomes[2:] == [None, None]
    assert "IntegrityError" in type(outcomes[1]).__name__
    assert _jtis(storage) == ["jti-1", "jti-2", "jti-3"]


def test_appended_rows_and_other_units_arriving_together_share_the_transaction(storage):
    def other(work):
        work.execute(insert(audit_events), {"occurred_at": 1, "event": "other", "jti": "other"})
        return "done"

    outcomes = _write_all(storage, [recording(_event(1)), other, recording(_event(2))])
    assert outcomes == [None, "done", None]
    assert sorted(_jtis(storage)) == ["jti-1", "jti-2", "other"]


def test_an_appended_value_too_long_for_its_column_is_refused_not_cut(storage):
    if storage.engine.dialect.name == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    too_long = AppendRows(audit_events, [(1, "token.issued", *[None] * 3, "k" * 65, *[None] * 6)])
    outcomes = _write_all(storage, [too_long])
    assert "too long" in str(outcomes[0])
    assert _jtis(storage) == []


def test_an_audit_event_waits_while_another_process_holds_the_sqlite_write_lock(storage):
    """The loop never waits for the lock: it asks again every millisecond for a while, then
    the batch goes to the writer thread, which waits, and commits once the other writer is
    done. Asking for a lock that is taken is no storage error."""
    if storage.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    locked_before = _storage_errors("locked")
    other = sqlite3.connect(storage.engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def scenario():
        try:
            write = asyncio.ensure_future(storage.write(recording(_event(1))))
            await asyncio.sleep(0.3)  # the loop keeps running meanwhile
            assert not write.done(), "the write gave up instead of waiting for the lock"
            other.execute("COMMIT")
            return await asyncio.wait_for(write, timeout=5)
        finally:
            await storage.close()

    assert asyncio.run(scenario()) is None
    other.close()
    assert _jtis(storage) == ["jti-1"]
    assert _storage_errors("locked") == locked_before


def _storage_errors(kind: str) -> float:
    registry = metrics.series().registry
    return registry.get_sample_value("tokenidp_storage_errors_total", {"kind": kind}) or 0.0


def test_under_steady_writes_the_sqlite_log_is_checkpointed_and_starts_over(storage):
    """A token a moment, without pause: the write-ahead log must still be copied into the
    database and begun again, or it grows for as long as the load lasts."""
    if storage.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    writes = 8 * CHECKPOINT_EVERY_COMMITS

    async def steady():
        try:
            for number in range(writes):
                await storage.write(recording(_event(number)))
        finally:
            await storage.close()

    asyncio.run(steady())
    assert len(_jtis(storage)) == writes
    # Each commit writes a page for the row and one for each of its two indexes; the log
    # begins again after each checkpoint, so it holds about one interval's pages.
    with storage.reading() as connection:
        page_size = connection.exec_driver_sql("PRAGMA page_size").scalar()
    log_bytes = Path(f"{storage.engine.url.database}-wal").stat().st_size
    assert log_bytes < 2 * CHECKPOINT_EVERY_COMMITS * 4 * page_size


def test_without_an_event_loop_a_write_runs_inline(storage):
    def record(connection):
        return threading.current_thread().name

    coroutine = storage.write(record)
    try:
        coroutine.send(None)
    except StopIteration as done:
        assert done.value == threading.current_thread().name
    else:
        raise AssertionError("the write suspended without an event loop")


def test_an_unreachable_database_is_storage_unavailable():
    storage = Storage(create_storage_engine("postgresql://nobody@127.0.0.1:1/none"))
    with pytest.raises(StorageUnavailableError, match="cannot be reached"):
        migration_status(storage.engine)

    async def write():
        return await storage.write(lambda connection: None)

    with pytest.raises(StorageUnavailableError):
        asyncio.run(write())
