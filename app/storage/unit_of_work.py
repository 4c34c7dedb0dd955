"""The unit of work: transactions on one engine, usable from the event loop without holding it.

A handler signs outside any transaction, then `await storage.write(record)`: under the
event loop, `record(tx)` is committed together with the units that arrive with it
(app/storage/writers.py: inline at the end of the loop iteration on SQLite, through
psycopg's asyncio driver on PostgreSQL); without a loop (WSGI, the CLI) it runs inline.
Every wait is bounded, and a database that cannot answer raises `StorageUnavailableError`, which the
token endpoint answers with 503 `temporarily_unavailable`: a token is never returned
before its records are committed.

Measured here on SQLite, a transaction costs about 40 µs and a Core INSERT about 20 µs,
against a few µs a row for one `executemany`; so writers hold their connection, and rows
a unit `append`s (an audit event per token) go out in one statement per table
(app/storage/inserts.py). A batch of appended rows alone skips the transaction machinery
altogether (app/storage/appends.py).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, Executable, Table
from sqlalchemy import exc as sa_exc

from app.errors import TokenIdpError
from app.ops import metrics
from app.storage.inserts import compiled_insert, json_rows, json_rows_insert

log = logging.getLogger("tokenidp")
T = TypeVar("T")
_Queued = tuple[Callable[["UnitOfWork"], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]
STORAGE_TIMEOUT_SECONDS = 5.0
READER_THREADS = 4
# What a database that is down, locked or unreachable raises (not a bug in a query), through
# SQLAlchemy or, where TokenIDP calls sqlite3 directly (UnitOfWork.flush, app/storage/
# appends.py), from the driver. psycopg's own errors reach here wrapped as SQLAlchemy's.
UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sqlite3.OperationalError,
)


# Closing a connection that is being thrown away: whatever that raises changes nothing.
THROWN_AWAY = suppress(Exception)


class StorageUnavailableError(TokenIdpError):
    """The database did not answer in time, or could not be reached."""


class DatabaseLockedError(StorageUnavailableError):
    """SQLite: another process holds the write lock (a writer that may not wait says so)."""


class UnitOfWork:
    """One transaction's work: statements run now (`execute`); rows `append`ed are inserted
    together just before the commit, one statement per table, in the order appended."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._rows: dict[Table, list[tuple[Any, ...]]] = {}

    def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self.connection.execute(statement, parameters)

    def append(self, table: Table, row: tuple[Any, ...]) -> None:
        """A row of values in the order of `inserts.insert_columns(table)`, inserted at commit."""
        self._rows.setdefault(table, []).append(row)

    def flush(self) -> None:
        rows, self._rows = self._rows, {}
        dialect = self.connection.dialect
        for table, table_rows in rows.items():
            if dialect.name == "postgresql":
                # One statement and one parameter whatever the batch size (app/storage/inserts).
                sql = json_rows_insert(table, dialect)
                self.connection.exec_driver_sql(sql, (json_rows(table_rows),))
            else:
                # SQLite: the driver's executemany, a C loop; SQLAlchemy's statement path
                # costs more than a row (sqlite3's errors count as SQLAlchemy's: UNAVAILABLE).
                sql = compiled_insert(table, dialect)
                self.connection.connection.driver_connection.executemany(sql, table_rows)


class Storage:
    """One database for the IdP, the CLI and the publisher."""

    def __init__(self, engine: Engine, *, timeout_seconds: float = STORAGE_TIMEOUT_SECONDS) -> None:
        self.engine = engine
        self.timeout_seconds = timeout_seconds
        self._writer: Any = None
        self._readers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """A write transaction (on SQLite it holds the write lock from BEGIN), committed on exit."""
        with as_storage_unavailable(), self.engine.begin() as connection:
            work = UnitOfWork(connection)
            yield work
            work.flush()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction: on SQLite it never takes the write lock."""
        with (
            as_storage_unavailable(),
            self.engine.connect().execution_options(sqlite_begin="DEFERRED") as connection,
            connection.begin(),
        ):
            yield connection

    async def write(self, unit: Callable[[UnitOfWork], T]) -> T:
        """`unit(tx)` committed, batched with the writes that arrive with it (app/storage/writers);
        inline without an event loop."""
        loop = _running_loop()
        if loop is None:
            with self.transaction() as work:
                return unit(work)
        writer = self._writer_for(loop)
        pending = writer.submit(unit, loop)
        return await (self._bounded(pending, loop) if writer.needs_deadline else pending)

    async def read(self, query: Callable[[Connection], T]) -> T:
        """`query(tx)` in a read transaction: in a reader thread under a loop, inline without."""
        loop = _running_loop()
        if loop is None:
            with self.reading() as connection:
                return query(connection)

        def run() -> T:
            with self.reading() as connection:
                return query(connection)

        return await self._bounded(loop.run_in_executor(self._reader_pool(), run), loop)

    def after_fork(self) -> None:
        """In a new worker: no pooled connection or thread of the parent is reused."""
        self.engine.dispose(close=False)
        self._writer = None
        self._readers = None

    async def _bounded(self, pending: asyncio.Future[T], loop: asyncio.AbstractEventLoop) -> T:
        """Wait at most `timeout_seconds` (a timer, cheaper than asyncio.wait_for's task)."""
        if pending.done():
            return pending.result()
        timer = loop.call_later(self.timeout_seconds, _expire, pending, self.timeout_seconds)
        try:
            return await pending
        finally:
            timer.cancel()

    async def close(self) -> None:
        """On the loop that wrote: return the writer's connection (a worker shutting down)."""
        writer, self._writer = self._writer, None
        if writer is not None and hasattr(writer, "close"):
            await writer.close()

    def _writer_for(self, loop: asyncio.AbstractEventLoop) -> Any:
        writer = self._writer
        if writer is not None and getattr(writer, "loop", loop) is loop:
            return writer  # every write but the first: no lock, no import
        from app.storage.writers import AsyncWriter, LoopWriter, ThreadWriter

        with self._lock:
            stale = isinstance(self._writer, AsyncWriter) and self._writer.loop is not loop
            if self._writer is None or stale:
                if self.engine.dialect.name == "sqlite":
                    self._writer = LoopWriter(self.engine, ThreadWriter(self.engine))
                else:
                    url = self.engine.url.render_as_string(hide_password=False)
                    self._writer = AsyncWriter(url, loop)
            return self._writer

    def _reader_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._readers is None:
                self._readers = ThreadPoolExecutor(READER_THREADS, "tokenidp-storage-reader")
            return self._readers


def _expire(pending: asyncio.Future[Any], seconds: float) -> None:
    if not pending.done():
        metrics.storage_error("timeout")
        pending.set_exception(
            StorageUnavailableError(f"the database did not answer within {seconds:g} s")
        )


@contextmanager
def as_storage_unavailable(*, count_locked: bool = True) -> Iterator[None]:
    """Driver errors of an unusable database as StorageUnavailableError, counted in the
    metrics; `count_locked=False` for a writer that asked for the lock without waiting and
    will ask again (the lock held by another process is then no failure)."""
    try:
        yield
    except UNAVAILABLE as error:
        reason = " ".join(str(error.orig if hasattr(error, "orig") else error).split())[:200]
        if "database is locked" in reason:
            if count_locked:
                metrics.storage_error("locked")
            raise DatabaseLockedError(
                f"the database is locked by another writer: {reason}"
            ) from None
        metrics.storage_error("unreachable")
        raise StorageUnavailableError(f"the database cannot be reached: {reason}") from None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
