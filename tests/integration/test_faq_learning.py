"""Learned phrasings and assisted answers on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from core import customers, faq_learning, support
from core.clock import FrozenClock
from core.errors import Conflict, Invalid, NotFound
from storage.models_faq import FaqLearned
from supportbot.runtime import customer_hooks


async def test_teach_decide_list_and_forget(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=7, first_name="A")
        case, _ = await support.open_case(s, clock=clock, customer_id=c.id, group_chat_id=-1, origin="menu")
        await support.relay_customer_message(
            s,
            clock=clock,
            case=case,
            chat_id=7,
            message_id=3,
            kind="text",
            text="gde moy zakaz",
            faq_suggestions={"ids": ["delivery-tracking"], "lang": "ru"},
        )
        one, created = await faq_learning.teach(
            s,
            clock=clock,
            language="ru",
            entry_id="delivery-tracking",
            text="  gde   moy zakaz ",
            customer_id=c.id,
            taught_by=9,
        )
        two, _ = await faq_learning.teach(
            s, clock=clock, language="ru", entry_id="delivery-late", text="ну где он", customer_id=c.id
        )
        three, _ = await faq_learning.teach(
            s, clock=clock, language="en", entry_id="delivery-late", text="late again", customer_id=c.id
        )
        with pytest.raises(Invalid):
            await faq_learning.teach(s, clock=clock, language="ru", entry_id="delivery-late", text="?!")
    assert created and one.text == "gde moy zakaz" and one.status == "pending"
    async with sessionmaker.begin() as s:
        await faq_learning.decide(s, clock=clock, learned_id=one.id, approve=True, by="crm")
        await faq_learning.decide(s, clock=clock, learned_id=three.id, approve=True, by="crm")
        with pytest.raises(Conflict):
            await faq_learning.decide(s, clock=clock, learned_id=one.id, approve=True, by="crm")
        with pytest.raises(NotFound):
            await faq_learning.decide(s, clock=clock, learned_id=999, approve=False, by="crm")
        await faq_learning.record_assisted(
            s,
            clock=clock,
            customer_id=c.id,
            language="ru",
            text="gde moy zakaz",
            entry_id="delivery-tracking",
        )
    async with sessionmaker() as s:
        assert await faq_learning.approved_phrasings(s) == {
            "ru": {"delivery-tracking": ["gde moy zakaz"]},
            "en": {"delivery-late": ["late again"]},
        }
        pending = await faq_learning.list_learned(s, status="pending")
        assert [p.id for p in pending] == [two.id]
        assert [p.id for p in await faq_learning.list_learned(s, language="en")] == [three.id]
    async with sessionmaker.begin() as s:
        assert await customers.forget(s, clock=clock, hooks=customer_hooks(), telegram_id=7)
    async with sessionmaker() as s:
        rows = {r.id: r for r in (await s.execute(FaqLearned.__table__.select())).all()}
    assert set(rows) == {one.id, three.id}  # the pending one is gone, approved ones stay
    assert all(r.customer_id is None for r in rows.values())


async def test_two_staff_teaching_the_same_phrasing_at_once_make_one_row(sessionmaker, clock) -> None:  # type: ignore[no-untyped-def]
    """Two taps on 🎓 (or two staff members) at the same moment: one pending row, no error."""
    import asyncio

    from sqlalchemy import func, select

    async def tap() -> bool:
        async with sessionmaker.begin() as s:
            _, created = await faq_learning.teach(
                s, clock=clock, language="en", entry_id="delivery-late", text="where is my parcel"
            )
            return created

    results = await asyncio.gather(tap(), tap(), tap())
    assert sorted(results) == [False, False, True]
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(FaqLearned)) == 1
