"""Issue 11 on both databases: large amounts fit, and periodic jobs skip a failing customer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import jobs, loyalty
from core.clock import FrozenClock
from core.errors import Invalid
from core.loyalty_rules import LoyaltyRules
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
    real = loyalty._expiry_one

    async def failing(session, **kw):  # type: ignore[no-untyped-def]
        if kw["cid"] == bad:
            await session.execute(select(func.count()).select_from(OutreachStats))  # some work, then:
            raise RuntimeError("a bad row")
        return await real(session, **kw)

    monkeypatch.setattr(loyalty, "_expiry_one", failing)
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
