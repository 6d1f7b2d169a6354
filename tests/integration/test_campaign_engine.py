"""Campaigns on a real database: audience and holdout, idempotency, replies, conversions, webhooks."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import customers, loyalty
from core.clock import FrozenClock
from core.errors import Conflict, Invalid, NotFound
from core.loyalty.rules import LoyaltyRules
from core.outreach import campaigns, delivery, sequences, stats, webhooks
from core.outreach.campaigns import CampaignInput
from core.outreach.delivery import Result
from core.outreach.rules import OutreachRules, in_holdout
from core.outreach.segments import SegmentSpec
from storage.models_outreach import CampaignRecipient, OutboxMessage, OutreachWebhook

RULES = OutreachRules(quiet_hours=None)
SECRET = "s3cret-s3cret-s3cret"


async def dormant_people(sessionmaker, clock: FrozenClock, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    async with sessionmaker.begin() as s:
        for i in range(n):
            view, _ = await customers.upsert_by_external_id(
                s, clock=clock, external_id=f"p{i}", data=customers.CustomerData(first_name=f"P{i}")
            )
            await s.execute(
                customers.Customer.__table__.update()  # type: ignore[attr-defined]
                .where(customers.Customer.id == view.id)
                .values(telegram_id=9000 + i)
            )
            await stats.note_activity(s, customer_id=view.id, at=clock.now() - timedelta(days=45 + i))
            ids.append(view.id)
    return ids


def winback(**kw: object) -> CampaignInput:
    return CampaignInput(name="wb", playbook="winback", send_window="any", **kw)  # type: ignore[arg-type]


async def test_audience_holdout_and_idempotency(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    ids = await dormant_people(sessionmaker, clock, 40)
    async with sessionmaker.begin() as s:
        first, created = await campaigns.create_campaign(
            s, clock=clock, rules=RULES, inp=winback(holdout=0.25), idempotency_key="wb-1"
        )
    assert created and first.targeted == 40
    async with sessionmaker.begin() as s:
        again, created = await campaigns.create_campaign(
            s, clock=clock, rules=RULES, inp=winback(holdout=0.25), idempotency_key="wb-1"
        )
        assert not created and again.id == first.id
        with pytest.raises(Conflict, match="different request"):
            await campaigns.create_campaign(
                s, clock=clock, rules=RULES, inp=winback(holdout=0.2), idempotency_key="wb-1"
            )
    async with sessionmaker() as s:
        recipients = list((await s.execute(select(CampaignRecipient))).scalars())
        queued = list(
            (await s.execute(select(OutboxMessage.customer_id).order_by(OutboxMessage.id))).scalars()
        )
    held = {r.customer_id for r in recipients if r.holdout}
    salt = campaigns.holdout_salt("wb-1")
    assert held == {c for c in ids if in_holdout(salt, c, 0.25)}  # random but stable
    assert 0 < len(held) < 20
    assert queued == [c for c in reversed(ids) if c not in held]  # everyone else, in priority order
    async with sessionmaker() as s:
        view = await campaigns.get_campaign(s, clock=clock, campaign_id=first.id)
    assert view.stats is not None and view.stats.held_out == len(held) and view.stats.queued == 40 - len(held)


async def test_a_variable_some_recipients_lack_needs_a_fallback(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    ids = await dormant_people(sessionmaker, clock, 3)
    step = {"templates": {"en": "You liked {last_product}"}}
    async with sessionmaker.begin() as s:
        with pytest.raises(Invalid) as err:
            await campaigns.create_campaign(
                s,
                clock=clock,
                rules=RULES,
                inp=CampaignInput(name="x", customer_ids=tuple(ids), steps=(step,), holdout=0),
            )
    assert err.value.code == "template_variable_missing"
    assert err.value.details == {"missing": {"last_product": 3}, "recipients": 3}
    async with sessionmaker.begin() as s:
        dry = await campaigns.dry_run(
            s,
            clock=clock,
            rules=RULES,
            inp=CampaignInput(
                name="x",
                customer_ids=tuple(ids),
                steps=({"templates": {"en": "You liked {last_product|it}"}},),
            ),
        )
        assert dry.missing_data == {} and dry.samples[0].steps == ["You liked it"]
        with pytest.raises(NotFound):
            await campaigns.create_campaign(
                s,
                clock=clock,
                rules=RULES,
                inp=CampaignInput(
                    name="x", customer_ids=(ids[0], 99999), steps=({"templates": {"en": "hi"}},)
                ),
            )


async def test_reply_purchase_conversion_and_uplift(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    ids = await dormant_people(sessionmaker, clock, 30)
    async with sessionmaker.begin() as s:
        await stats.sync_orders(s, clock=clock)  # as at start-up: the first sync builds the summary
    async with sessionmaker.begin() as s:
        view, _ = await campaigns.create_campaign(
            s,
            clock=clock,
            rules=RULES,
            idempotency_key="conv",
            inp=winback(holdout=0.3, webhook_url="https://shop.example/hook", webhook_secret=SECRET),
        )
    async with sessionmaker.begin() as s:
        ready = (await delivery.claim(s, clock=clock, rules=RULES, limit=100)).ready
        await delivery.mark_inflight(s, ids=[o.outbox_id for o in ready])
    async with sessionmaker.begin() as s:
        await delivery.complete(
            s, clock=clock, rules=RULES, results=[Result(o.outbox_id, "sent", message_id=1) for o in ready]
        )
    treated = [o.customer_id for o in ready]
    held = sorted(set(ids) - set(treated))
    clock.advance(days=1)
    async with sessionmaker.begin() as s:  # one writes back; a customer not reached does not "reply"
        assert await sequences.on_reply(s, clock=clock, customer_id=treated[0]) == [view.id]
        assert await sequences.on_reply(s, clock=clock, customer_id=held[0]) == []
    rules = LoyaltyRules()
    async with sessionmaker.begin() as s:  # two treated and one held-out customer buy
        for n, cid in enumerate([treated[1], treated[2], held[0]]):
            ext = (await customers.get_customer(s, customer_id=cid)).external_id
            await loyalty.record_order(
                s,
                clock=clock,
                rules=rules,
                customer_external_id=ext or "",
                order_id=f"O{n}",
                amount=Decimal("10"),
                currency="USD",
                placed_at=clock.now(),
            )
        await stats.sync_orders(s, clock=clock)
    async with sessionmaker() as s:
        v = await campaigns.get_campaign(s, clock=clock, campaign_id=view.id)
        rec = {r.customer_id: r for r in (await s.execute(select(CampaignRecipient))).scalars()}
        events = [
            w.event for w in (await s.execute(select(OutreachWebhook).order_by(OutreachWebhook.id))).scalars()
        ]
    st = v.stats
    assert st is not None
    assert st.replied == 1 and st.converted == 2 and st.holdout_converted == 1
    assert st.conversion_rate == pytest.approx(100 * 2 / len(treated))
    assert st.holdout_conversion_rate == pytest.approx(100 / len(held))
    assert st.uplift_pp == pytest.approx(st.conversion_rate - st.holdout_conversion_rate)
    assert rec[treated[0]].status == "replied" and rec[treated[1]].status == "purchased"
    assert rec[held[0]].status == "held_out" and rec[held[0]].converted_at is not None
    assert events.count("sent") == len(treated) and events.count("replied") == 1
    assert events.count("converted") == 2  # holdout conversions are not announced

    # After the goal window a purchase is no longer a conversion.
    clock.advance(days=40)
    async with sessionmaker.begin() as s:
        assert (
            await sequences.on_goal(
                s, clock=clock, customer_id=treated[3], goal="purchase", at=clock.now(), ref="late", amount=1
            )
            == []
        )


async def test_webhooks_are_signed_and_retried(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    ids = await dormant_people(sessionmaker, clock, 1)
    async with sessionmaker.begin() as s:
        await campaigns.create_campaign(
            s,
            clock=clock,
            rules=RULES,
            inp=CampaignInput(
                name="m",
                kind="message",
                customer_ids=(ids[0],),
                steps=({"templates": {"en": "hi"}},),
                webhook_url="https://shop.example/hook",
                webhook_secret=SECRET,
                webhook_events=("sent",),
            ),
        )
        ready = (await delivery.claim(s, clock=clock, rules=RULES, limit=5)).ready
        await delivery.mark_inflight(s, ids=[ready[0].outbox_id])
    async with sessionmaker.begin() as s:
        await delivery.complete(
            s, clock=clock, rules=RULES, results=[Result(ready[0].outbox_id, "sent", message_id=7)]
        )
    async with sessionmaker() as s:
        [hook] = await webhooks.due_webhooks(s, now=clock.now())
    body = json.loads(hook.body)
    assert body["event"] == "sent" and body["message_id"] == 7 and body["external_id"] == "p0"
    assert webhooks.verify(SECRET, hook.headers[webhooks.SIGNATURE_HEADER], hook.body, now=clock.now())
    assert not webhooks.verify(
        SECRET, hook.headers[webhooks.SIGNATURE_HEADER], hook.body + b" ", now=clock.now()
    )
    assert not webhooks.verify(
        SECRET, hook.headers[webhooks.SIGNATURE_HEADER], hook.body, now=clock.now() + timedelta(hours=1)
    )  # a replay, too late
    statuses = []
    for _ in range(3):
        async with sessionmaker.begin() as s:
            statuses.append(
                await webhooks.webhook_done(
                    s, webhook_id=hook.id, now=clock.now(), error="HTTP 503", max_attempts=3, base=5
                )
            )
            nxt = await webhooks.next_webhook_at(s)
        if nxt is not None:
            assert nxt > clock.now()
    assert statuses == ["pending", "pending", "failed"]


async def test_segment_campaign_skips_nobody_at_creation(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    """Send-time rules apply at send time: an opted-out customer is targeted and later skipped."""
    ids = await dormant_people(sessionmaker, clock, 2)
    async with sessionmaker.begin() as s:
        await customers.set_opt_in(s, clock=clock, telegram_id=9000, opted_in=False)
        view, _ = await campaigns.create_campaign(
            s,
            clock=clock,
            rules=RULES,
            inp=CampaignInput(
                name="x", segment=SegmentSpec("dormant"), steps=({"templates": {"en": "hi"}},), holdout=0
            ),
        )
    assert view.targeted == 2
    async with sessionmaker.begin() as s:
        result = await delivery.claim(s, clock=clock, rules=RULES, limit=10)
    assert result.skipped == {"opted_out": 1} and [o.customer_id for o in result.ready] == [ids[1]]
