"""What a customer does with support, as core use cases (core/support/customer.py), on a real
database: ask for a person (with the FAQ question that did not help), cancel, rate, follow up."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from sqlalchemy import select

from core import customers, faq_stats, support
from core.business_hours import BusinessHours
from core.clock import FrozenClock
from core.errors import NotFound
from storage.models_support import FaqQuery, GroupPost

GROUP = -1001
HOURS = BusinessHours(days=frozenset({1, 2, 3, 4, 5}), start=time(9), end=time(18))  # Thu 12:00: open


async def _customer(sessionmaker, clock, tg_id: int = 1) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=tg_id, first_name="A")
    return c.id


async def _notices(sessionmaker) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        rows = await s.execute(
            select(GroupPost.payload).where(GroupPost.kind == "notice").order_by(GroupPost.id)
        )
        return list(rows.scalars())


async def _faq_query(sessionmaker, clock, cid: int) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        return await faq_stats.record_query(
            s,
            now=clock.now(),
            customer_id=cid,
            language="en",
            text="where is my parcel",
            result="match",
            entry_id="delivery-time",
            score=0.9,
        )


async def test_a_person_asked_under_an_faq_answer_gets_the_question(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    query_id = await _faq_query(sessionmaker, clock, cid)
    async with sessionmaker.begin() as s:
        asked = await support.request_person(
            s,
            clock=clock,
            customer_id=cid,
            group_chat_id=GROUP,
            origin="faq_no",
            hours=HOURS,
            faq_query_id=query_id,
        )
    assert asked.case is not None and asked.created and asked.with_question and asked.opens_at is None
    assert asked.case.origin_text == "where is my parcel"
    async with sessionmaker() as s:
        row = await s.get(FaqQuery, query_id)
        assert row is not None and row.helpful is False and row.escalated
        assert await support.queue_depth(s) == {GROUP: 1}  # the card, with the question
    # Asked again: the same case; the offline note says when support opens.
    clock.advance(hours=10)  # Thursday 22:00
    async with sessionmaker.begin() as s:
        again = await support.request_person(
            s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu", hours=HOURS
        )
    assert again.case is not None and again.case.id == asked.case.id and not again.created
    assert again.opens_at is not None and (again.opens_at.isoweekday(), again.opens_at.hour) == (5, 9)


async def test_no_staff_group_still_counts_the_faq_escalation(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    query_id = await _faq_query(sessionmaker, clock, cid)
    async with sessionmaker.begin() as s:
        asked = await support.request_person(
            s,
            clock=clock,
            customer_id=cid,
            group_chat_id=None,
            origin="faq_no",
            hours=HOURS,
            faq_query_id=query_id,
        )
    assert asked.case is None and not asked.created
    async with sessionmaker() as s:
        row = await s.get(FaqQuery, query_id)
        assert row is not None and row.escalated
        assert await support.list_cases(s, customer_id=cid) == []


async def test_cancel_tells_staff_once(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    async with sessionmaker.begin() as s:
        await support.request_person(
            s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="command", hours=HOURS
        )
    async with sessionmaker.begin() as s:
        cancelled = await support.cancel_case(s, clock=clock, customer_id=cid)
    assert cancelled is not None and cancelled.status == "cancelled"
    async with sessionmaker.begin() as s:
        assert await support.cancel_case(s, clock=clock, customer_id=cid) is None
    assert await _notices(sessionmaker) == [{"key": "staff-case-cancelled", "number": 1}]


async def test_the_first_score_counts_and_staff_see_score_and_comment(
    sessionmaker, clock: FrozenClock
) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    other = await _customer(sessionmaker, clock, tg_id=2)
    async with sessionmaker.begin() as s:
        case, _ = await support.open_case(s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu")
        await support.close_case(s, clock=clock, customer_id=cid, closed_by=42)
    async with sessionmaker.begin() as s:
        first = await support.rate_case(s, clock=clock, case_id=case.id, customer_id=cid, score=5)
        second = await support.rate_case(s, clock=clock, case_id=case.id, customer_id=cid, score=1)
        theirs = await support.rate_case(s, clock=clock, case_id=case.id, customer_id=other, score=1)
        comment = await support.rate_case(s, clock=clock, case_id=case.id, customer_id=cid, comment="Fast")
        with pytest.raises(NotFound):
            await support.rate_case(s, clock=clock, case_id=case.id + 100, customer_id=cid, score=3)
    assert first.stored and first.case is not None and first.case.csat_score == 5
    assert not second.stored and second.case is not None and second.case.csat_score == 5
    assert theirs.case is None and not theirs.stored  # not their case: ignored
    assert comment.stored and comment.case is not None and comment.case.csat_comment == "Fast"
    assert await _notices(sessionmaker) == [
        {"key": "staff-csat", "number": 1, "score": 5},
        {"key": "staff-csat-comment", "number": 1, "comment": "Fast"},
    ]


async def test_a_follow_up_opens_the_next_case_within_the_window(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    async with sessionmaker.begin() as s:
        await support.open_case(s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu")
        await support.close_case(s, clock=clock, customer_id=cid, closed_by=42)
    clock.advance(days=2)
    async with sessionmaker() as s:
        assert await support.follow_up_case(s, clock=clock, customer_id=cid, days=0) is None  # off
        assert await support.follow_up_case(s, clock=clock, customer_id=cid, days=1) is None  # too late
        last = await support.follow_up_case(s, clock=clock, customer_id=cid, days=7)
    assert last is not None and last.number == 1
    message = dict(chat_id=1, message_id=5, kind="text", text="one more thing")
    async with sessionmaker.begin() as s:
        done = await support.follow_up(s, clock=clock, last=last, message=message)
        album = await support.follow_up(s, clock=clock, last=last, message={**message, "message_id": 6})
    assert done.created and done.case.number == 2 and done.case.origin == "message"
    assert not album.created and album.case.id == done.case.id
    async with sessionmaker.begin() as s:
        await support.set_banned(s, clock=clock, customer_id=cid, group_chat_id=GROUP, banned=True)
        await support.close_case(s, clock=clock, customer_id=cid, closed_by=42)
    async with sessionmaker() as s:
        assert await support.follow_up_case(s, clock=clock, customer_id=cid, days=7) is None  # banned
