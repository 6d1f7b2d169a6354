"""The outbox state machine on a real database: send-time rules, answers, crash recovery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from core import customers
from core.clock import FrozenClock
from core.contact_policy import record_contact
from core.outreach import campaigns, delivery, stats
from core.outreach.campaigns import CampaignInput
from core.outreach.delivery import Result
from core.outreach.rules import OutreachRules
from storage.models import ContactLog, Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage
from supportbot.runtime import customer_hooks

RULES = OutreachRules(max_attempts=3, retry_base=2, retry_max=60, paid_max_stars=1)
STEP = {"delay_seconds": 0, "templates": {"en": "Hi {name|there}"}, "buttons": [], "offer": None}
STEP2 = {**STEP, "delay_seconds": 14 * 86400, "templates": {"en": "Still there, {name|friend}?"}}


async def people(sessionmaker, clock: FrozenClock, n: int, **fields: Any) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    async with sessionmaker.begin() as s:
        for i in range(n):
            view, _ = await customers.touch_telegram_user(
                s, clock=clock, telegram_id=5000 + i, first_name=f"C{i}"
            )
            await stats.note_activity(s, customer_id=view.id, at=clock.now() - timedelta(days=40))
            ids.append(view.id)
            for k, v in fields.items():
                await s.execute(Customer.__table__.update().where(Customer.id == view.id).values({k: v}))  # type: ignore[attr-defined]
    return ids


async def start(sessionmaker, clock: FrozenClock, ids: list[int], **kw: Any) -> int:  # type: ignore[no-untyped-def]
    kw.setdefault("steps", (STEP, STEP2))
    async with sessionmaker.begin() as s:
        view, _ = await campaigns.create_campaign(
            s,
            clock=clock,
            rules=RULES,
            inp=CampaignInput(name="t", customer_ids=tuple(ids), holdout=0, send_window="any", **kw),
        )
    return view.id


async def claim(sessionmaker, clock: FrozenClock, limit: int = 50) -> delivery.ClaimResult:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        return await delivery.claim(s, clock=clock, rules=RULES, limit=limit)


async def answer(sessionmaker, clock: FrozenClock, results: list[Result]) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        await delivery.mark_inflight(s, ids=[r.outbox_id for r in results])
    async with sessionmaker.begin() as s:
        await delivery.complete(s, clock=clock, rules=RULES, results=results)


async def rows(sessionmaker, model: Any = OutboxMessage) -> list[Any]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return list((await s.execute(select(model).order_by(model.id))).scalars())


async def test_send_time_rules_skip_with_reasons_and_defer_quiet_hours(
    sessionmaker, clock: FrozenClock
) -> None:  # type: ignore[no-untyped-def]
    ok, opted_out, blocked, capped, tokyo = await people(sessionmaker, clock, 5)
    async with sessionmaker.begin() as s:
        await s.execute(Customer.__table__.update().where(Customer.id == opted_out).values(opted_in=False))  # type: ignore[attr-defined]
        await customers.set_reachable(s, clock=clock, telegram_id=5002, reachable=False, reason="blocked")
        await record_contact(s, customer_id=capped, kind="nps", ref=None, now=clock.now() - timedelta(days=2))
        await s.execute(Customer.__table__.update().where(Customer.id == tokyo).values(timezone="Asia/Tokyo"))  # type: ignore[attr-defined]
    await start(sessionmaker, clock, [ok, opted_out, blocked, capped, tokyo], quiet_hours="21:00-09:00")
    result = await claim(sessionmaker, clock)  # 12:00 UTC is 21:00 in Tokyo
    assert [o.customer_id for o in result.ready] == [ok]
    assert result.ready[0].text == "Hi C0"
    assert result.skipped == {"opted_out": 1, "unreachable": 1, "frequency_cap": 1}
    assert result.deferred == {"quiet_hours": 1}
    out = {r.customer_id: r for r in await rows(sessionmaker)}
    assert out[tokyo].status == "queued" and out[tokyo].not_before == clock.now() + timedelta(hours=12)
    rec = {r.customer_id: r for r in await rows(sessionmaker, CampaignRecipient)}
    assert rec[opted_out].status == "opted_out" and rec[capped].stop_reason == "frequency_cap"
    # The claim reserved the contact budget: nothing else may reach this person this week.
    async with sessionmaker() as s:
        assert (
            await s.scalar(select(func.count()).select_from(ContactLog).where(ContactLog.customer_id == ok))
            == 1
        )


async def test_answers_advance_retry_or_fail(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    ids = await people(sessionmaker, clock, 4)
    await start(sessionmaker, clock, ids)
    ready = {o.customer_id: o for o in (await claim(sessionmaker, clock)).ready}
    await answer(
        sessionmaker,
        clock,
        [
            Result(ready[ids[0]].outbox_id, "sent", message_id=11),
            Result(ready[ids[1]].outbox_id, "retry", error_code="rate_limited", retry_after=30),
            Result(
                ready[ids[2]].outbox_id, "failed", error_code="blocked", error="Forbidden: bot was blocked"
            ),
            Result(ready[ids[3]].outbox_id, "failed", error_code="chat_not_found"),
        ],
    )
    out = {r.customer_id: r for r in await rows(sessionmaker)}
    rec = {r.customer_id: r for r in await rows(sessionmaker, CampaignRecipient)}
    assert out[ids[0]].status == "sent" and out[ids[0]].telegram_message_id == 11
    assert rec[ids[0]].status == "active" and rec[ids[0]].step == 1
    assert rec[ids[0]].next_at == clock.now() + timedelta(days=14)
    assert out[ids[1]].status == "queued" and out[ids[1]].not_before == clock.now() + timedelta(seconds=30)
    assert out[ids[2]].status == "failed" and rec[ids[2]].stop_reason == "blocked"
    assert out[ids[3]].status == "failed" and out[ids[3]].error_code == "chat_not_found"
    async with sessionmaker() as s:
        blocked = await s.get(Customer, ids[2])
        assert blocked is not None and not blocked.reachable and blocked.unreachable_reason == "blocked"
        other = await s.get(Customer, ids[3])
        assert other is not None and other.reachable  # a 400 fails that message only
        budget = set((await s.execute(select(ContactLog.customer_id))).scalars())
    assert budget == {ids[0]}  # undelivered messages gave their budget back

    # The retried one gives up after max_attempts, backing off in between.
    for attempt in (2, 3):
        clock.advance(minutes=5)
        [again] = (await claim(sessionmaker, clock)).ready
        await answer(sessionmaker, clock, [Result(again.outbox_id, "retry", error_code="server_error")])
        row = next(r for r in await rows(sessionmaker) if r.customer_id == ids[1])
        if attempt < 3:
            assert row.status == "queued" and row.not_before == clock.now() + timedelta(
                seconds=2 * 2 ** (attempt - 1)
            )
    assert row.status == "failed" and row.error_code == "server_error_max_attempts"

    # Step 2 after its delay, last step: done.
    clock.advance(days=15)
    async with sessionmaker.begin() as s:
        assert await delivery.schedule_due(s, clock=clock) == 1
    [step2] = (await claim(sessionmaker, clock)).ready
    assert step2.step == 1 and step2.text == "Still there, C0?"
    await answer(sessionmaker, clock, [Result(step2.outbox_id, "sent", message_id=12)])
    rec = {r.customer_id: r for r in await rows(sessionmaker, CampaignRecipient)}
    assert rec[ids[0]].status == "done" and rec[ids[0]].sent_steps == 2
    async with sessionmaker.begin() as s:
        assert await delivery.finish_campaigns(s, clock=clock) == [1]


async def test_recovery_requeues_claimed_and_reports_inflight_as_uncertain(
    sessionmaker, clock: FrozenClock
) -> None:  # type: ignore[no-untyped-def]
    ids = await people(sessionmaker, clock, 3)
    await start(sessionmaker, clock, ids)
    ready = (await claim(sessionmaker, clock)).ready
    async with sessionmaker.begin() as s:  # one was on the wire at the kill; two waited for tokens
        await delivery.mark_inflight(s, ids=[ready[0].outbox_id])
    async with sessionmaker.begin() as s:
        assert await delivery.recover(s, clock=clock) == (2, 1)
    out = {r.id: r for r in await rows(sessionmaker)}
    assert out[ready[0].outbox_id].status == "uncertain"
    assert {out[o.outbox_id].status for o in ready[1:]} == {"queued"}
    rec = {r.customer_id: r for r in await rows(sessionmaker, CampaignRecipient)}
    assert rec[ready[0].customer_id].status == "active"  # the sequence keeps its rhythm
    async with sessionmaker() as s:
        assert set((await s.execute(select(ContactLog.customer_id))).scalars()) == {ready[0].customer_id}
    again = (await claim(sessionmaker, clock)).ready
    assert sorted(o.outbox_id for o in again) == sorted(
        o.outbox_id for o in ready[1:]
    )  # never the uncertain one


async def test_pause_resume_cancel(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    ids = await people(sessionmaker, clock, 3)
    cid = await start(sessionmaker, clock, ids)
    async with sessionmaker.begin() as s:
        await campaigns.pause(s, clock=clock, campaign_id=cid)
    assert (await claim(sessionmaker, clock)).ready == []
    async with sessionmaker.begin() as s:
        await campaigns.resume(s, clock=clock, campaign_id=cid)
    assert len((await claim(sessionmaker, clock, limit=1)).ready) == 1
    async with sessionmaker.begin() as s:
        await campaigns.cancel(s, clock=clock, campaign_id=cid)
    statuses = sorted(r.status for r in await rows(sessionmaker))
    assert statuses == ["cancelled", "cancelled", "claimed"]  # the claimed one is already in hand


async def test_paid_lane_budget(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    ids = await people(sessionmaker, clock, 12)
    cid = await start(sessionmaker, clock, ids, steps=(STEP,), paid_max_stars=1)  # 10 paid messages
    ready = (await claim(sessionmaker, clock)).ready
    assert sum(o.paid for o in ready) == 10 and len(ready) == 12
    first_paid = next(o for o in ready if o.paid)
    await answer(sessionmaker, clock, [Result(first_paid.outbox_id, "failed", error_code="blocked")])
    async with sessionmaker() as s:
        campaign = await s.get(Campaign, cid)
        assert campaign is not None and campaign.paid_sent == 9  # a failed send is not charged


async def test_batch_contact_rules_agree_with_the_shared_policy(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    """The outbox checks a whole batch at once; it must say exactly what may_contact says."""
    from core.contact_policy import may_contact, may_contact_many

    ids = await people(sessionmaker, clock, 8)
    async with sessionmaker.begin() as s:
        t = Customer.__table__
        await s.execute(t.update().where(Customer.id == ids[1]).values(opted_in=False))  # type: ignore[attr-defined]
        await s.execute(t.update().where(Customer.id == ids[2]).values(reachable=False))  # type: ignore[attr-defined]
        await s.execute(t.update().where(Customer.id == ids[3]).values(telegram_id=None))  # type: ignore[attr-defined]
        await customers.forget(s, clock=clock, hooks=customer_hooks(), telegram_id=5004)
        await record_contact(s, customer_id=ids[5], kind="nps", ref=None, now=clock.now() - timedelta(days=6))
        await record_contact(s, customer_id=ids[6], kind="nps", ref=None, now=clock.now() - timedelta(days=8))
        await s.execute(t.update().where(Customer.id == ids[7]).values(opted_in=False, reachable=False))  # type: ignore[attr-defined]
    everyone = set(ids) | {999_999}
    for cap in (timedelta(days=7), timedelta(0)):
        async with sessionmaker() as s:
            batch = await may_contact_many(s, customer_ids=everyone, now=clock.now(), cap=cap)
            single = {}
            for cid in everyone:
                ok, reason = await may_contact(s, customer_id=cid, now=clock.now(), cap=cap)
                single[cid] = None if ok else reason
        assert batch == single
    assert set(batch.values()) == {None, "opted_out", "unreachable", "no_telegram", "erased"}
    async with sessionmaker() as s:  # with the weekly budget: 6 days ago is too recent, 8 is not
        week = await may_contact_many(s, customer_ids=everyone, now=clock.now(), cap=timedelta(days=7))
    assert [week[i] for i in ids] == [
        None,
        "opted_out",
        "unreachable",
        "no_telegram",
        "erased",
        "frequency_cap",
        None,
        "opted_out",
    ]
    assert week[999_999] == "erased"
