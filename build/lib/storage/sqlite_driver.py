"""One trip to aiosqlite's thread per SQLite statement, and no redundant rollback on check-in.

aiosqlite runs every call on its own thread and each call is a round trip between that thread
and the event loop (a queue put, a thread wake-up, a callback back onto the loop). SQLAlchemy's
adapter spends three or four of them on one statement (open a cursor, execute, fetch, close)
and one more when a connection goes back to the pool (a rollback after a commit). On a small
virtual machine a round trip costs 0.2-0.3 ms while the statement itself takes microseconds, so
a one-row write transaction spent ~3.5 ms in hand-offs: that, not the SQL, capped the update
pipeline (see bench/updates.py).

`OneTripCursor` runs open-execute-fetch-close as one function on the connection's thread; the
pool rolls a connection back on check-in only when SQLite says a transaction is still open
(`in_transaction`, which aiosqlite reads without a trip). Semantics are the stock adapter's:
the same sqlite3 calls, on the same thread, in the same order, under the same mutex.

This leans on SQLAlchemy 2.1's asyncio adapter classes; `install()` checks that they look as
expected and otherwise leaves the stock adapter in place (slower, same behaviour).
"""

from __future__ import annotations

import collections
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.util import EMPTY_DICT

try:  # SQLAlchemy 2.1
    from sqlalchemy.dialects.sqlite.aiosqlite import (
        AsyncAdapt_aiosqlite_connection,
        AsyncAdapt_aiosqlite_cursor,
    )

    SUPPORTED = hasattr(AsyncAdapt_aiosqlite_connection, "_cursor_cls") and hasattr(
        AsyncAdapt_aiosqlite_cursor, "_execute_async"
    )
except ImportError:  # pragma: no cover - an older SQLAlchemy: stock adapter
    SUPPORTED = False


def _run(raw: Any, operation: str, parameters: Any, many: bool) -> tuple[Any, list[Any], int, Any]:
    """On the connection's thread: the whole statement, cursor closed before returning."""
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


if SUPPORTED:

    class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
        """A client-side cursor whose every statement is one round trip (no aiosqlite cursor)."""

        __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

        def __init__(self, adapt_connection: Any) -> None:
            self._adapt_connection = adapt_connection
            self._connection = adapt_connection._connection
            self._cursor = None  # type: ignore[assignment]  # deliberately none: no aiosqlite cursor
            self._soft_closed_memoized = EMPTY_DICT
            self._rows = collections.deque()
            self._description: Any = None
            self._rowcount = -1
            self._lastrowid: Any = None
            self._arraysize = 1

        @property
        def description(self) -> Any:
            return self._description

        @property
        def rowcount(self) -> int:
            return self._rowcount

        @property
        def lastrowid(self) -> Any:
            return self._lastrowid

        @property
        def arraysize(self) -> int:
            return self._arraysize

        @arraysize.setter
        def arraysize(self, value: int) -> None:
            self._arraysize = value

        async def _trip(self, operation: Any, parameters: Any, many: bool) -> Any:
            async with self._adapt_connection._execute_mutex:
                raw = self._connection._conn
                description, rows, rowcount, lastrowid = await self._connection._execute(
                    _run, raw, operation, parameters, many
                )
            self._description, self._rowcount, self._lastrowid = description, rowcount, lastrowid
            self._rows = collections.deque(rows)
            return self

        async def _execute_async(self, operation: Any, parameters: Any) -> Any:
            return await self._trip(operation, parameters, False)

        async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
            return await self._trip(operation, seq_of_parameters, True)

        async def _async_soft_close(self) -> None:
            return None  # nothing is open on the other thread

        def close(self) -> None:
            self._rows.clear()

        def nextset(self) -> None:
            return None  # sqlite3 has one result set per statement

        def setinputsizes(self, *inputsizes: Any) -> None:
            return None

    class OneTripConnection(AsyncAdapt_aiosqlite_connection):
        __slots__ = ()
        _cursor_cls = OneTripCursor

        def rollback(self) -> None:
            # Nothing open (a read that ran without BEGIN, see storage.db): no trip for a no-op.
            if _open(self):
                super().rollback()

        def commit(self) -> None:
            if _open(self):
                super().commit()


def _open(conn: Any) -> bool:
    """Whether SQLite has a transaction open on this connection (read without a trip)."""
    try:
        return bool(conn._connection._connection and conn._connection.in_transaction)
    except ValueError:  # closed
        return False


def install(sync_engine: Engine) -> None:
    """Use the one-trip cursor and the informed reset on this engine's SQLite connections
    (only when SUPPORTED; the engine is created with `pool_reset_on_return=None`)."""

    @event.listens_for(sync_engine, "connect")
    def _swap(dbapi_conn: Any, _record: Any) -> None:
        if type(dbapi_conn) is AsyncAdapt_aiosqlite_connection:
            dbapi_conn.__class__ = OneTripConnection

    @event.listens_for(sync_engine, "reset")
    def _reset(dbapi_conn: Any, _record: Any, reset_state: Any) -> None:
        # The pool's own reset-on-return is off for this engine (storage.db.create_engine):
        # roll back only when SQLite says a transaction is open. (Never while terminating:
        # that may run in garbage collection, with no event loop to talk to the thread.)
        if reset_state.terminate_only:
            return
        try:
            open_ = dbapi_conn._connection.in_transaction
        except ValueError:  # aiosqlite: the connection is closed, nothing is open
            return
        if open_:
            dbapi_conn.rollback()
