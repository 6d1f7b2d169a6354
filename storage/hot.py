"""The per-update hot path: a few fixed statements run without a session, on SQLite in one trip.

Every update the bot handles reads its customer, journals a send before the request leaves and
marks itself done. Through an `AsyncSession` each of those costs about 1 ms of CPU on this
project's 2-core VM (session and transaction objects, pool checkout, events, a greenlet switch
per call) while SQLite runs the statement in about 10 us: the bookkeeping, not the SQL, was most
of the product's cost per update (bench/updates.py). So these statements are `Prepared`: a Core
statement (written with SQLAlchemy like any other, so it stays checked against the models)
compiled once per dialect, its parameters and results converted by the column types' own bind
and result processors (UTC datetimes, JSON, booleans: the same values a session returns).

On a SQLite file they run on `SqliteHot`: a connection of its own on a thread of its own, a
read as one trip and a whole write transaction (BEGIN IMMEDIATE, the statements, COMMIT) as one
trip, under the same asyncio write lock as every other writer (storage.db.Database). On
PostgreSQL they run on `PgHot`: a small asyncpg pool of its own, a read as one prepared
statement (no session, no pool pre-ping, no BEGIN/ROLLBACK around it), a write transaction as
BEGIN, the statements, COMMIT on one connection (a single statement alone: autocommitted). In a
SQLite database in memory (one per connection) the same statement runs through an ordinary
session: same SQL, same results.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable, Insert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter names, in placeholder order
    defaults: dict[str, Any]  # values bound in the statement itself (e.g. `.values(status="done")`)
    binds: dict[str, Callable[[Any], Any]]  # name -> bind processor
    keys: tuple[str, ...]  # result column keys
    results: tuple[Callable[[Any], Any] | None, ...]  # per result column


class Prepared:
    """A Core statement (select, insert, update or delete, named bind parameters, no IN lists)
    compiled once per dialect for `SqliteHot`, and runnable on a session everywhere else."""

    def __init__(self, stmt: Executable) -> None:
        self.stmt = stmt
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        stmt: Any = self.stmt
        if isinstance(stmt, Insert) and not stmt._returning:
            # No RETURNING of the new key unless asked for (PostgreSQL adds one otherwise).
            stmt = stmt.inline()
        compiled = stmt.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: not a positional dialect")
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            # A column default computed in Python would be skipped here: give it a value.
            raise ValueError("Prepared needs a value for every column with a Python-side default")
        names = tuple(compiled.positiontup)
        binds: dict[str, Callable[[Any], Any]] = {}
        defaults: dict[str, Any] = {}
        for name in names:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError("IN lists are not supported by Prepared")
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds[name] = processor
            if bind.value is not None or not bind.required:
                defaults[name] = bind.effective_value
        columns = list(getattr(self.stmt, "exported_columns", ()))
        keys = tuple(c.key for c in columns)
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        return _Compiled(compiled.string, names, defaults, binds, keys, results)


def _params(c: _Compiled, values: Mapping[str, Any]) -> tuple[Any, ...]:
    out = []
    for name in c.names:
        value = values[name] if name in values else c.defaults[name]
        processor = c.binds.get(name)
        out.append(processor(value) if processor is not None else value)
    return tuple(out)


def _row(c: _Compiled, raw: Sequence[Any]) -> dict[str, Any]:
    return {
        key: (proc(value) if proc is not None else value)
        for key, proc, value in zip(c.keys, c.results, raw, strict=True)
    }


Step = tuple[Prepared, Mapping[str, Any]]

# Every SQLite connection of the product (the engine's and the hot one) is set up the same way.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=15000",
)


class Row(dict[str, Any]):
    """A hot statement's row (a dict) with attribute access too, for views built from rows."""

    __getattr__ = dict.__getitem__


