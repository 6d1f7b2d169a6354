"""Engine and session factory. SQLite gets WAL, a busy timeout and foreign keys on every connection."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver
from storage.hot import SQLITE_PRAGMAS, PgHot, Prepared, SqliteHot, Step


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin) instead of pysqlite's implicit one.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cur.execute(pragma)
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    # another connection committed in between; taking the write lock up front makes writers
    # queue instead. Read-only sessions (Database.read) opt out: WAL readers never block.
    # Transactions are kept short (no network I/O inside).
    options = conn.get_execution_options()
    if options.get("sqlite_no_snapshot"):
        return  # Database.read(snapshot=False): each statement reads the latest commit
    conn.exec_driver_sql("BEGIN" if options.get("sqlite_deferred") else "BEGIN IMMEDIATE")


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the async engine; creates the SQLite file's folder on first run."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        fast = url.get_driver_name() == "aiosqlite" and sqlite_driver.SUPPORTED
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 15},
            # storage.sqlite_driver rolls back on check-in only what is still open.
            **({"pool_reset_on_return": None} if fast else {}),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        if fast:
            sqlite_driver.install(engine.sync_engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


Write = Callable[[AsyncSession], Awaitable[Any]]
# Bookkeeping writes of the update being handled, committed with its done mark (see `record`).
_with_update: contextvars.ContextVar[list[Write | list[Step]] | None] = contextvars.ContextVar(
    "with_update", default=None
)


@contextmanager
def update_writes() -> Iterator[list[Write | list[Step]]]:
    """Around one update (bot/inbox.py): collects the `record`ed writes of its handler, which
    the inbox runs in the transaction that marks the update done."""
    writes: list[Write | list[Step]] = []
    token = _with_update.set(writes)
    try:
        yield writes
    finally:
        _with_update.reset(token)


async def run_recorded(session: AsyncSession, writes: list[Write | list[Step]]) -> None:
    """Run `record`ed writes (callables or hot steps) in the caller's transaction."""
    for write in writes:
        if isinstance(write, list):
            for prepared, params in write:
                await session.execute(prepared.stmt, dict(params))
        else:
            await write(session)


