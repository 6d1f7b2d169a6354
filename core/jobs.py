"""Periodic jobs survive a bad row: each customer's part runs in its own savepoint.

A failure is rolled back to the savepoint, logged with the job's name and the customer's id,
counted (`skipped()` for tests and operators) and the job moves on to the next customer. The
job's other work and its transaction are kept, so no loop restarts on the same row forever.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

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
