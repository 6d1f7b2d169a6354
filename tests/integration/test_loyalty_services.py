"""Loyalty services on a real database with an injected clock: pending points, expiry,
birthdays, referrals (paid once, undone with the purchase), merges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import customers, loyalty
from core.customers import CustomerData
from core.errors import Conflict
from core.loyalty.rules import LoyaltyRules
from storage.models_loyalty import LoyaltyNotice
from supportbot.runtime import customer_hooks

RULES = LoyaltyRules(
    pending=timedelta(days=14), expiry=timedelta(days=365), expiry_warning=timedelta(days=14)
)


async def customer(sessionmaker, clock, ext: str, **data) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        view, _ = await customers.upsert_by_external_id(
            s, clock=clock, external_id=ext, data=CustomerData(first_name=ext, **data)
        )
        await s.commit()
        return view.id


async def order(sessionmaker, clock, ext: str, order_id: str, amount: str, rules=RULES):  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        result = await loyalty.record_order(
            s,
            clock=clock,
            rules=rules,
            customer_external_id=ext,
            order_id=order_id,
            amount=Decimal(amount),
            currency="USD",
            placed_at=clock.now(),
        )
        await s.commit()
        return result


async def balance(sessionmaker, clock, cid: int, rules=RULES) -> loyalty.BalanceView:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await loyalty.balance(s, clock=clock, rules=rules, customer_id=cid)


async def test_points_are_pending_then_spendable_and_refunds_net_out(sessionmaker, clock) -> None:
    await order(sessionmaker, clock, "c1", "o1", "120")
    cid = await customer(sessionmaker, clock, "c1")
    b = await balance(sessionmaker, clock, cid)
    assert (b.spendable, b.pending, b.pending_until) == (0, 120, clock.now() + timedelta(days=14))
    async with sessionmaker() as s:
        with pytest.raises(Conflict) as err:
            await loyalty.redeem(
                s, clock=clock, rules=RULES, customer_id=cid, points=10, reason="x", idempotency_key="r1"
            )
        assert err.value.details == {"spendable": 0, "pending": 120, "requested": 10}
    clock.advance(days=14)
    b = await balance(sessionmaker, clock, cid)
    assert (b.spendable, b.pending) == (120, 0)

    # A refund of points still pending is pending too: the two net out.
    await order(sessionmaker, clock, "c2", "o2", "100")
    cid = await customer(sessionmaker, clock, "c2")
    async with sessionmaker() as s:
        await loyalty.refund_order(s, clock=clock, rules=RULES, order_id="o2")
        await s.commit()
    b = await balance(sessionmaker, clock, cid)
    assert (b.spendable, b.pending) == (0, 0)
    clock.advance(days=20)
    assert (await balance(sessionmaker, clock, cid)).spendable == 0


async def test_expiry_warns_once_then_burns_and_restarts_with_a_purchase(sessionmaker, clock) -> None:
    rules = LoyaltyRules(expiry=timedelta(days=365), expiry_warning=timedelta(days=14))
    await order(sessionmaker, clock, "c1", "o1", "300", rules)
    cid = await customer(sessionmaker, clock, "c1")
    start = clock.now()

    async def run() -> tuple[list[int], list[int]]:
        async with sessionmaker() as s:
            out = await loyalty.run_expiry(s, clock=clock, rules=rules)
            await s.commit()
            return out

    clock.set(start + timedelta(days=300))
    assert await run() == ([], [])
    clock.set(start + timedelta(days=352))
    assert await run() == ([cid], [])
    assert await run() == ([], [])  # warned once
    async with sessionmaker() as s:
        notice = (await s.execute(select(LoyaltyNotice))).scalar_one()
        assert (notice.kind, notice.policy, notice.params["points"]) == ("expiry_warning", "proactive", 300)
        assert notice.params["expires_at"].startswith((start + timedelta(days=365)).date().isoformat())
    b = await balance(sessionmaker, clock, cid, rules)
    assert b.expiring_soon and b.expires_at == start + timedelta(days=365)

    clock.set(start + timedelta(days=365))
    assert await run() == ([], [cid])
    assert await run() == ([], [])
    assert (await balance(sessionmaker, clock, cid, rules)).spendable == 0

    # A new purchase starts a new clock for the new points.
    await order(sessionmaker, clock, "c1", "o2", "50", rules)
    b = await balance(sessionmaker, clock, cid, rules)
    assert b.spendable == 50 and b.expires_at == clock.now() + timedelta(days=365)


async def test_birthday_once_a_year_not_when_set_late(sessionmaker, clock) -> None:
    clock.set(datetime(2026, 3, 1, 12, tzinfo=UTC))
    early = await customer(sessionmaker, clock, "early", birthday=date(1990, 4, 21))
    clock.set(datetime(2026, 4, 1, 12, tzinfo=UTC))  # 20 days before: too late for this year
    late = await customer(sessionmaker, clock, "late", birthday=date(1991, 4, 21))
    rules = LoyaltyRules(birthday_reward=100)

    async def run() -> list[int]:
        async with sessionmaker() as s:
            out = await loyalty.run_birthdays(s, clock=clock, rules=rules)
            await s.commit()
            return out

    assert await run() == []  # not anybody's birthday; the job learns when birthdays were set
    clock.set(datetime(2026, 4, 21, 9, tzinfo=UTC))
    assert await run() == [early]
    assert await run() == []
    assert (await balance(sessionmaker, clock, early, rules)).spendable == 100
    assert (await balance(sessionmaker, clock, late, rules)).spendable == 0
    clock.set(datetime(2027, 4, 21, 9, tzinfo=UTC))
    assert sorted(await run()) == sorted([early, late])


async def test_birthday_follows_the_customers_time_zone(sessionmaker, clock) -> None:
    clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    cid = await customer(sessionmaker, clock, "tokyo", birthday=date(1990, 4, 21), timezone="Asia/Tokyo")
    rules = LoyaltyRules(birthday_reward=50)
    clock.set(datetime(2026, 4, 20, 16, tzinfo=UTC))  # already the 21st in Tokyo
    async with sessionmaker() as s:
        assert await loyalty.run_birthdays(s, clock=clock, rules=rules) == [cid]
        await s.commit()


async def test_referral_pays_both_once_and_refuses_self_and_loops(sessionmaker, clock) -> None:
    rules = LoyaltyRules(referral_reward_referrer=200, referral_reward_referred=100)
    anna = await customer(sessionmaker, clock, "anna")
    ben = await customer(sessionmaker, clock, "ben")
    async with sessionmaker() as s:
        code_a = await loyalty.referral_code(s, clock=clock, customer_id=anna)
        code_b = await loyalty.referral_code(s, clock=clock, customer_id=ben)
        assert (
            await loyalty.attribute_referral(s, clock=clock, customer_id=anna, payload=f"ref_{code_a}")
        ).status == "self"
        outcome = await loyalty.attribute_referral(s, clock=clock, customer_id=ben, payload=f"ref_{code_a}")
        assert (outcome.status, outcome.referrer_name) == ("attributed", "anna")
        # Ben cannot bring Anna back round (a loop), and nobody is referred twice.
        assert (
            await loyalty.attribute_referral(s, clock=clock, customer_id=anna, payload=f"ref_{code_b}")
        ).status == "loop"
        assert (
            await loyalty.attribute_referral(s, clock=clock, customer_id=ben, payload=f"ref_{code_b}")
        ).status == "self"
        assert (
            await loyalty.attribute_referral(s, clock=clock, customer_id=ben, payload="ref_nosuchcode")
        ).status == "unknown_code"
        await s.commit()

    first = await order(sessionmaker, clock, "ben", "b1", "10", rules)
    assert first.referral_rewarded
    second = await order(sessionmaker, clock, "ben", "b2", "10", rules)
    assert not second.referral_rewarded
    assert (await balance(sessionmaker, clock, anna, rules)).spendable == 200
    assert (await balance(sessionmaker, clock, ben, rules)).spendable == 100 + 10 + 10
    async with sessionmaker() as s:
        info = await loyalty.referral_info(s, clock=clock, customer_id=anna)
        assert (info.invited, info.rewarded, info.code) == (1, 1, code_a)
        kinds = sorted(n.kind for n in (await s.execute(select(LoyaltyNotice))).scalars())
        assert kinds == ["referral_referred", "referral_referrer"]

    # An existing buyer cannot be "referred" afterwards.
    carl = await customer(sessionmaker, clock, "carl")
    await order(sessionmaker, clock, "carl", "c1", "10", rules)
    async with sessionmaker() as s:
        assert (
            await loyalty.attribute_referral(s, clock=clock, customer_id=carl, payload=f"ref_{code_a}")
        ).status == "not_new"


async def test_cancelled_first_purchase_takes_both_rewards_back(sessionmaker, clock) -> None:
    rules = LoyaltyRules(referral_reward_referrer=200, referral_reward_referred=100)
    anna = await customer(sessionmaker, clock, "anna")
    ben = await customer(sessionmaker, clock, "ben")
    async with sessionmaker() as s:
        code = await loyalty.referral_code(s, clock=clock, customer_id=anna)
        await loyalty.attribute_referral(s, clock=clock, customer_id=ben, payload=f"ref_{code}")
        await s.commit()
    await order(sessionmaker, clock, "ben", "b1", "10", rules)
    async with sessionmaker() as s:
        await loyalty.refund_order(s, clock=clock, rules=rules, order_id="b1", cancel=True)
        await s.commit()
    assert (await balance(sessionmaker, clock, anna, rules)).spendable == 0
    assert (await balance(sessionmaker, clock, ben, rules)).spendable == 0
    # The referral is void: a later purchase pays nothing.
    assert not (await order(sessionmaker, clock, "ben", "b2", "10", rules)).referral_rewarded


async def test_merge_moves_loyalty_rows_to_the_backend_record(sessionmaker, clock) -> None:
    anna = await customer(sessionmaker, clock, "anna")
    async with sessionmaker() as s:
        code = await loyalty.referral_code(s, clock=clock, customer_id=anna)
        bot_only, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=555, first_name="Ben")
        await loyalty.attribute_referral(s, clock=clock, customer_id=bot_only.id, payload=f"ref_{code}")
        await loyalty.earn(
            s, clock=clock, rules=RULES, customer_id=bot_only.id, points=7, reason="hi", idempotency_key="m1"
        )
        await s.commit()
    ben = await customer(sessionmaker, clock, "ben-crm")
    async with sessionmaker() as s:
        token, _ = await customers.create_link_token(
            s, clock=clock, external_id="ben-crm", ttl=timedelta(hours=1)
        )
        await customers.redeem_link_token(
            s, clock=clock, hooks=customer_hooks(), token=token, telegram_id=555
        )
        await s.commit()
    assert (await balance(sessionmaker, clock, ben)).spendable == 7
    result = await order(sessionmaker, clock, "ben-crm", "b1", "10", LoyaltyRules())
    assert result.referral_rewarded