class Database:
    """A sessionmaker whose write transactions (`begin()`) queue on an asyncio lock on SQLite.

    SQLite has one writer at a time. Without the lock, concurrent writers wait inside SQLite's
    busy handler, which sleeps in steps of up to 100 ms and oversleeps: that was the whole p99
    of the update pipeline. With it they wait in FIFO order on the event loop and wake the
    moment the previous transaction commits. Never nest `begin()` inside `begin()`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.engine = engine
        self._write_lock = asyncio.Lock() if is_sqlite(engine) else None
        self._queued: list[tuple[Write | list[Step], asyncio.Future[Any]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.dialect_name = engine.dialect.name  # 'sqlite' or 'postgresql'
        # The hot statements' own connection (storage/hot.py): SQLite files (a database in
        # memory is one per connection) and PostgreSQL.
        url = engine.url
        self.hot: SqliteHot | PgHot | None = None
        if is_sqlite(engine):
            if (
                url.database
                and url.database != ":memory:"
                and not url.query.get("mode") == "memory"
                and not url.database.startswith("file:")
            ):
                self.hot = SqliteHot(url.database, engine.dialect)
        elif url.get_driver_name() == "asyncpg":
            _, kwargs = engine.dialect.create_connect_args(url)
            self.hot = PgHot(kwargs, engine.dialect)

    def __call__(self) -> AsyncSession:
        """A session (no transaction yet), as a sessionmaker gives; `begin()` for writes."""
        return self._sessions()

    async def close(self) -> None:
        """Close what the Database holds beside the engine's pool (the hot connection)."""
        if self.hot is not None:
            await self.hot.close()

    async def fetch(self, prepared: Prepared, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A hot read (storage/hot.py): no snapshot, the latest commit; rows as dicts."""
        if self.hot is not None:
            return await self.hot.fetch(prepared, params)
        async with self.read(snapshot=False) as session:
            return await _run_step(session, prepared, params)

    async def write(self, steps: list[Step], *, alone: bool = False) -> list[list[dict[str, Any]]]:
        """Hot writes (storage/hot.py) in one transaction, sharing its commit with the other
        `batched`/`write` calls queued meanwhile; each step's RETURNING rows.

        `alone=True`: in a transaction of its own, for steps that take locks other processes
        take too (an advisory lock): in a shared commit they would be taken in whatever order
        the batch has, and two processes' batches could deadlock."""
        if alone:
            (rows,) = await self._commit([(steps, asyncio.get_running_loop().create_future())])
            return cast(list[list[dict[str, Any]]], rows)
        shared: list[list[dict[str, Any]]] = await self._enqueue(steps)
        return shared

    @asynccontextmanager
    async def read(self, *, snapshot: bool = True) -> AsyncIterator[AsyncSession]:
        """A read-only session: on SQLite it neither takes nor waits for the write lock.

        `snapshot=False` (SQLite): no transaction at all, each statement sees the latest
        commit; two trips to the database thread fewer (BEGIN, ROLLBACK), for the small reads
        made on every update whose statements need not agree with each other."""
        async with self() as session:
            if self._write_lock is not None:
                option = "sqlite_deferred" if snapshot else "sqlite_no_snapshot"
                await session.connection(execution_options={option: True})
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        async with self.writing(), self._sessions.begin() as session:
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold the write turn (SQLite's one writer, FIFO on the event loop; nothing elsewhere)
        around a write transaction made on a session of one's own (storage/uow.py)."""
        if self._write_lock is None:
            yield
            return
        async with asyncio.timeout(LOCK_TIMEOUT):
            await self._write_lock.acquire()
        try:
            yield
        finally:
            self._write_lock.release()

    @property
    def read_options(self) -> dict[str, Any]:
        """Connection options for a read-only transaction (storage/uow.py): on SQLite a
        deferred BEGIN, so a reader neither takes nor waits for the write lock; on PostgreSQL
        READ ONLY, so a write made there by mistake fails instead of committing."""
        if self._write_lock is not None:
            return {"sqlite_deferred": True}
        return {"postgresql_readonly": True} if self.dialect_name == "postgresql" else {}

    async def record(self, op: Write | list[Step]) -> None:
        """A write that only records what happened (where a message landed, say): inside an
        update it is committed with the update's done mark (no transaction of its own; lost
        only with the update's own mark, i.e. when the process dies in between); elsewhere it
        is a `batched` write. `op` as hot steps (storage/hot.py) keeps the update's commit hot."""
        pending = _with_update.get()
        if pending is not None:
            pending.append(op)
            return
        await self._enqueue(op)

    async def batched(self, op: Callable[[AsyncSession], Awaitable[Any]]) -> None:
        """Run `op(session)` in a write transaction shared with the other `batched` writes
        queued meanwhile (group commit), and return once it is committed.

        For the small bookkeeping writes of many concurrent updates (a send journaled, an
        update marked done): while one transaction commits, the next ones queue up and then
        share a single BEGIN/COMMIT. Should the shared transaction fail, each write is retried
        alone, so a bad one fails only its own caller.
        """
        await self._enqueue(op)

    async def _enqueue(self, op: Write | list[Step]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append((op, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued(), name="group-commit")
        return await future

    async def _commit_queued(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                results = await self._commit(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], None, exc)
                    continue
                for item in batch:
                    try:
                        (result,) = await self._commit([item])
                    except Exception as single:
                        _settle(item[1], None, single)
                    else:
                        _settle(item[1], result)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result)

    async def _commit(self, batch: list[tuple[Write | list[Step], asyncio.Future[Any]]]) -> list[Any]:
        """One transaction for the batch: on the hot connection when it holds only hot steps."""
        hot_ops = [op for op, _ in batch if isinstance(op, list)]
        lock = self._write_lock  # SQLite's (writers queue on it); PostgreSQL has none
        if self.hot is not None and len(hot_ops) == len(batch):
            if lock is not None:
                async with asyncio.timeout(LOCK_TIMEOUT):
                    await lock.acquire()
            try:
                rows = await self.hot.transaction([step for op in hot_ops for step in op])
            finally:
                if lock is not None:
                    lock.release()
            results: list[Any] = []
            at = 0
            for steps in hot_ops:
                results.append(rows[at : at + len(steps)])
                at += len(steps)
            return results
        results = []
        async with self.begin() as session:
            for item, _ in batch:
                if isinstance(item, list):
                    results.append([await _run_step(session, p, params) for p, params in item])
                else:
                    results.append(await item(session))
        return results


async def _run_step(
    session: AsyncSession, prepared: Prepared, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    result = cast(CursorResult[Any], await session.execute(prepared.stmt, dict(params)))
    return [dict(r) for r in result.mappings()] if result.returns_rows else []


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None = None) -> None:
    if future.done():  # the caller was cancelled; its write went ahead regardless
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


LOCK_TIMEOUT = 30.0


def create_sessionmaker(engine: AsyncEngine) -> Database:
    return Database(engine)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.url.get_backend_name() == "sqlite"