class SqliteHot:
    """One SQLite connection on one thread for the hot statements (see the module's docstring)."""

    def __init__(self, path: str, dialect: Dialect) -> None:
        self.path = path
        self.dialect = dialect
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-hot")
        self._state: dict[str, sqlite3.Connection] = {}
        # Closed with the Database that owns it, or when that is garbage (tests make many).
        self._finalizer = weakref.finalize(self, _shutdown, self._executor, self._state)

    def _conn(self) -> sqlite3.Connection:  # on the thread
        conn = self._state.get("conn")
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=15, isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                conn.execute(pragma)
            self._state["conn"] = conn
        return conn

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def fetch(self, prepared: Prepared, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A read outside any transaction (WAL: it sees the latest commit, blocks nobody)."""
        c = prepared.compiled(self.dialect)
        rows = await self._run(self._fetch, c.sql, _params(c, params))
        return [_row(c, r) for r in rows]

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _wrapped(sql, params, exc) from exc

    async def transaction(self, steps: Sequence[Step]) -> list[list[dict[str, Any]]]:
        """Run the steps in one write transaction, in one trip; each step's rows (RETURNING)."""
        plan = []
        for prepared, params in steps:
            c = prepared.compiled(self.dialect)
            plan.append((c.sql, _params(c, params)))
        raw = await self._run(self._transaction, plan)
        out = []
        for (prepared, _), rows in zip(steps, raw, strict=True):
            c = prepared.compiled(self.dialect)
            out.append([_row(c, r) for r in rows])
        return out

    def _transaction(self, plan: list[tuple[str, tuple[Any, ...]]]) -> list[list[Any]]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _wrapped("BEGIN IMMEDIATE", (), exc) from exc
        results = []
        try:
            for sql, params in plan:
                try:
                    results.append(conn.execute(sql, params).fetchall())
                except sqlite3.Error as exc:
                    raise _wrapped(sql, params, exc) from exc
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _wrapped("COMMIT", (), exc) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    async def close(self) -> None:
        if self._finalizer.alive:
            await self._run(_close_conn, self._state)
            self._finalizer()


class PgHot:
    """The hot statements on PostgreSQL: an asyncpg pool of their own (see the module's
    docstring). The connections decode JSON as the engine's do (SQLAlchemy's asyncpg dialect:
    the JSON types' bind processors serialize, the codecs below only carry the text), and
    errors come back as the same `sqlalchemy.exc` classes a session raises. A connection lost
    (a restarted server) fails its one call and is replaced on the next."""

    def __init__(self, connect_kwargs: Mapping[str, Any], dialect: Dialect, *, size: int = 4) -> None:
        self.dialect = dialect
        self._kwargs = dict(connect_kwargs)
        self._size = size
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def _acquire_pool(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        min_size=1, max_size=self._size, init=_pg_codecs, reset=_pg_reset, **self._kwargs
                    )
        return self._pool

    async def fetch(self, prepared: Prepared, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A read outside any transaction (read committed: the latest commit)."""
        c = prepared.compiled(self.dialect)
        return await self._one(c, _params(c, params))

    async def _one(self, c: _Compiled, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        """One statement in autocommit: a read, or a write that is a transaction by itself."""
        try:
            pool = await self._acquire_pool()  # (the server down at the first call: the same errors)
            async with pool.acquire() as conn:
                rows = await conn.fetch(c.sql, *args)
        except Exception as exc:
            raise self._wrapped(c.sql, args, exc) from exc
        return [_row(c, r) for r in rows]

    async def transaction(self, steps: Sequence[Step]) -> list[list[dict[str, Any]]]:
        """Run the steps in one transaction on one connection; each step's rows (RETURNING)."""
        plan = []
        for prepared, params in steps:
            c = prepared.compiled(self.dialect)
            plan.append((c, _params(c, params)))
        out: list[list[dict[str, Any]]] = []
        if len(plan) == 1:  # one statement is a transaction of its own: no BEGIN, no COMMIT
            return [await self._one(*plan[0])]
        sql, args = "BEGIN", ()
        try:
            pool = await self._acquire_pool()
            async with pool.acquire() as conn, conn.transaction():
                for c, args in plan:
                    sql = c.sql
                    out.append([_row(c, r) for r in await conn.fetch(c.sql, *args)])
                sql, args = "COMMIT", ()
        except Exception as exc:
            raise self._wrapped(sql, args, exc) from exc
        return out

    def _wrapped(self, sql: str, params: tuple[Any, ...], exc: Exception) -> Exception:
        """asyncpg's error as a session would raise it, through the dialect's own mapping."""
        if isinstance(exc, DBAPIError):
            return exc
        dbapi = self.dialect.loaded_dbapi
        mapping: dict[type, Any] = getattr(dbapi, "_asyncpg_error_translate", {})
        translated: Any = None
        for cls in type(exc).__mro__:
            if cls in mapping:
                translated = mapping[cls](f"{type(exc)}: {exc}")
                translated.pgcode = translated.sqlstate = getattr(exc, "sqlstate", None)
                break
        if translated is None:
            if not isinstance(exc, OSError | ConnectionError):
                return exc
            translated = dbapi.OperationalError(f"{type(exc)}: {exc}")
        error: Exception = DBAPIError.instance(sql, params, translated, dbapi.Error)
        return error

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


async def _pg_reset(conn: Any) -> None:
    """Nothing to undo when a connection goes back to the pool: the hot statements set no
    session state, listen to nothing and take only transaction-scoped advisory locks (a
    transaction left open is rolled back by asyncpg before this runs). asyncpg's default reset
    sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` at every release, a round
    trip per hot statement: 8% of a process's CPU on the update path (py-spy, bench/scaleout.py)."""


async def _pg_codecs(conn: Any) -> None:
    # As sqlalchemy.dialects.postgresql.asyncpg sets up the engine's connections.
    import json

    await conn.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda b: json.loads(b.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda s: b"\x01" + s.encode(),
        decoder=lambda b: json.loads(b[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


def _wrapped(sql: str, params: tuple[Any, ...], exc: sqlite3.Error) -> Exception:
    """The error as a session would raise it (sqlalchemy.exc.IntegrityError and so on)."""
    return DBAPIError.instance(sql, params, exc, sqlite3.Error)


def _close_conn(state: dict[str, sqlite3.Connection]) -> None:
    conn = state.pop("conn", None)
    if conn is not None:
        conn.close()


def _shutdown(executor: ThreadPoolExecutor, state: dict[str, sqlite3.Connection]) -> None:
    # Nothing runs on the thread any more (a queued call would keep its owner alive), so the
    # connection may be closed here (it is opened with check_same_thread=False).
    _close_conn(state)
    executor.shutdown(wait=False)
