"""Engine and session factory. SQLite gets WAL, a busy timeout and foreign keys on every connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin) instead of pysqlite's implicit one.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    # another connection committed in between; taking the write lock up front makes writers
    # queue instead. Read-only sessions (Database.read) opt out: WAL readers never block.
    # Transactions are kept short (no network I/O inside).
    deferred = conn.get_execution_options().get("sqlite_deferred")
    conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the async engine; creates the SQLite file's folder on first run."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 15})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database(async_sessionmaker[AsyncSession]):
    """A sessionmaker whose write transactions (`begin()`) queue on an asyncio lock on SQLite.

    SQLite has one writer at a time. Without the lock, concurrent writers wait inside SQLite's
    busy handler, which sleeps in steps of up to 100 ms and oversleeps: that was the whole p99
    of the update pipeline. With it they wait in FIFO order on the event loop and wake the
    moment the previous transaction commits. Never nest `begin()` inside `begin()`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if is_sqlite(engine) else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session: on SQLite it neither takes nor waits for the write lock."""
        async with self() as session:
            if self._write_lock is not None:
                await session.connection(execution_options={"sqlite_deferred": True})
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        if self._write_lock is None:
            async with super().begin() as session:
                yield session
            return
        async with asyncio.timeout(LOCK_TIMEOUT):
            await self._write_lock.acquire()
        try:
            async with super().begin() as session:
                yield session
        finally:
            self._write_lock.release()


LOCK_TIMEOUT = 30.0


def create_sessionmaker(engine: AsyncEngine) -> Database:
    return Database(engine)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.url.get_backend_name() == "sqlite"
