"""Support case rules on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from core import customers, support
from core.clock import FrozenClock
from supportbot.runtime import customer_hooks

GROUP = -1001


async def _customer(sessionmaker, clock, tg_id: int = 1) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=tg_id, first_name="A")
    return c.id


async def test_one_active_case_and_numbering(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    async with sessionmaker.begin() as s:
        first, created = await support.open_case(
            s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu"
        )
        again, created_again = await support.open_case(
            s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="command"
        )
    assert created and not created_again and again.id == first.id and first.number == 1
    async with sessionmaker.begin() as s:
        closed = await support.close_case(s, clock=clock, customer_id=cid, closed_by=42)
        assert closed is not None and closed.status == "closed"
        second, created = await support.open_case(
            s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="message"
        )
    assert created and second.number == 2
    async with sessionmaker() as s:
        assert len(await support.list_cases(s, customer_id=cid)) == 2
        assert [c.number for c in await support.list_cases(s, status="active")] == [2]


async def test_card_waits_for_a_real_message(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    async with sessionmaker.begin() as s:
        case, _ = await support.open_case(s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu")
    async with sessionmaker() as s:
        assert await support.queue_depth(s) == {}  # a bare request posts nothing yet
    async with sessionmaker.begin() as s:
        await support.relay_customer_message(
            s, clock=clock, case=case, chat_id=1, message_id=5, kind="text", text="hi"
        )
        await support.relay_customer_message(
            s, clock=clock, case=case, chat_id=1, message_id=6, kind="text", text="there"
        )
    async with sessionmaker() as s:
        assert await support.queue_depth(s) == {GROUP: 3}  # one card, two messages


async def test_reminder_once_after_the_wait(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    async with sessionmaker.begin() as s:
        await support.open_case(
            s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu", origin_text="help"
        )
    wait = timedelta(minutes=15)
    clock.advance(minutes=14)
    async with sessionmaker() as s:
        assert await support.due_reminders(s, clock=clock, after=wait) == []
    clock.advance(minutes=2)
    async with sessionmaker.begin() as s:
        due = await support.due_reminders(s, clock=clock, after=wait)
        assert len(due) == 1
        await support.queue_reminder(s, clock=clock, case=due[0], waited=timedelta(minutes=16))
    async with sessionmaker() as s:
        assert await support.due_reminders(s, clock=clock, after=wait) == []


async def test_first_staff_reply_opens_the_case_and_notes_do_not(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    async with sessionmaker.begin() as s:
        await support.open_case(s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu")
        case, _ = await support.staff_reply(
            s,
            clock=clock,
            customer_id=cid,
            group_chat_id=GROUP,
            topic_message_id=10,
            staff_id=7,
            kind="text",
            text="internal",
            note=True,
        )
        assert case is not None and case.status == "waiting" and case.first_staff_reply_at is None
        clock.advance(minutes=3)
        case, msg_id = await support.staff_reply(
            s,
            clock=clock,
            customer_id=cid,
            group_chat_id=GROUP,
            topic_message_id=11,
            staff_id=7,
            kind="text",
            text="hello",
        )
        assert case is not None and case.status == "open" and case.first_staff_reply_at == clock.now()
        await support.mark_delivered(s, support_message_id=msg_id, customer_message_id=99)
        edited = await support.staff_edited(
            s, clock=clock, group_chat_id=GROUP, topic_message_id=11, text="hello!"
        )
        assert edited is not None and edited.customer_message_id == 99
        assert (
            await support.staff_edited(s, clock=clock, group_chat_id=GROUP, topic_message_id=10, text="x")
            is None
        )


async def test_follow_up_window_and_ban(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    cid = await _customer(sessionmaker, clock)
    async with sessionmaker.begin() as s:
        await support.open_case(s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu")
        await support.close_case(s, clock=clock, customer_id=cid, closed_by=1)
    async with sessionmaker.begin() as s:
        since = clock.now() - timedelta(days=7)
        assert await support.recent_case(s, customer_id=cid, since=since) is not None
        assert await support.recent_case(s, customer_id=cid, since=clock.now() + timedelta(seconds=1)) is None
        assert not await support.is_banned(s, customer_id=cid)
        await support.set_banned(s, clock=clock, customer_id=cid, group_chat_id=GROUP, banned=True)
        assert await support.is_banned(s, customer_id=cid)


async def test_csat_range(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from core.errors import Invalid

    cid = await _customer(sessionmaker, clock)
    async with sessionmaker.begin() as s:
        case, _ = await support.open_case(s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu")
        with pytest.raises(Invalid):
            await support.rate_case(s, clock=clock, case_id=case.id, customer_id=cid, score=6)
        rated = await support.rate_case(
            s, clock=clock, case_id=case.id, customer_id=cid, score=4, comment="ok"
        )
        assert rated.stored and rated.case is not None
        assert (rated.case.csat_score, rated.case.csat_comment) == (4, "ok")


async def test_forget_erases_what_the_customer_wrote(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from core import faq_stats
    from storage.models_support import FaqQuery, GroupPost, SupportCase, SupportMessage

    cid = await _customer(sessionmaker, clock, tg_id=77)
    async with sessionmaker.begin() as s:
        case, _ = await support.open_case(
            s,
            clock=clock,
            customer_id=cid,
            group_chat_id=GROUP,
            origin="faq_no",
            origin_text="my address is Baker St 221b",
        )
        await support.relay_customer_message(
            s,
            clock=clock,
            case=case,
            chat_id=77,
            message_id=3,
            kind="text",
            text="call me at +44 20 7946 0000",
        )
        await faq_stats.record_query(
            s,
            now=clock.now(),
            customer_id=cid,
            language="en",
            text="where is Baker St",
            result="none",
            entry_id=None,
            score=None,
        )
    async with sessionmaker.begin() as s:
        assert await customers.forget(s, clock=clock, hooks=customer_hooks(), telegram_id=77)
    async with sessionmaker() as s:
        assert (await s.execute(select(SupportCase.origin_text))).scalars().all() == [None]
        assert (await s.execute(select(SupportMessage.text))).scalars().all() == [None]
        assert (await s.execute(select(FaqQuery.text))).scalars().all() == [""]
        assert set((await s.execute(select(GroupPost.status))).scalars()) == {"skipped"}
        assert (await s.execute(select(SupportCase.number))).scalars().all() == [1]  # figures stay


async def test_edit_of_a_merged_post_keeps_the_other_messages(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select, update

    from storage.models_support import GroupPost, SupportMessage

    cid = await _customer(sessionmaker, clock, tg_id=5)
    async with sessionmaker.begin() as s:
        case, _ = await support.open_case(s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu")
        for mid, text in ((10, "first"), (11, "second")):
            await support.relay_customer_message(
                s, clock=clock, case=case, chat_id=5, message_id=mid, kind="text", text=text
            )
        # Edited while still queued: the payload (used when texts are merged) follows.
        await support.customer_edited(s, clock=clock, chat_id=5, message_id=11, text="second!")
        payloads = [
            p
            for p in (
                await s.execute(
                    select(GroupPost.payload).where(GroupPost.kind == "copy").order_by(GroupPost.id)
                )
            ).scalars()
        ]
        assert [p["text"] for p in payloads] == ["first", "second!"]
        # Both went out merged into topic message 900; then the first one is edited.
        await s.execute(update(SupportMessage).values(topic_message_id=900))
        await s.execute(update(GroupPost).values(status="sent"))
        await support.customer_edited(s, clock=clock, chat_id=5, message_id=10, text="first!")
        edit = (await s.execute(select(GroupPost).where(GroupPost.kind == "edit"))).scalar_one()
    assert edit.payload["text"] == "first!\n\nsecond!"
    assert edit.payload["topic_message_id"] == 900


async def test_staff_actions_in_a_topic(sessionmaker, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    """/close, /ban, /queue, a bounced reply and an edit, as the staff side calls them."""
    from sqlalchemy import select

    from storage.models_support import SupportCase

    cid = await _customer(sessionmaker, clock, tg_id=5)
    async with sessionmaker.begin() as s:
        await support.open_case(s, clock=clock, customer_id=cid, group_chat_id=GROUP, origin="menu")
        await support.set_thread(s, clock=clock, customer_id=cid, group_chat_id=GROUP, thread_id=77, name="A")
    async with sessionmaker() as s:
        assert await support.queue_counts(s, group_chat_id=GROUP) == support.QueueView(
            waiting=1, open=0, queued=0
        )
    async with sessionmaker.begin() as s:
        assert (
            await support.ban_topic(s, clock=clock, group_chat_id=GROUP, thread_id=78, banned=True) is False
        )
        assert await support.ban_topic(s, clock=clock, group_chat_id=GROUP, thread_id=77, banned=True) is True
        assert await support.is_banned(s, customer_id=cid)
        case, msg_id = await support.staff_reply(
            s,
            clock=clock,
            customer_id=cid,
            group_chat_id=GROUP,
            topic_message_id=12,
            staff_id=7,
            kind="text",
            text="hi",
        )
        assert case is not None and msg_id is not None
        assert (
            await support.mirror_staff_edit(
                s, clock=clock, group_chat_id=GROUP, topic_message_id=12, text="hi!"
            )
            is None
        )  # not landed yet: nothing to mirror
        await support.mark_delivered(s, support_message_id=msg_id, customer_message_id=99)
        copy = await support.mirror_staff_edit(
            s, clock=clock, group_chat_id=GROUP, topic_message_id=12, text="hi!"
        )
        assert copy == support.EditedCopy(customer_chat_id=5, customer_message_id=99)
        await support.customer_unreachable(
            s,
            clock=clock,
            case_id=case.id,
            telegram_id=5,
            reason=support.unreachable_reason("Forbidden: user is deactivated"),
        )
    async with sessionmaker.begin() as s:
        assert (
            await support.close_topic_case(s, clock=clock, group_chat_id=GROUP, thread_id=78, closed_by=7)
            is None
        )
        closed = await support.close_topic_case(
            s, clock=clock, group_chat_id=GROUP, thread_id=77, closed_by=7
        )
        assert closed is not None and closed.case.status == "closed" and closed.customer.id == cid
        assert closed.customer.unreachable_reason == "deactivated" and not closed.customer.reachable
        assert await s.scalar(select(SupportCase.unreachable_reason)) == "deactivated"
        assert (
            await support.close_topic_case(s, clock=clock, group_chat_id=GROUP, thread_id=77, closed_by=7)
            is None
        )


def test_what_a_note_is() -> None:
    assert (
        support.is_note("// for the team") and support.is_note("  /note x") and support.is_note("/note@bot x")
    )
    assert not support.is_note("/notes") and not support.is_note("hello //") and not support.is_note(None)
    assert support.unreachable_reason("Forbidden: bot was blocked by the user") == "blocked"
