"""Issue 11 on both databases: large amounts fit, and periodic jobs skip a failing customer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import jobs, loyalty
from core.clock import FrozenClock
from core.errors import Invalid
from core.loyalty import jobs as loyalty_jobs
from core.loyalty.rules import LoyaltyRules
from core.outreach import stats
from storage.models_outreach import OutreachStats
from tests.integration.test_loyalty_services import balance, customer, order


async def test_an_order_of_the_maximum_earns_64_bit_points(sessionmaker, clock) -> None:
    rules = LoyaltyRules(points_per_unit=Decimal(10))
    cid = await customer(sessionmaker, clock, "big")
    for i in range(3):
        result = await order(sessionmaker, clock, "big", f"o{i}", "1000000000", rules)
        assert result.points == 10**10  # beyond PostgreSQL's 32-bit integer
    assert (await balance(sessionmaker, clock, cid, rules)).spendable == 3 * 10**10
    async with sessionmaker() as s:
        assert (await stats.sync_orders(s, clock=clock)).backfilled
        await s.commit()
        row = await s.get(OutreachStats, cid)
        assert row is not None and row.spend_minor == 3 * 10**11
    with pytest.raises(Invalid):
        await order(sessionmaker, clock, "big", "o-too-big", "10000000001", rules)


async def test_expiry_and_birthdays_skip_a_failing_customer_and_go_on(
    sessionmaker, clock: FrozenClock, monkeypatch
) -> None:
    rules = LoyaltyRules(expiry=timedelta(days=365), expiry_warning=timedelta(days=14))
    await order(sessionmaker, clock, "bad", "o1", "300", rules)
    await order(sessionmaker, clock, "good", "o2", "300", rules)
    bad = await customer(sessionmaker, clock, "bad")
    good = await customer(sessionmaker, clock, "good")
    real = loyalty_jobs._expiry_one

    async def failing(session, **kw):  # type: ignore[no-untyped-def]
        if kw["cid"] == bad:
            await session.execute(select(func.count()).select_from(OutreachStats))  # some work, then:
            raise RuntimeError("a bad row")
        return await real(session, **kw)

    monkeypatch.setattr(loyalty_jobs, "_expiry_one", failing)
    before = jobs.skipped().get("loyalty expiry", 0)
    clock.set(clock.now() + timedelta(days=365))
    for _ in range(2):  # the next turn skips it again and still serves the others
        async with sessionmaker() as s:
            warned, expired = await loyalty.run_expiry(s, clock=clock, rules=rules)
            await s.commit()
        assert warned == [] and expired in ([good], [])
    assert jobs.skipped()["loyalty expiry"] == before + 2
    assert (await balance(sessionmaker, clock, good, rules)).spendable == 0
    assert (await balance(sessionmaker, clock, bad, rules)).spendable == 300


async def test_activity_throttle_is_not_fooled_by_a_reused_customer_id(sessionmaker, clock) -> None:
    """Case 7: a merge on linking frees an id that SQLite gives to the next new customer."""
    from sqlalchemy import delete

    from bot.outreach import OutreachMiddleware

    cid = await customer(sessionmaker, clock, "telegram-only")
    middleware = OutreachMiddleware(db=sessionmaker, clock=clock)
    await middleware._record(cid, 100, reply=False, awaits=False)
    async with sessionmaker() as s:
        assert (await s.get(OutreachStats, cid)) is not None
    async with sessionmaker.begin() as s:  # merged away; the id is handed to a newcomer
        await s.execute(delete(OutreachStats).where(OutreachStats.customer_id == cid))
    clock.set(clock.now() + timedelta(seconds=10))  # within the same minute
    await middleware._record(cid, 200, reply=False, awaits=False)
    async with sessionmaker() as s:
        row = await s.get(OutreachStats, cid)
        assert row is not None and row.last_active_at == clock.now()


async def test_order_sync_skips_a_customer_it_cannot_fold_in_and_moves_on(
    sessionmaker, clock, monkeypatch
) -> None:
    rules = LoyaltyRules()
    bad = await customer(sessionmaker, clock, "bad")
    good = await customer(sessionmaker, clock, "good")
    async with sessionmaker() as s:
        assert (await stats.sync_orders(s, clock=clock)).backfilled
        await s.commit()
    await order(sessionmaker, clock, "bad", "o1", "10", rules)
    await order(sessionmaker, clock, "good", "o2", "20", rules)
    real = stats.refresh_purchases

    async def failing(session, *, customer_ids, now=None):  # type: ignore[no-untyped-def]
        if bad in set(customer_ids):
            raise OverflowError("integer overflow")
        return await real(session, customer_ids=customer_ids, now=now)

    monkeypatch.setattr(stats, "refresh_purchases", failing)
    before = jobs.skipped().get("outreach order sync", 0)
    async with sessionmaker() as s:
        result = await stats.sync_orders(s, clock=clock)
        await s.commit()
    assert result.orders == 2
    assert jobs.skipped()["outreach order sync"] == before + 2  # the batch, then the bad customer
    async with sessionmaker() as s:
        assert (await s.get(OutreachStats, good)).spend_minor == 2000  # type: ignore[union-attr]
        again = await stats.sync_orders(s, clock=clock)  # the watermark moved on: no retry forever
        assert again.orders == 0


async def test_the_outreach_scheduler_outlives_a_failing_phase(sessionmaker, clock, monkeypatch) -> None:
    """A phase that fails on every turn is logged; the loop goes on and the other phases run."""
    import asyncio

    from bot import outreach as worker
    from core.outreach import delivery
    from core.rules import build_rules
    from core.settings import Settings
    from dialogs.context import BotContext

    turns = {"schedule": 0, "finish": 0}

    async def broken(session, *, clock):  # type: ignore[no-untyped-def]
        turns["schedule"] += 1
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    async def finish(session, *, clock):  # type: ignore[no-untyped-def]
        turns["finish"] += 1
        return []

    monkeypatch.setattr(delivery, "schedule_due", broken)
    monkeypatch.setattr(delivery, "finish_campaigns", finish)
    monkeypatch.setattr(worker, "MAX_IDLE", 0.01)
    settings = Settings(_env_file=None, outreach_sync_seconds=1)
    ctx = BotContext(
        settings=settings,
        rules=build_rules(settings),
        db=sessionmaker,
        clock=clock,
        bot=None,
        i18n=None,
        stop=asyncio.Event(),  # type: ignore[arg-type]
    )
    task = asyncio.create_task(worker.run_scheduler(ctx))
    try:
        while turns["finish"] < 3:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.01)
    finally:
        ctx.stop.set()
        await asyncio.wait_for(task, 5)
    assert turns["schedule"] >= 3
