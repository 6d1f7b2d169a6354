"""Segments are SQL over the summary, on SQLite and PostgreSQL; the summary follows events and orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text, update

from core import customers, loyalty
from core.clock import FrozenClock
from core.loyalty.rules import LoyaltyRules
from core.outreach import segments, stats
from core.outreach.rules import OutreachRules
from core.outreach.segments import SegmentSpec
from core.outreach.stats import EventInput
from storage.models import Customer
from supportbot.runtime import customer_hooks

RULES = OutreachRules(quiet_hours=None)
LOYALTY = LoyaltyRules()  # VIP: 1000 and 5 orders; pre-VIP: 600 and 3 orders


async def person(
    session: Any,
    clock: FrozenClock,
    ext: str,
    *,
    seen: int | None = None,
    first: int | None = None,
    telegram: int | None = None,
    language: str = "en",
    attrs: dict[str, Any] | None = None,
) -> int:
    """A customer your shop knows; `first`/`seen`: days ago of their first/last activity."""
    view, _ = await customers.upsert_by_external_id(
        session,
        clock=clock,
        external_id=ext,
        data=customers.CustomerData(first_name=ext.title(), language=language, attributes=attrs),
    )
    if telegram is not None:
        await session.execute(update(Customer).where(Customer.id == view.id).values(telegram_id=telegram))
    now = clock.now()
    for days in (first, seen):
        if days is not None:
            await stats.note_activity(session, customer_id=view.id, at=now - timedelta(days=days))
    return view.id


async def buy(session: Any, clock: FrozenClock, ext: str, order: str, amount: str, days_ago: float) -> None:
    await loyalty.record_order(
        session,
        clock=clock,
        rules=LOYALTY,
        customer_external_id=ext,
        order_id=order,
        amount=Decimal(amount),
        currency="USD",
        placed_at=clock.now() - timedelta(days=days_ago),
    )


async def event(
    session: Any, clock: FrozenClock, cid: int, kind: str, days_ago: float = 0, **kw: Any
) -> bool:
    [result] = await stats.record_events(
        session,
        clock=clock,
        customer_id=cid,
        events=[
            EventInput(
                event_id=f"{cid}-{kind}-{days_ago}",
                kind=kind,
                occurred_at=clock.now() - timedelta(days=days_ago),
                **kw,
            )
        ],
    )
    return not result.duplicate


@pytest.fixture
async def world(sessionmaker, clock: FrozenClock) -> dict[str, int]:  # type: ignore[no-untyped-def]
    now = clock.now()
    async with sessionmaker.begin() as s:
        ids = {
            "active": await person(s, clock, "active", seen=5, telegram=1),
            "dormant": await person(
                s, clock, "dormant", seen=40, telegram=2, language="ru", attrs={"plan": "pro", "seats": 3}
            ),
            "quick": await person(s, clock, "quick", first=120, seen=100, telegram=3),
            "late": await person(s, clock, "late", first=700, seen=200, telegram=4, attrs={"plan": "basic"}),
            "cancelled": await person(s, clock, "cancelled", seen=5, telegram=5),
            "vip": await person(s, clock, "vip", seen=2, telegram=6),
            "previp": await person(s, clock, "previp", seen=2),
            "expiring": await person(s, clock, "expiring", seen=10, telegram=8),
            "cart": await person(s, clock, "cart", seen=1, telegram=9),
            "never_seen": await person(s, clock, "never_seen"),  # only in the shop's CRM
        }
        await buy(s, clock, "quick", "Q1", "20", 110)
        for n, days in enumerate((600, 500, 300, 200)):
            await buy(s, clock, "late", f"L{n}", "50", days)
        for n in range(5):
            await buy(s, clock, "vip", f"V{n}", "250", 3 + n)
        for n in range(3):
            await buy(s, clock, "previp", f"P{n}", "250", 3 + n)
        await buy(s, clock, "cart", "C0", "10", 30)
        await event(s, clock, ids["cancelled"], "subscription_started", 60)
        await event(s, clock, ids["cancelled"], "subscription_cancelled", 4)
        await event(s, clock, ids["expiring"], "subscription_expiring", 0, expires_at=now + timedelta(days=3))
        await event(s, clock, ids["cart"], "cart_abandoned", 0.5, data={"items": [{"name": "Blue mug"}]})
        await stats.sync_orders(s, clock=clock)  # first run: the bulk backfill
    return ids


async def members(sessionmaker, clock: FrozenClock, spec: SegmentSpec, ids: dict[str, int]) -> set[str]:  # type: ignore[no-untyped-def]
    names = {v: k for k, v in ids.items()}
    async with sessionmaker() as s:
        found: set[str] = set()
        async for chunk in segments.iter_ids(s, spec, now=clock.now(), rules=RULES):
            found |= {names[c] for c in chunk}
        assert await segments.count(s, spec, now=clock.now(), rules=RULES) == len(found)
    return found


CASES = [
    (SegmentSpec("active"), {"active", "cancelled", "vip", "previp", "expiring", "cart"}),
    (SegmentSpec("dormant"), {"dormant", "quick", "late"}),
    (SegmentSpec("dormant", max_days=60), {"dormant"}),
    (SegmentSpec("churned"), {"quick", "late", "cancelled"}),
    (SegmentSpec("late_churn"), {"late"}),
    (SegmentSpec("quick_churn"), {"quick", "cancelled"}),
    (SegmentSpec("vip"), {"vip"}),
    (SegmentSpec("pre_vip"), {"previp"}),
    (SegmentSpec("subscribed_never_bought"), {"active", "dormant", "cancelled", "expiring"}),
    (SegmentSpec("subscription_expiring"), {"expiring"}),
    (SegmentSpec("subscription_expiring", days=2), set()),
    (SegmentSpec("abandoned_cart"), {"cart"}),
    (SegmentSpec("all", languages=("ru",)), {"dormant"}),
    (SegmentSpec("all", tiers=("regular",)), {"late"}),
    (SegmentSpec("all", tiers=("one_time",)), {"quick", "cart"}),
    (
        SegmentSpec("all", tiers=("never_bought",)),
        {"active", "dormant", "cancelled", "expiring", "never_seen"},
    ),
    (SegmentSpec("dormant", attributes={"plan": "pro"}), {"dormant"}),
    (SegmentSpec("all", attributes={"seats": 3}), {"dormant"}),
    (SegmentSpec("all", attributes={"plan": "basic", "seats": 3}), set()),
]


async def test_segment_membership(sessionmaker, clock: FrozenClock, world: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    wrong = {}
    for spec, expected in CASES:
        found = await members(sessionmaker, clock, spec, world)
        if found != expected:
            wrong[str(spec)] = (found, expected)
    assert not wrong, wrong


async def test_tiers_match_the_loyalty_module(
    sessionmaker, clock: FrozenClock, world: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        theirs = await loyalty.customer_tiers(s, rules=LOYALTY, customer_ids=list(world.values()))
    for tier in ("vip", "pre_vip", "regular", "one_time", "never_bought"):
        ours = await members(sessionmaker, clock, SegmentSpec("all", tiers=(tier,)), world)
        assert ours == {k for k, v in world.items() if theirs[v] == tier}, tier


async def test_preview_counts_contactable_and_puts_the_best_prospects_first(  # type: ignore[no-untyped-def]
    sessionmaker, clock: FrozenClock, world: dict[str, int]
) -> None:
    async with sessionmaker() as s:
        pv = await segments.preview(s, SegmentSpec("dormant"), now=clock.now(), rules=RULES, sample_size=2)
    assert pv.count == 3 and pv.contactable == 3
    assert [x.external_id for x in pv.sample] == ["late", "quick"]  # most orders first
    late = pv.sample[0]
    assert (
        late.tier == "regular"
        and late.orders == 4
        and late.spend_minor == 20000
        and late.days_inactive == 200
    )


async def test_purchases_refunds_and_events_keep_the_summary_current(  # type: ignore[no-untyped-def]
    sessionmaker, clock: FrozenClock, world: dict[str, int]
) -> None:
    async with sessionmaker.begin() as s:
        await buy(s, clock, "dormant", "D1", "30", 0)
        result = await stats.sync_orders(s, clock=clock)
        assert result.orders == 1
    assert "dormant" not in await members(sessionmaker, clock, SegmentSpec("dormant"), world)
    async with sessionmaker.begin() as s:
        await loyalty.refund_order(s, clock=clock, rules=LOYALTY, order_id="D1")
        assert (await stats.sync_orders(s, clock=clock)).refunds == 1
        row = await stats.stats_of(s, customer_id=world["dormant"])
        assert row is not None and row.orders_count == 0 and row.spend_minor == 0
    # An activity event is idempotent by its id.
    async with sessionmaker.begin() as s:
        assert await event(s, clock, world["quick"], "activity", 0)
        assert not await event(s, clock, world["quick"], "activity", 0)
    assert "quick" not in await members(sessionmaker, clock, SegmentSpec("churned"), world)


async def test_renewal_after_cancellation_is_active_again(
    sessionmaker, clock: FrozenClock, world: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        await event(s, clock, world["cancelled"], "subscription_started", 1)
        row = await stats.stats_of(s, customer_id=world["cancelled"])
        assert row is not None and row.subscription_status == "active"
    assert "cancelled" not in await members(sessionmaker, clock, SegmentSpec("churned"), world)


async def test_merging_a_bot_only_record_keeps_its_history(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        bot_only, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=777, first_name="Tom")
        await stats.note_activity(s, customer_id=bot_only.id, at=clock.now() - timedelta(days=300))
        await stats.note_activity(s, customer_id=bot_only.id, at=clock.now() - timedelta(days=50))
        target = await person(s, clock, "crm-tom")
        await buy(s, clock, "crm-tom", "T1", "15", 45)
        token, _ = await customers.create_link_token(
            s, clock=clock, external_id="crm-tom", ttl=timedelta(days=1)
        )
    async with sessionmaker.begin() as s:
        await customers.redeem_link_token(
            s, clock=clock, hooks=customer_hooks(), token=token, telegram_id=777
        )
        row = await stats.stats_of(s, customer_id=target)
        assert row is not None and row.orders_count == 1 and row.tenure_days == 255
        assert await stats.stats_of(s, customer_id=bot_only.id) is None


async def test_dormant_count_is_an_index_range_scan(
    sessionmaker, clock: FrozenClock, world: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        stmt = segments.audience(SegmentSpec("dormant"), now=clock.now(), rules=RULES)
        compiled = stmt.compile(s.bind, compile_kwargs={"literal_binds": True})
        if s.bind.dialect.name != "sqlite":
            pytest.skip("the plan is checked on SQLite (PostgreSQL may seq-scan a tiny table)")
        plan = " ".join(str(r) for r in (await s.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all())
    assert "ix_outreach_stats_engaged" in plan, plan


async def test_first_sync_builds_the_summary_from_customers_and_orders(
    sessionmaker, clock: FrozenClock
) -> None:  # type: ignore[no-untyped-def]
    """Outreach installed on a shop with history: last-seen times and orders, no summary yet."""
    async with sessionmaker.begin() as s:
        old = await person(s, clock, "old")
        await s.execute(
            update(Customer)
            .where(Customer.id == old)
            .values(
                first_seen_at=clock.now() - timedelta(days=400),
                last_seen_at=clock.now() - timedelta(days=100),
            )
        )
        await buy(s, clock, "old", "X1", "700", 300)
        await buy(s, clock, "old", "X2", "300", 95)
        await buy(s, clock, "buyer", "Y1", "10", 20)  # known only from an order
    async with sessionmaker.begin() as s:
        assert (await stats.sync_orders(s, clock=clock)).backfilled
        row = await stats.stats_of(s, customer_id=old)
        assert row is not None and row.orders_count == 2 and row.spend_minor == 100_000
        assert row.last_engaged_at == clock.now() - timedelta(days=95) and row.tenure_days == 305
        buyer = await stats.customer_by_external_id(s, external_id="buyer")
        assert buyer is not None
        row = await stats.stats_of(s, customer_id=buyer)
        assert (
            row is not None
            and row.orders_count == 1
            and row.last_purchase_at == clock.now() - timedelta(days=20)
        )
