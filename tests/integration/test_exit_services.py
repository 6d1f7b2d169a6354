"""Exit interview answers on a real database: offers, features, breaks, may-we-write, handover."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core import customers, nps
from core import exit_interview as ex
from core.contact_policy import record_contact
from core.errors import Invalid
from core.loyalty.merge import scrub_erased
from core.loyalty.notices import REQUESTED, contact_gate
from core.loyalty.rules import LoyaltyRules
from core.nps.rules import NpsRules
from core.outreach import sequences
from storage.models import Customer
from storage.models_loyalty import ExitInterview, LoyaltyNotice
from storage.models_support import SupportCase
from supportbot.runtime import customer_hooks
from tests.integration.test_nps_services import person

RULES = ex.ExitRules(save_offer_discount_percent=15, save_offer_valid=timedelta(days=14))


async def interview(sessionmaker, clock, cid: int) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        view = await ex.start_from_menu(s, clock=clock, customer_id=cid, chat_id=1)
        await s.commit()
        return view.id


async def test_price_gets_one_generated_offer(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    first = await interview(sessionmaker, clock, ann.id)
    async with sessionmaker() as s:
        out = await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=first, customer_id=ann.id, reason="price"
        )
        again = await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=first, customer_id=ann.id, reason="support"
        )
        await s.commit()
    assert out.offer is not None and out.offer.code.startswith("SAVE-") and out.offer.discount_percent == 15
    assert out.offer.expires_at == clock.now() + timedelta(days=14)
    assert again.already and again.interview.reason == "price" and again.offer.code == out.offer.code
    # Leaving again later: the code they still hold, not a second discount.
    second = await interview(sessionmaker, clock, ann.id)
    async with sessionmaker() as s:
        out2 = await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=second, customer_id=ann.id, reason="price"
        )
    assert out2.offer.code == out.offer.code


async def test_feature_already_shipped_is_recognised(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    async with sessionmaker() as s:
        await ex.feature_shipped(s, clock=clock, feature="Dark mode")
        await s.commit()
    iid = await interview(sessionmaker, clock, ann.id)
    async with sessionmaker() as s:
        await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=iid, customer_id=ann.id, reason="feature"
        )
        with pytest.raises(Invalid):
            await ex.set_detail(s, clock=clock, interview_id=iid, customer_id=ann.id, text="!!!")
        out = await ex.set_detail(s, clock=clock, interview_id=iid, customer_id=ann.id, text="dark MODE")
        await s.commit()
    assert out.completed and out.feature_shipped


async def test_break_reminder_on_the_chosen_morning(sessionmaker, clock) -> None:
    clock.set(datetime(2026, 1, 15, 12, tzinfo=UTC))
    ann = await person(sessionmaker, clock, "ann", 1)
    async with sessionmaker() as s:
        (await s.get(Customer, ann.id)).timezone = "Europe/Moscow"
        await s.commit()
    iid = await interview(sessionmaker, clock, ann.id)
    async with sessionmaker() as s:
        await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=iid, customer_id=ann.id, reason="break"
        )
        with pytest.raises(Invalid):
            await ex.set_break(s, clock=clock, interview_id=iid, customer_id=ann.id, until=date(2026, 1, 15))
        with pytest.raises(Invalid):
            await ex.set_break(s, clock=clock, interview_id=iid, customer_id=ann.id, until=date(2028, 1, 1))
        await ex.set_break(s, clock=clock, interview_id=iid, customer_id=ann.id, until=date(2026, 3, 1))
        await s.commit()
    async with sessionmaker() as s:
        notice = (await s.execute(select(LoyaltyNotice))).scalar_one()
    assert (notice.kind, notice.policy) == ("break_reminder", "requested")
    assert notice.not_before == datetime(2026, 3, 1, 7, tzinfo=UTC)  # 10:00 in Moscow


async def test_goodbye_handover_and_requested_messages(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    iid = await interview(sessionmaker, clock, ann.id)
    async with sessionmaker() as s:
        await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=iid, customer_id=ann.id, reason="not_needed"
        )
        view = await ex.set_may_write(s, clock=clock, interview_id=iid, customer_id=ann.id, allowed=False)
        await s.commit()
    assert view.may_write_again is False and view.status == "completed"
    async with sessionmaker() as s:
        assert (await s.get(Customer, ann.id)).opted_in is False

    # Poor support: a person takes over at once.
    bob = await person(sessionmaker, clock, "bob", 2)
    iid = await interview(sessionmaker, clock, bob.id)
    async with sessionmaker() as s:
        await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=iid, customer_id=bob.id, reason="support"
        )
        assert await ex.hand_over(s, clock=clock, interview_id=iid, customer_id=bob.id, group_chat_id=-5)
        await s.commit()
    async with sessionmaker() as s:
        case = (await s.execute(select(SupportCase))).scalar_one()
    assert (case.origin, case.status, case.group_chat_id) == ("exit_interview", "waiting", -5)
    assert "support" in (case.origin_text or "")

    # Messages the customer asked for skip the weekly budget but not /stop.
    cat = await person(sessionmaker, clock, "cat", 3)
    async with sessionmaker() as s:
        await record_contact(s, customer_id=cat.id, kind="campaign", ref=None, now=clock.now())
        gate = await contact_gate(
            s, customer_id=cat.id, now=clock.now(), cap=timedelta(days=7), policy=REQUESTED, deadline=None
        )
        assert gate.action == "send"
        await customers.set_opt_in(s, clock=clock, telegram_id=3, opted_in=False)
        gate = await contact_gate(
            s, customer_id=cat.id, now=clock.now(), cap=timedelta(days=7), policy=REQUESTED, deadline=None
        )
        assert (gate.action, gate.reason) == ("skip", "opted_out")


async def test_words_of_erased_customers_are_scrubbed_counts_stay(sessionmaker, clock) -> None:

    ann = await person(sessionmaker, clock, "ann", 1)
    iid = await interview(sessionmaker, clock, ann.id)
    async with sessionmaker() as s:
        await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=iid, customer_id=ann.id, reason="feature"
        )
        await ex.set_detail(s, clock=clock, interview_id=iid, customer_id=ann.id, text="Ann's Dark Mode")
        survey = await nps.start_from_menu(s, clock=clock, rules=NpsRules(), customer_id=ann.id, chat_id=1)
        await nps.record_score(
            s, clock=clock, loyalty_rules=LoyaltyRules(), survey_id=survey.id, customer_id=ann.id, score=4
        )
        await nps.record_comment(
            s, clock=clock, survey_id=survey.id, customer_id=ann.id, comment="call me at +1 555 0100"
        )
        await customers.forget(s, clock=clock, hooks=customer_hooks(), telegram_id=1)  # scrubs at once
        await s.commit()
    async with sessionmaker() as s:
        assert (await nps.get_survey(s, survey_id=survey.id)).comment is None
        assert (await ex.get_interview(s, interview_id=iid)).detail is None
        report = await ex.report(s, clock=clock, rules=RULES)
        assert [(f.feature, f.count) for f in report.top_features] == [("ann s dark mode", 1)]
        assert (await nps.report(s)).detractors == 1
        assert await scrub_erased(s) == 0


async def test_a_reason_and_its_handover_in_one_answer(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    iid = await interview(sessionmaker, clock, ann.id)
    async with sessionmaker() as s:
        out = await ex.answer_reason(
            s,
            clock=clock,
            rules=RULES,
            interview_id=iid,
            customer_id=ann.id,
            reason="technical",
            staff_group=None,
        )
        await s.commit()
    assert out.interview.reason == "technical" and not out.handed_over  # no staff group: nobody takes over
    bob = await person(sessionmaker, clock, "bob", 2)
    iid = await interview(sessionmaker, clock, bob.id)
    async with sessionmaker() as s:
        out = await ex.answer_reason(
            s,
            clock=clock,
            rules=RULES,
            interview_id=iid,
            customer_id=bob.id,
            reason="support",
            staff_group=-5,
        )
        again = await ex.answer_reason(
            s,
            clock=clock,
            rules=RULES,
            interview_id=iid,
            customer_id=bob.id,
            reason="support",
            staff_group=-5,
        )
        await s.commit()
    assert out.handed_over and out.interview.handed_over
    assert again.already and not again.handed_over
    async with sessionmaker() as s:
        case = (await s.execute(select(SupportCase))).scalar_one()
    assert (case.customer_id, case.group_chat_id) == (bob.id, -5)


async def test_a_break_of_a_month_counts_from_the_customers_today(sessionmaker, clock) -> None:
    clock.set(datetime(2026, 1, 31, 22, tzinfo=UTC))  # already February 1st in Moscow
    ann = await person(sessionmaker, clock, "ann", 1)
    async with sessionmaker() as s:
        (await s.get(Customer, ann.id)).timezone = "Europe/Moscow"
        await s.commit()
    iid = await interview(sessionmaker, clock, ann.id)
    async with sessionmaker() as s:
        await ex.choose_reason(
            s, clock=clock, rules=RULES, interview_id=iid, customer_id=ann.id, reason="break"
        )
        view = await ex.take_break(s, clock=clock, interview_id=iid, customer_id=ann.id, months=1, days=0)
        await s.commit()
    assert view.break_until == date(2026, 3, 1) and view.status == "completed"
    assert ex.break_until(date(2026, 1, 31), months=0, days=14) == date(2026, 2, 14)


async def test_a_reason_on_a_campaign_message_not_theirs_opens_nothing(sessionmaker, clock) -> None:
    ann = await person(sessionmaker, clock, "ann", 1)
    async with sessionmaker() as s:
        out = await sequences.answer_with_reason(
            s,
            clock=clock,
            exit_rules=RULES,
            customer_id=ann.id,
            recipient_id=999,
            reason="price",
            chat_id=1,
            staff_group=None,
        )
        await s.commit()
    assert out is None
    async with sessionmaker() as s:
        assert (await s.execute(select(ExitInterview))).first() is None
