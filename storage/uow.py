"""One update's database work: one session, opened on first use and closed with the update.

A handler never opens a session. It asks the update's `UnitOfWork` (injected with the `Turn`,
dialogs/flow.py) to run one use case: `await turn.uow.write(nps.record_score, ...)` or
`await turn.uow.read(nps.get_survey, ...)`. Each call is a short transaction of its own on the
update's session, because a handler talks to Telegram between its use cases, and a transaction
held across a network call would hold SQLite's only write turn (storage/db.py) for that long.
Between two calls the session forgets what it loaded (`expunge_all`), so each use case reads
what is committed now, as it would in a session of its own; what a use case returned stays
readable (the objects are detached with their attributes loaded).

One session means one use case at a time: never `asyncio.gather` two calls of one unit of
work (SQLAlchemy refuses concurrent operations on a session). After `close()` (the update is
done) the unit of work refuses to run anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

P = ParamSpec("P")
T = TypeVar("T")


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._session: AsyncSession | None = None
        self._closed = False

    def _open(self) -> AsyncSession:
        if self._closed:
            raise RuntimeError("this update's unit of work is closed: its update is done")
        if self._session is None:
            self._session = self.db()
        return self._session

    async def write(
        self,
        use_case: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `use_case(session, ...)` in a write transaction; committed when it returns,
        rolled back (and the error raised) when it raises."""
        session = self._open()
        try:
            async with self.db.writing(), session.begin():
                return await use_case(session, *args, **kwargs)
        finally:
            session.expunge_all()

    async def read(
        self,
        query: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `query(session, ...)` in a read-only transaction that never waits for a writer
        (SQLite: a deferred BEGIN; PostgreSQL: READ ONLY, so a write in it fails loudly)."""
        session = self._open()
        try:
            async with session.begin():
                await session.connection(execution_options=self.db.read_options)
                return await query(session, *args, **kwargs)
        finally:
            session.expunge_all()

    async def close(self) -> None:
        """End of the update: give the session back (any transaction left open rolls back)."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
