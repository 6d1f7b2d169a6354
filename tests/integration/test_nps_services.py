"""NPS scheduling and sending on a real database with an injected clock: throttles, the
contact budget, automatic triggers, detractor alerts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core import customers, nps
from core.contact_policy import may_contact, record_contact
from core.customers import CustomerData
from core.loyalty.rules import LoyaltyRules
from core.nps.rules import NpsRules
from storage.models import Customer
from storage.models_loyalty import Survey
from storage.models_support import GroupPost, SupportCase

CAP = timedelta(days=7)
RULES = NpsRules(after_support_case=timedelta(hours=24), after_first_purchase=timedelta(days=14))


async def person(sessionmaker, clock, ext: str, telegram_id: int) -> Customer:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        view, _ = await customers.upsert_by_external_id(
            s, clock=clock, external_id=ext, data=CustomerData(first_name=ext)
        )
        row = await s.get(Customer, view.id)
        row.telegram_id = telegram_id
        await s.commit()
        return row


async def trigger(sessionmaker, clock, ext: str, key: str) -> dict:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        result, _ = await nps.trigger_from_api(
            s,
            clock=clock,
            rules=RULES,
            loyalty_rules=LoyaltyRules(),
            cap=CAP,
            idempotency_key=key,
            external_ids=[ext],
        )
        await s.commit()
        return result


async def send_all(sessionmaker, clock) -> list[nps.OutgoingSurvey]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        due = await nps.claim_surveys(s, clock=clock, rules=RULES, cap=CAP)
        for item in due:
            await nps.survey_sent(
                s,
                clock=clock,
                rules=RULES,
                survey_id=item.id,
                chat_id=item.customer.telegram_id,
                message_id=1,
            )
        await s.commit()
        return due


async def test_answered_blocks_90_days_ignored_blocks_30(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    assert (await trigger(sessionmaker, clock, "ann", "k1"))["scheduled"] == 1
    [sent] = await send_all(sessionmaker, clock)
    async with sessionmaker() as s:
        await nps.record_score(
            s, clock=clock, loyalty_rules=LoyaltyRules(), survey_id=sent.id, customer_id=ann.id, score=9
        )
        await s.commit()
    clock.advance(days=89)
    assert (await trigger(sessionmaker, clock, "ann", "k2"))["skipped_by_reason"] == {"answered_recently": 1}
    clock.advance(days=1)
    assert (await trigger(sessionmaker, clock, "ann", "k3"))["scheduled"] == 1
    [again] = await send_all(sessionmaker, clock)

    # Not answered: open for the answer window, then ignored for 30 days from sending.
    clock.advance(days=3)
    assert (await trigger(sessionmaker, clock, "ann", "k4"))["skipped_by_reason"] == {"survey_open": 1}
    clock.advance(days=5)
    async with sessionmaker() as s:
        assert await nps.expire_surveys(s, clock=clock) == 1
        await s.commit()
    clock.advance(days=21, hours=23)
    assert (await trigger(sessionmaker, clock, "ann", "k5"))["skipped_by_reason"] == {"ignored_recently": 1}
    clock.advance(hours=1)
    assert (await trigger(sessionmaker, clock, "ann", "k6"))["scheduled"] == 1
    assert again.id != sent.id


async def test_a_survey_waits_for_the_contact_budget_and_counts_against_it(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    async with sessionmaker() as s:
        await record_contact(
            s, customer_id=ann.id, kind="campaign", ref="c1", now=clock.now() - timedelta(days=2)
        )
        await s.commit()
    result = await trigger(sessionmaker, clock, "ann", "k1")
    assert (result["scheduled"], result["deferred"]) == (1, 1)
    assert await send_all(sessionmaker, clock) == []
    clock.advance(days=5)
    assert len(await send_all(sessionmaker, clock)) == 1
    async with sessionmaker() as s:
        # The survey itself now holds the budget for the next week.
        assert await may_contact(s, customer_id=ann.id, now=clock.now(), cap=CAP) == (False, "frequency_cap")


async def test_budget_that_will_not_free_up_in_time_is_reported(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    async with sessionmaker() as s:
        await record_contact(s, customer_id=ann.id, kind="campaign", ref="c1", now=clock.now())
        await s.commit()
    async with sessionmaker() as s:
        result, _ = await nps.trigger_from_api(
            s,
            clock=clock,
            rules=NpsRules(send_window=timedelta(days=3)),
            loyalty_rules=LoyaltyRules(),
            cap=CAP,
            idempotency_key="k",
            external_ids=["ann"],
        )
    assert result["skipped_by_reason"] == {"contact_budget": 1}


async def test_opt_out_after_scheduling_is_honoured_at_send_time(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    await trigger(sessionmaker, clock, "ann", "k1")
    async with sessionmaker() as s:
        await customers.set_opt_in(s, clock=clock, telegram_id=1, opted_in=False)
        await s.commit()
    assert await send_all(sessionmaker, clock) == []
    async with sessionmaker() as s:
        row = (await s.execute(select(Survey).where(Survey.customer_id == ann.id))).scalar_one()
        assert (row.status, row.skip_reason) == ("skipped", "opted_out")


async def test_after_support_case_and_first_purchase(sessionmaker, clock) -> None:
    from decimal import Decimal

    from core import loyalty

    ann = await person(sessionmaker, clock, "ann", 1)
    bob = await person(sessionmaker, clock, "bob", 2)
    async with sessionmaker() as s:
        s.add(
            SupportCase(
                customer_id=ann.id,
                number=1,
                status="closed",
                origin="menu",
                group_chat_id=-1,
                opened_at=clock.now(),
                closed_at=clock.now(),
            )
        )
        await loyalty.record_order(
            s,
            clock=clock,
            rules=LoyaltyRules(),
            customer_external_id="bob",
            order_id="o1",
            amount=Decimal(5),
            currency="USD",
            placed_at=clock.now(),
        )
        await s.commit()

    async def run() -> tuple[int, int]:
        async with sessionmaker() as s:
            a = await nps.schedule_after_support_cases(s, clock=clock, rules=RULES, cap=CAP)
            b = await nps.schedule_after_first_purchase(s, clock=clock, rules=RULES, cap=CAP)
            await s.commit()
            return a, b

    assert await run() == (0, 0)
    clock.advance(hours=25)
    assert await run() == (1, 0)
    assert await run() == (0, 0)  # once per case
    clock.advance(days=14)
    assert await run() == (0, 1)
    assert await run() == (0, 0)  # once per customer
    async with sessionmaker() as s:
        triggers = {(r.customer_id, r.trigger) for r in (await s.execute(select(Survey))).scalars()}
    assert triggers == {(ann.id, "support_case"), (bob.id, "first_purchase")}


async def test_detractor_alert_goes_to_the_customers_topic_once(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    async with sessionmaker() as s:
        survey = await nps.start_from_menu(s, clock=clock, rules=RULES, customer_id=ann.id, chat_id=1)
        await nps.record_score(
            s, clock=clock, loyalty_rules=LoyaltyRules(), survey_id=survey.id, customer_id=ann.id, score=2
        )
        await s.commit()
    async with sessionmaker() as s:
        assert await nps.alerts_due(s, clock=clock, rules=RULES) == []  # still writing a comment
    clock.advance(minutes=16)
    async with sessionmaker() as s:
        assert await nps.alerts_due(s, clock=clock, rules=RULES) == [survey.id]
        assert await nps.queue_staff_alert(
            s,
            clock=clock,
            survey_id=survey.id,
            group_chat_id=-100,
            key="nps-staff-alert",
            params={"score": 2},
        )
        assert not await nps.queue_staff_alert(
            s,
            clock=clock,
            survey_id=survey.id,
            group_chat_id=-100,
            key="nps-staff-alert",
            params={"score": 2},
        )
        await s.commit()
    async with sessionmaker() as s:
        post = (await s.execute(select(GroupPost))).scalar_one()
        assert (post.group_chat_id, post.kind, post.payload["key"]) == (-100, "notice", "nps-staff-alert")
        assert await nps.alerts_due(s, clock=clock, rules=RULES) == []


async def test_rows_in_flight_at_a_crash_are_never_sent_twice(sessionmaker, clock) -> None:
    """A row on the wire at a crash may have arrived: never sent again. A row only claimed
    (waiting for its turn) never left: it goes back to the queue and is sent after all."""
    from core import delivery
    from core import exit_interview as ex
    from core.loyalty import notices as loyalty_notices

    ann = await person(sessionmaker, clock, "ann", 1)
    await trigger(sessionmaker, clock, "ann", "k1")
    async with sessionmaker() as s:
        surveys = await nps.claim_surveys(s, clock=clock, rules=RULES, cap=CAP, owner="p1")
        assert len(surveys) == 1
        await loyalty_notices.queue_notice(
            s,
            clock=clock,
            customer_id=ann.id,
            kind="birthday",
            dedupe_key="b",
            policy="service",
            params={"points": 1},
        )
        assert len(await loyalty_notices.claim_notices(s, clock=clock, cap=CAP, owner="p1")) == 1
        # The survey's request leaves; the notice still waits for its rate-limit token.
        assert await delivery.mark_wire(s, nps.QUEUE, [surveys[0].id], owner="p1") == {surveys[0].id}
        await s.commit()
    # The process dies here; at the next start:
    async with sessionmaker() as s:
        assert await nps.recover_surveys(s, clock=clock, rules=RULES) == 1
        assert await loyalty_notices.recover_notices(s, now=clock.now()) == 0
        assert await ex.recover_interviews(s, clock=clock) == 0
        await s.commit()
    async with sessionmaker() as s:
        assert await nps.claim_surveys(s, clock=clock, rules=RULES, cap=CAP) == []
        assert len(await loyalty_notices.claim_notices(s, clock=clock, cap=CAP)) == 1  # sent after all
        row = (await s.execute(select(Survey))).scalar_one()
        assert row.status == "sent"  # counts as asked: the throttles apply
