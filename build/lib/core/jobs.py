"""Periodic jobs: they survive a bad row, and run once per period for the whole fleet.

A bad row: each customer's part runs in its own savepoint (`guarded`). A failure is rolled back
to the savepoint, logged with the job's name and the customer's id, counted (`skipped()` for
tests and operators) and the job moves on to the next customer. The job's other work and its
transaction are kept, so no loop restarts on the same row forever.

Several processes: every process runs the same job loops. A job's transaction first calls
`exclusive(session, name)`: on PostgreSQL a transaction-scoped advisory lock, so two processes
never run the same job at once (the second waits, then sees what the first committed: no row is
scheduled twice); on SQLite (one process) the write lock already does it. `due(session, name,
now, period)` also says whether the job's period has passed since any process last ran it,
recording the run in `bot_state`: a job runs once per period, not once per process.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import is_postgres
from storage.state import get_state, set_state

log = logging.getLogger(__name__)
T = TypeVar("T")

_skipped: Counter[str] = Counter()


def skipped() -> dict[str, int]:
    """Customers skipped so far by job name (since the process started)."""
    return dict(_skipped)


async def guarded(
    session: AsyncSession, *, job: str, customer_id: int | None, step: Callable[[], Awaitable[T]]
) -> tuple[bool, T | None]:
    """Run one customer's part of `job` in a savepoint: (True, result), or (False, None) if it failed."""
    try:
        async with session.begin_nested():
            return True, await step()
    except Exception:
        _skipped[job] += 1
        log.exception("%s: customer %s skipped after an error (the job goes on)", job, customer_id)
        return False, None


def _key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    return int.from_bytes(hashlib.blake2b(f"job:{name}".encode(), digest_size=8).digest(), "big", signed=True)


async def exclusive(session: AsyncSession, name: str) -> None:
    """Hold the job's lock until this transaction ends (PostgreSQL; a no-op on SQLite)."""
    if is_postgres(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _key(name)})


async def due(session: AsyncSession, name: str, *, now: datetime, period: timedelta) -> bool:
    """True (and the run recorded) if no process ran `name` within the last `period`."""
    await exclusive(session, name)
    key = f"job:{name}"
    last = await get_state(session, key=key)
    if last is not None:
        try:
            if now - datetime.fromisoformat(last) < period * 0.9:
                return False
        except ValueError:
            pass
    await set_state(session, now=now, key=key, value=now.isoformat())
    return True
