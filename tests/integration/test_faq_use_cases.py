"""The FAQ flows' core use cases (dialogs/faq, issue 14) on a real database: views, never ORM rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core import customers, faq_learning, faq_stats, support
from core.clock import FrozenClock
from storage.models_support import FaqQuery, SupportMessage
from supportbot.runtime import load_faq

FAQ_DIR = Path(__file__).resolve().parents[2] / "faq"
GROUP = -100


async def test_ask_browse_feedback_and_escalate(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    faq = load_faq(str(FAQ_DIR))
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=7, first_name="A")
        other, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=8, first_name="B")
        asked = await faq_stats.ask(
            s,
            library=faq,
            now=clock.now(),
            customer_id=c.id,
            language="en",
            text="how long does delivery take",
        )
        browsed = await faq_stats.browse(
            s, library=faq, now=clock.now(), customer_id=c.id, language="en", entry_id="delivery-time"
        )
        gone = await faq_stats.browse(
            s, library=faq, now=clock.now(), customer_id=c.id, language="en", entry_id="no-such-entry"
        )
    assert asked.match.kind == "answer" and asked.match.best is not None
    assert asked.match.best.id == "delivery-time"
    assert browsed is not None and browsed.entry.id == "delivery-time" and gone is None
    async with sessionmaker.begin() as s:
        helped = await faq_stats.set_feedback(s, query_id=asked.query_id, customer_id=c.id, helpful=True)
        assert (
            await faq_stats.set_feedback(s, query_id=asked.query_id, customer_id=other.id, helpful=False)
            is None
        )
        escalated = await faq_stats.escalate(s, query_id=browsed.query_id, customer_id=c.id)
        assert await faq_stats.escalate(s, query_id=browsed.query_id, customer_id=other.id) is None
    assert helped is not None and helped.helpful is True and helped.result == "answer"
    with pytest.raises(dataclasses.FrozenInstanceError):
        helped.helpful = False  # type: ignore[misc]
    assert escalated is not None and escalated.text == browsed.entry.question
    assert (escalated.helpful, escalated.escalated, escalated.result) == (False, True, "browse")
    async with sessionmaker() as s:
        rows = (await s.execute(select(FaqQuery).order_by(FaqQuery.id))).scalars().all()
        assert [(r.result, r.entry_id, r.helpful, r.escalated) for r in rows] == [
            ("answer", "delivery-time", True, False),
            ("browse", "delivery-time", False, True),
        ]


async def test_topic_question_teach_target_and_sent_entry(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=7, first_name="A")
        case, _ = await support.open_case(
            s, clock=clock, customer_id=c.id, group_chat_id=GROUP, origin="menu"
        )
        for mid, text in ((3, "gde moy zakaz"), (4, "hello?")):
            await support.relay_customer_message(
                s, clock=clock, case=case, chat_id=7, message_id=mid, kind="text", text=text
            )
            await s.execute(
                update(SupportMessage)
                .where(SupportMessage.customer_message_id == mid)
                .values(topic_message_id=100 + mid)
            )
        await support.set_thread(
            s, clock=clock, customer_id=c.id, group_chat_id=GROUP, thread_id=50, name="A"
        )
        first = await s.scalar(select(SupportMessage.id).where(SupportMessage.customer_message_id == 3))
    assert first is not None
    async with sessionmaker() as s:
        question = await faq_learning.topic_question(s, support_message_id=first, group_chat_id=GROUP)
        assert await faq_learning.topic_question(s, support_message_id=first, group_chat_id=-1) is None
        replied = await faq_learning.teach_target(s, group_chat_id=GROUP, thread_id=50, reply_to=103)
        latest = await faq_learning.teach_target(s, group_chat_id=GROUP, thread_id=50, reply_to=None)
        unknown = await faq_learning.teach_target(s, group_chat_id=GROUP, thread_id=50, reply_to=999)
        assert await faq_learning.teach_target(s, group_chat_id=GROUP, thread_id=51, reply_to=None) is None
    assert question is not None and (question.text, question.customer.id) == ("gde moy zakaz", c.id)
    assert replied is not None and replied.question == question
    assert latest is not None and latest.question is not None and latest.question.text == "hello?"
    assert unknown is not None and unknown.question is None and unknown.customer.id == c.id
    async with sessionmaker.begin() as s:
        assisted = await faq_learning.record_sent_entry(
            s,
            clock=clock,
            question=question,
            entry_id="delivery-tracking",
            text="Where is my order?\n\nTrack it here.",
            group_chat_id=GROUP,
            note_message_id=205,
            staff_id=9,
            customer_message_id=77,
        )
    async with sessionmaker() as s:
        row = await s.get(FaqQuery, assisted)
        assert row is not None and (row.result, row.entry_id, row.text) == (
            "assisted",
            "delivery-tracking",
            "gde moy zakaz",
        )
        out = await s.scalar(select(SupportMessage).where(SupportMessage.direction == "out"))
        assert out is not None and (out.topic_message_id, out.customer_message_id, out.staff_id) == (
            205,
            77,
            9,
        )
