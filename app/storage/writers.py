"""How writes reach the database from the event loop, batched: units that arrive together
are committed in one transaction, and each still gets its own outcome.

- `LoopWriter` (SQLite): the units of one loop iteration are committed inline, on the loop
  thread, at the end of the iteration. SQLite is a local file, a commit costs tens of µs,
  and a thread hand-off on one core costs as much as the commit (the GIL). The write lock
  is taken without waiting; when another process holds it (another worker's commit, for
  tens of µs), the batch is tried again a millisecond later with what arrived meanwhile,
  and only after LOCK_RETRIES goes to the thread writer, which may wait. WAL checkpoints
  (an fsync) run in that thread too, never inline, and while one runs the loop's batches
  queue behind it (see `LoopWriter._commit`).
- `ThreadWriter` (SQLite's fallback): one thread per process, holding its connection,
  commits whatever queued meanwhile; waiting for another process's lock never blocks the loop.
- `AsyncWriter` (PostgreSQL): batches sent through psycopg's asyncio driver, one in flight.

A batch made only of appended rows (an audit event per token) skips SQLAlchemy's transaction
machinery: app/storage/appends.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.storage.appends import (
    PostgresAppender,
    append_on_sqlite,
    appended_table,
    batch_rows,
)
from app.storage.engine import BUSY_TIMEOUT_MS, create_async_storage_engine
from app.storage.unit_of_work import (
    THROWN_AWAY,
    UNAVAILABLE,
    DatabaseLockedError,
    StorageUnavailableError,
    UnitOfWork,
    as_storage_unavailable,
)

Unit = Callable[[UnitOfWork], Any]
Outcome = tuple[Any, BaseException | None]
MAX_BATCH = 256
CHECKPOINT_EVERY_COMMITS = 500
# Another worker holds SQLite's write lock for one commit, tens of µs: the loop tries again
# after LOCK_RETRY_SECONDS (libuv's timers count milliseconds), LOCK_RETRIES times, and
# then leaves the wait to the thread writer (a CLI command's long transaction, say).
LOCK_RETRY_SECONDS = 0.001
LOCK_RETRIES = 50


def commit_units(run: Callable[[list[Unit]], list[Any]], units: list[Unit]) -> list[Outcome]:
    """All units in one transaction; when one of them fails, each again in its own, so a bad
    unit fails alone. A database that cannot be reached fails them all at once."""
    try:
        return [(result, None) for result in run(units)]
    except StorageUnavailableError as error:
        return [(None, error)] * len(units)
    except Exception as error:
        if len(units) == 1:
            return [(None, error)]
        return [commit_units(run, [unit])[0] for unit in units]


class HeldConnection:
    """One connection a writer keeps for its life (a pool checkout per batch costs more
    than the rows); after a failure it is thrown away and the next batch opens another."""

    def __init__(
        self, engine: Engine, *, pragmas: tuple[str, ...] = (), waits_for_lock: bool = True
    ) -> None:
        """`waits_for_lock=False`: SQLite's busy timeout is 0, and a taken lock is no error
        (the caller asks again)."""
        self.engine = engine
        self.pragmas = pragmas if waits_for_lock else ("PRAGMA busy_timeout=0", *pragmas)
        self.waits_for_lock = waits_for_lock
        self.connection: Connection | None = None

    def run(self, units: list[Unit]) -> list[Any]:
        with as_storage_unavailable(count_locked=self.waits_for_lock):
            try:
                connection = self._connection()
                table = appended_table(units)
                if table is not None and connection.dialect.name == "sqlite":
                    rows = batch_rows(units)
                    driver = connection.connection.driver_connection
                    append_on_sqlite(driver, connection.dialect, table, rows)
                    return [None] * len(units)
                with connection.begin():
                    work = UnitOfWork(connection)
                    results = [unit(work) for unit in units]
                    work.flush()
                return results
            except UNAVAILABLE:
                self.drop()
                raise

    def pragma(self, sql: str) -> None:
        """A SQLite PRAGMA on the driver's connection, outside SQLAlchemy's transactions."""
        with as_storage_unavailable():
            self._connection().connection.driver_connection.execute(sql)

    def drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with THROWN_AWAY:
                connection.invalidate()

    def _connection(self) -> Connection:
        if self.connection is None:
            connection = self.engine.connect()
            for pragma in self.pragmas:
                connection.connection.driver_connection.execute(pragma)
            self.connection = connection
        return self.connection


class ThreadWriter:
    """One thread committing, in one transaction, every unit queued meanwhile."""

    needs_deadline = True  # a network round trip can hang: callers bound their wait

    def __init__(self, engine: Engine) -> None:
        self.held = HeldConnection(engine)
        self.queue: queue.SimpleQueue[tuple[Unit, asyncio.Future[Any] | None, Any]] = (
            queue.SimpleQueue()
        )
        threading.Thread(target=self._run, name="tokenidp-storage-writer", daemon=True).start()

    def submit(self, unit: Unit, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = loop.create_future()
        self.queue.put((unit, future, loop))
        return future

    def checkpoint(self, done: Callable[[], None]) -> None:
        """Ask for a WAL checkpoint (SQLite) between batches. `done` is called in this thread
        once it is over and every batch queued meanwhile is committed too."""
        self.queue.put((_CHECKPOINT, done, None))

    def _run(self) -> None:
        finished: list[Callable[[], None]] = []
        while True:
            batch = [self.queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            checkpoints = [item for item in batch if item[0] is _CHECKPOINT]
            if checkpoints:
                self._checkpoint()
                finished += [done for _, done, _ in checkpoints]
                batch = [item for item in batch if item[0] is not _CHECKPOINT]
            if batch:
                outcomes = commit_units(self.held.run, [unit for unit, _, _ in batch])
                self._settle(batch, outcomes)
            if finished and self.queue.empty():
                for done in finished:
                    done()
                finished.clear()

    def _checkpoint(self) -> None:
        """Copy the whole log into the database, so that the next commit begins it again.

        RESTART without waiting: it takes the write lock if it is free (other processes'
        writers then wait the few ms it takes) and lets the next writer start the log over;
        when another connection writes or reads, it copies what it can, as PASSIVE does.
        A checkpoint that commits keep overtaking never completes, and then the log is never
        begun again and grows for as long as the load lasts (measured here: 109 MB after
        20 s at one connection, before this rule).
        """
        try:
            self.held.pragma("PRAGMA busy_timeout=0")
            try:
                self.held.pragma("PRAGMA wal_checkpoint(RESTART)")
            finally:
                self.held.pragma(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except StorageUnavailableError:
            pass  # the next one will do; SQLite also checkpoints on its own

    @staticmethod
    def _settle(batch: list[tuple[Unit, Any, Any]], outcomes: list[Outcome]) -> None:
        by_loop: dict[Any, list[tuple[asyncio.Future[Any], Outcome]]] = {}
        for (_, future, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, settled in by_loop.items():
            _call_on(loop, settle, settled)


class LoopWriter:
    """SQLite under the event loop: the units of one iteration committed inline at its end.

    Its callers need no timer: the commit happens in this loop iteration, and the fallback
    waits at most SQLite's busy timeout.
    """

    needs_deadline = False

    def __init__(self, engine: Engine, fallback: ThreadWriter) -> None:
        # No waiting for the lock on the loop thread, and no checkpoint (an fsync) either.
        self.held = HeldConnection(
            engine,
            pragmas=("PRAGMA wal_autocheckpoint=0",),
            waits_for_lock=False,
        )
        self.fallback = fallback
        self.pending: list[tuple[Unit, asyncio.Future[Any]]] = []
        self.commits = 0
        self.checkpointing = False
        self.lock_retries = 0

    def submit(self, unit: Unit, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((unit, future))
        if len(self.pending) == 1:
            loop.call_soon(self._commit, loop)
        return future

    def _commit(self, loop: asyncio.AbstractEventLoop) -> None:
        """Inline, unless a checkpoint runs: then behind it, in the thread, so that no commit
        of this process overtakes it and the log can begin again."""
        batch, self.pending = self.pending, []
        if self.checkpointing:
            self._hand_over(batch, loop)
            return
        outcomes = commit_units(self.held.run, [unit for unit, _ in batch])
        if isinstance(outcomes[0][1], DatabaseLockedError):
            self._retry_later(batch, loop)
            return
        self.lock_retries = 0
        settle(list(zip((future for _, future in batch), outcomes, strict=True)))
        self.commits += 1
        if self.commits % CHECKPOINT_EVERY_COMMITS == 0:
            self.checkpointing = True
            self.fallback.checkpoint(self._checkpointed)

    def _retry_later(self, batch: list[tuple[Unit, asyncio.Future[Any]]], loop: Any) -> None:
        """Another process holds the write lock: the batch, with what arrives meanwhile, is
        tried again shortly; after LOCK_RETRIES the thread writer waits for the lock."""
        self.lock_retries += 1
        if self.lock_retries > LOCK_RETRIES:
            self.lock_retries = 0
            self._hand_over(batch, loop)
            return
        self.pending[:0] = batch  # nothing was pending: no commit is scheduled
        loop.call_later(LOCK_RETRY_SECONDS, self._commit, loop)

    def _checkpointed(self) -> None:
        """In the writer thread, once the checkpoint and the batches handed over are done."""
        self.checkpointing = False

    def _hand_over(self, batch: list[tuple[Unit, asyncio.Future[Any]]], loop: Any) -> None:
        for unit, future in batch:
            self.fallback.submit(unit, loop).add_done_callback(partial(_copy_outcome, future))


class AsyncWriter:
    """PostgreSQL under the event loop: batches sent through psycopg's asyncio driver, so a
    commit's round trip waits on the loop, not in a thread (a second thread on the same core
    fights the loop for the GIL: measured here, it cost a third of the throughput).

    One batch is in flight at a time; what arrives meanwhile is the next batch.
    """

    needs_deadline = True  # a network round trip can hang: callers bound their wait

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.loop = loop  # its connection belongs to this loop: another loop gets its own writer
        self.engine: AsyncEngine | None = None
        self.connection: AsyncConnection | None = None
        self.appender: PostgresAppender | None = None
        self.pending: list[tuple[Unit, asyncio.Future[Any]]] = []
        self.flushing = False

    def submit(self, unit: Unit, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((unit, future))
        if not self.flushing:
            self.flushing = True
            loop.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                outcomes = await self._commit([unit for unit, _ in batch])
                settle(list(zip((future for _, future in batch), outcomes, strict=True)))
        finally:
            self.flushing = False

    async def _commit(self, units: list[Unit]) -> list[Outcome]:
        table = appended_table(units)
        if table is not None:
            return await self._append(table, units)
        try:
            with as_storage_unavailable():
                try:
                    connection = await self._connection()
                    outcomes = await connection.run_sync(_commit_on, units)
                except UNAVAILABLE:
                    await self._drop()
                    raise
        except StorageUnavailableError as error:
            return [(None, error)] * len(units)
        if any(isinstance(error, StorageUnavailableError) for _, error in outcomes):
            await self._drop()  # the server went away mid-batch: the next batch reconnects
        return outcomes

    async def _append(self, table: Table, units: list[Unit]) -> list[Outcome]:
        """Rows only: one autocommitted statement (app/storage/appends.py); when it fails for
        another reason than the database, each unit again alone, so a bad row fails alone."""
        appender = self.appender
        if appender is None:
            appender = self.appender = PostgresAppender(self._engine())
        try:
            with as_storage_unavailable():
                try:
                    await appender.append(table, batch_rows(units))
                except UNAVAILABLE:
                    await appender.drop()
                    raise
        except StorageUnavailableError as error:
            return [(None, error)] * len(units)
        except Exception as error:
            if len(units) == 1:
                return [(None, error)]
            return [(await self._append(table, [unit]))[0] for unit in units]
        return [(None, None)] * len(units)

    def _engine(self) -> AsyncEngine:
        if self.engine is None:
            self.engine = create_async_storage_engine(self.url)
        return self.engine

    async def _connection(self) -> AsyncConnection:
        if self.connection is None:
            self.connection = await self._engine().connect()
        return self.connection

    async def _drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with THROWN_AWAY:
                await connection.invalidate()

    async def close(self) -> None:
        """Return the connection and close the engine (a worker shutting down)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            await connection.close()
        if self.appender is not None:
            await self.appender.drop()
        if self.engine is not None:
            await self.engine.dispose()


def _commit_on(connection: Connection, units: list[Unit]) -> list[Outcome]:
    """`commit_units` on one synchronous facade of the async connection (run_sync)."""

    def run(batch: list[Unit]) -> list[Any]:
        with as_storage_unavailable(), connection.begin():
            work = UnitOfWork(connection)
            results = [unit(work) for unit in batch]
            work.flush()
        return results

    return commit_units(run, units)


def settle(settled: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for future, (result, error) in settled:
        if future.done():  # the caller gave up waiting
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _call_on(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """From the writer thread; a loop closed meanwhile has nobody left waiting."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)


def _copy_outcome(future: asyncio.Future[Any], done: asyncio.Future[Any]) -> None:
    if future.done():
        return
    if done.cancelled():
        future.cancel()
    elif done.exception() is not None:
        future.set_exception(done.exception())
    else:
        future.set_result(done.result())


def _checkpoint_marker(work: UnitOfWork) -> None:
    """Queued to ask the thread writer for a checkpoint; never run as a unit."""


_CHECKPOINT: Unit = _checkpoint_marker
