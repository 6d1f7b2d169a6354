"""Periodic jobs across several processes: each runs once per period for the whole fleet.

Every process runs the same job loops. A job's transaction first calls `exclusive(session,
name)`: on PostgreSQL a transaction-scoped advisory lock, so two processes never run the same
job at once (the second waits, then sees what the first committed: no row is scheduled twice);
on SQLite (one process) the write lock already does it. `due(session, name, now, period)`
also says whether the job's period has passed since any process last ran it, recording the
run in `bot_state`: a job runs once per period, not once per process.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.state import get_state, set_state


def _key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    return int.from_bytes(hashlib.blake2b(f"job:{name}".encode(), digest_size=8).digest(), "big", signed=True)


async def exclusive(session: AsyncSession, name: str) -> None:
    """Hold the job's lock until this transaction ends (PostgreSQL; a no-op on SQLite)."""
    if session.bind.dialect.name == "postgresql":
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
