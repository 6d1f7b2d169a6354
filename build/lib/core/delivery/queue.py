"""Claim, wire, release, finish, renew and recover: one implementation for every queue.

A `QueueTable` names a queue's model and the values its `status` column uses for the shared
states (a survey waits as `scheduled`, a staff post as `queued`; both are "queued" here). Every
queue table has `id`, `status`, `not_before`, `owner` and `lease_until` columns (and usually
`attempts`). Functions flush nothing and commit nothing: the caller owns the transaction, and
a claim and its effects commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import is_postgres

DEFAULT_LEASE = timedelta(seconds=30)  # renewed every 10 s while held


@dataclass(frozen=True)
class QueueTable:
    name: str
    model: Any
    queued: str = "queued"
    claimed: str = "claimed"
    wire: str = "sending"
    uncertain: str = "uncertain"

    @property
    def has_attempts(self) -> bool:
        return hasattr(self.model, "attempts")


def _t(table: QueueTable) -> Any:
    """The queue's table: updates are Core statements on it (no ORM bulk-update layer, no
    session synchronisation; callers hold no loaded row whose status they read back)."""
    return table.model.__table__


def _postgres(session: AsyncSession) -> bool:
    return is_postgres(session)


def _due(table: QueueTable, now: datetime) -> list[ColumnElement[bool]]:
    m = table.model
    return [m.status == table.queued, or_(m.not_before.is_(None), m.not_before <= now)]


async def claim(
    session: AsyncSession,
    table: QueueTable,
    *,
    now: datetime,
    owner: str,
    limit: int,
    lease: timedelta = DEFAULT_LEASE,
    where: Iterable[ColumnElement[bool]] = (),
    order: Sequence[Any] | None = None,
) -> list[Any]:
    """Take up to `limit` due rows for `owner` (status `claimed`, leased until now + lease).

    Returns the ORM rows. On PostgreSQL the rows are locked with SKIP LOCKED, so two
    processes claiming at once take different rows; a row another transaction holds is
    skipped, never waited for."""
    rows = await lock_due(session, table, now=now, limit=limit, where=where, order=order)
    for row in rows:
        take(row, table, owner=owner, now=now, lease=lease)
    if rows:
        await session.flush()
    return rows


async def lock_due(
    session: AsyncSession,
    table: QueueTable,
    *,
    now: datetime,
    limit: int,
    where: Iterable[ColumnElement[bool]] = (),
    order: Sequence[Any] | None = None,
) -> list[Any]:
    """The due rows a claim may take (locked with SKIP LOCKED on PostgreSQL), unchanged: the
    caller applies its send-time rules, then `take`s the ones that go (the rest it defers or
    skips in the same transaction)."""
    m = table.model
    stmt = select(m).where(*_due(table, now), *where)
    stmt = stmt.order_by(*(order if order is not None else (m.not_before, m.id))).limit(limit)
    if _postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars().all())


def take(row: Any, table: QueueTable, *, owner: str, now: datetime, lease: timedelta = DEFAULT_LEASE) -> None:
    """Claim one locked row for `owner`."""
    row.status, row.owner, row.lease_until = table.claimed, owner, now + lease


async def claim_ids(
    session: AsyncSession,
    table: QueueTable,
    *,
    now: datetime,
    owner: str,
    ids: Sequence[int],
    lease: timedelta = DEFAULT_LEASE,
    on_wire: bool = False,
) -> list[int]:
    """Claim these rows if they are still queued (set-wise; for claims that select with their
    own query). Returns the ids actually claimed. `on_wire`: claimed straight onto the wire
    (as `mark_wire` would), for a request that leaves right after this commit, its rate-limit
    tokens already taken: no transaction of its own for the wire mark."""
    if not ids:
        return []
    t = _t(table)
    values: dict[str, Any] = {"status": table.claimed, "owner": owner, "lease_until": now + lease}
    if on_wire:
        values["status"] = table.wire
        if table.has_attempts:
            values["attempts"] = t.c.attempts + 1
    if not _postgres(session):  # SQLite: the write lock is held, nobody else can claim meanwhile
        stmt = update(t).where(t.c.id.in_(ids), t.c.status == table.queued).values(**values).returning(t.c.id)
        return list((await session.execute(stmt)).scalars().all())
    locked = select(t.c.id).where(t.c.id.in_(ids), t.c.status == table.queued)
    got = list((await session.execute(locked.with_for_update(skip_locked=True))).scalars().all())
    if got:
        await session.execute(update(t).where(t.c.id.in_(got)).values(**values))
    return got


async def mark_wire(session: AsyncSession, table: QueueTable, ids: Sequence[int], *, owner: str) -> set[int]:
    """Claimed -> on the wire, right before the request leaves. Returns the ids that were still
    this owner's claim: a row whose lease was taken over by a recovering process must not be
    sent (its new owner will)."""
    if not ids:
        return set()
    t = _t(table)
    values: dict[str, Any] = {"status": table.wire}
    if table.has_attempts:
        values["attempts"] = t.c.attempts + 1
    stmt = (
        update(t)
        .where(t.c.id.in_(ids), t.c.status == table.claimed, t.c.owner == owner)
        .values(**values)
        .returning(t.c.id)
    )
    return set((await session.execute(stmt)).scalars().all())


async def release(
    session: AsyncSession,
    table: QueueTable,
    ids: Sequence[int],
    *,
    not_before: datetime | None = None,
    **values: Any,
) -> None:
    """Claimed rows back to the queue, untouched (shutdown, a busy chat, a deferral)."""
    if not ids:
        return
    t = _t(table)
    if not_before is not None:
        values["not_before"] = not_before
    await session.execute(
        update(t)
        .where(t.c.id.in_(ids), t.c.status == table.claimed)
        .values(status=table.queued, owner=None, lease_until=None, **values)
    )


async def finish(
    session: AsyncSession, table: QueueTable, ids: Sequence[int], status: str, **values: Any
) -> None:
    """A final (or retry) state after Telegram's answer; the lease ends."""
    if not ids:
        return
    t = _t(table)
    await session.execute(
        update(t).where(t.c.id.in_(ids)).values(status=status, owner=None, lease_until=None, **values)
    )


