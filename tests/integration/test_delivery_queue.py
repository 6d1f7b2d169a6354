"""The one delivery state machine (core/delivery) on SQLite and PostgreSQL.

Several worker processes share the database: two claims never take the same row, a live
worker's claim is never recovered by another, a dead one's is recovered once its lease ran
out, and a worker whose lease was taken over cannot put the row on the wire.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from core import delivery
from core.delivery import QueueTable
from storage.models import Customer
from storage.models_loyalty import LoyaltyNotice

QUEUE = QueueTable("loyalty_notices", LoyaltyNotice)


async def seed(sessionmaker, clock, n: int) -> None:  # type: ignore[no-untyped-def]
    now = clock.now()
    async with sessionmaker.begin() as s:
        customer = Customer(telegram_id=42, language="en", created_at=now, updated_at=now)
        s.add(customer)
        await s.flush()
        s.add_all(
            LoyaltyNotice(
                customer_id=customer.id,
                kind="k",
                dedupe_key=f"d{i}",
                params={},
                policy="service",
                status="queued",
                not_before=now,
                attempts=0,
                created_at=now,
            )
            for i in range(n)
        )


async def claim_all(sessionmaker, clock, owner: str) -> list[int]:  # type: ignore[no-untyped-def]
    got: list[int] = []
    while True:
        async with sessionmaker.begin() as s:
            rows = await delivery.claim(s, QUEUE, now=clock.now(), owner=owner, limit=7)
            ids = [r.id for r in rows]
        if not ids:
            return got
        got.extend(ids)
        await asyncio.sleep(0)


async def test_concurrent_claims_take_each_row_once(sessionmaker, clock) -> None:  # type: ignore[no-untyped-def]
    await seed(sessionmaker, clock, 120)
    a, b, c = await asyncio.gather(*(claim_all(sessionmaker, clock, f"p{i}") for i in range(3)))
    assert len(a) + len(b) + len(c) == 120
    assert len(set(a) | set(b) | set(c)) == 120  # nobody took a row twice
    async with sessionmaker() as s:
        owners = dict(
            (await s.execute(select(LoyaltyNotice.owner, func.count()).group_by(LoyaltyNotice.owner))).all()
        )
    assert owners == {k: v for k, v in {"p0": len(a), "p1": len(b), "p2": len(c)}.items() if v}


async def test_recovery_takes_only_expired_leases(sessionmaker, clock) -> None:  # type: ignore[no-untyped-def]
    await seed(sessionmaker, clock, 4)
    async with sessionmaker.begin() as s:
        live = [r.id for r in await delivery.claim(s, QUEUE, now=clock.now(), owner="live", limit=2)]
        dead = [
            r.id
            for r in await delivery.claim(
                s, QUEUE, now=clock.now(), owner="dead", limit=2, lease=timedelta(seconds=5)
            )
        ]
        assert await delivery.mark_wire(s, QUEUE, dead[:1], owner="dead") == {dead[0]}
    clock.advance(seconds=30)
    async with sessionmaker.begin() as s:
        assert await delivery.renew(s, QUEUE, owner="live", now=clock.now()) == 2
        # A starting process on PostgreSQL recovers what the dead one left, not the live one's.
        assert await delivery.recover(s, QUEUE, now=clock.now()) == (1, 1)
    async with sessionmaker() as s:
        status = dict((await s.execute(select(LoyaltyNotice.id, LoyaltyNotice.status))).all())
    assert [status[i] for i in live] == ["claimed", "claimed"]
    assert status[dead[0]] == "uncertain"  # it was on the wire: never repeated
    assert status[dead[1]] == "queued"  # it was only waiting: sent after all


async def test_a_worker_whose_lease_was_taken_over_cannot_send(sessionmaker, clock) -> None:  # type: ignore[no-untyped-def]
    await seed(sessionmaker, clock, 1)
    async with sessionmaker.begin() as s:
        (row,) = await delivery.claim(
            s, QUEUE, now=clock.now(), owner="slow", limit=1, lease=timedelta(seconds=5)
        )
        item = row.id
    clock.advance(seconds=10)
    async with sessionmaker.begin() as s:
        assert await delivery.recover(s, QUEUE, now=clock.now()) == (1, 0)
        (again,) = await delivery.claim(s, QUEUE, now=clock.now(), owner="fast", limit=1)
        assert again.id == item
    async with sessionmaker.begin() as s:
        assert await delivery.mark_wire(s, QUEUE, [item], owner="slow") == set()  # not ours any more
        assert await delivery.mark_wire(s, QUEUE, [item], owner="fast") == {item}


async def test_a_periodic_job_runs_once_per_period_for_the_fleet(sessionmaker, clock) -> None:  # type: ignore[no-untyped-def]
    from core import jobs

    period = timedelta(minutes=5)

    async def process() -> bool:
        async with sessionmaker.begin() as s:
            return await jobs.due(s, "engagement", now=clock.now(), period=period)

    assert sorted(await asyncio.gather(*(process() for _ in range(4)))) == [False, False, False, True]
    clock.advance(minutes=1)
    assert await process() is False
    clock.advance(minutes=5)
    assert await process() is True