async def renew(
    session: AsyncSession, table: QueueTable, *, owner: str, now: datetime, lease: timedelta = DEFAULT_LEASE
) -> int:
    """Extend the leases of everything `owner` holds (a live worker calls this regularly)."""
    m = table.model
    result = await session.execute(
        update(m)
        .where(m.owner == owner, m.status.in_((table.claimed, table.wire)))
        .values(lease_until=now + lease)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def recover(
    session: AsyncSession,
    table: QueueTable,
    *,
    now: datetime,
    everything: bool = False,
    lost: dict[str, Any] | None = None,
    lost_rows: list[tuple[int, int]] | None = None,
) -> tuple[int, int]:
    """Rows a dead process left: claimed ones go back to the queue; ones on the wire become
    `uncertain` (or `lost`: the values a domain wants for them, e.g. a survey counts as sent).

    Only rows whose lease expired are touched, so a starting process never takes what a live
    one is working on; `everything` (one process on SQLite, at start) takes them all.
    Returns (requeued, uncertain)."""
    m = table.model
    stale: list[ColumnElement[bool]] = []
    if not everything:
        stale.append(or_(m.lease_until.is_(None), m.lease_until < now))
    requeued = await session.execute(
        update(m)
        .where(m.status == table.claimed, *stale)
        .values(status=table.queued, owner=None, lease_until=None)
    )
    values = lost if lost is not None else {"status": table.uncertain}
    gone = (
        await session.execute(
            update(m)
            .where(m.status == table.wire, *stale)
            .values(owner=None, lease_until=None, **values)
            .returning(m.id, m.customer_id)
        )
    ).all()
    if lost_rows is not None:  # (id, customer id) of each row that was on the wire
        lost_rows.extend((r[0], r[1]) for r in gone)
    return int(getattr(requeued, "rowcount", 0) or 0), len(gone)
