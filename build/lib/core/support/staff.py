"""Staff messages in a topic: replies and notes recorded on the case, where they landed, their edits."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

from sqlalchemy import BigInteger, String, Table, Text, bindparam, insert, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.customers import CustomerView
from core.support.cases import _CASES, _MESSAGES, ACTIVE, CaseView, _case_from, case_view, open_case
from core.support.topics import TopicView, _by_thread, _thread_views, find_by_thread
from storage.db import Database
from storage.hot import Prepared, Row, Step
from storage.models import Customer
from storage.models_support import SupportCase, SupportMessage
from storage.types import UTCDateTime

# A staff message in a topic, as hot statements (storage/hot.py): the topic with its customer,
# the active case, and the message inserted only while that case is still active.
_THREAD = Prepared(_by_thread(bindparam("b_group"), bindparam("b_thread")))


_ACTIVE_CASE = Prepared(
    select(_CASES)
    .where(_CASES.c.customer_id == bindparam("b_customer"), or_(*(_CASES.c.status == s for s in ACTIVE)))
    .order_by(_CASES.c.id.desc())
    .limit(1)
)


_STAFF_MESSAGE = Prepared(
    insert(_MESSAGES)
    .from_select(
        [
            "case_id",
            "direction",
            "customer_chat_id",
            "customer_message_id",
            "group_chat_id",
            "topic_message_id",
            "staff_id",
            "kind",
            "text",
            "created_at",
            "edited_at",
        ],
        select(
            _CASES.c.id,
            bindparam("b_direction", type_=String()),
            bindparam("b_chat", type_=BigInteger()),
            null(),
            bindparam("b_group", type_=BigInteger()),
            bindparam("b_topic_message", type_=BigInteger()),
            bindparam("b_staff", type_=BigInteger()),
            bindparam("b_kind", type_=String()),
            bindparam("b_text", type_=Text()),
            bindparam("b_now", type_=UTCDateTime()),
            null(),
        ).where(_CASES.c.id == bindparam("b_case"), or_(*(_CASES.c.status == s for s in ACTIVE))),
    )
    .returning(_MESSAGES.c.id)
)


@dataclass(frozen=True)
class StaffMessage:
    topic: TopicView
    customer: CustomerView
    case: CaseView | None  # None: a note with no active case (nothing recorded)
    support_message_id: int | None


async def record_staff_message(
    db: Database,
    *,
    clock: Clock,
    group_chat_id: int,
    thread_id: int,
    topic_message_id: int,
    staff_id: int,
    kind: str,
    text: str | None,
    note: bool = False,
) -> StaffMessage | None:
    """`find_by_thread` + `staff_reply`; None when the thread is no customer's topic.

    The common case (a case already answered by staff, or a note into an active case) is hot
    statements: two reads and one insert that only happens while the case is still active.
    Anything else (no active case, a case's first reply, a case closed in between) runs in a
    transaction as `staff_reply` does."""
    rows = await db.fetch(_THREAD, {"b_group": group_chat_id, "b_thread": thread_id})
    if not rows:
        return None
    topic, customer = _thread_views(Row(rows[0]), group_chat_id)
    cases = await db.fetch(_ACTIVE_CASE, {"b_customer": topic.customer_id})
    if cases:
        case = _case_from(cases[0])
        if note or case.first_staff_reply_at is not None:
            (inserted,) = await db.write(
                [
                    (
                        _STAFF_MESSAGE,
                        {
                            "b_case": case.id,
                            "b_direction": "note" if note else "out",
                            "b_chat": customer.telegram_id or 0,
                            "b_group": group_chat_id,
                            "b_topic_message": topic_message_id,
                            "b_staff": staff_id,
                            "b_kind": kind,
                            "b_text": text,
                            "b_now": clock.now(),
                        },
                    )
                ]
            )
            if inserted:
                return StaffMessage(topic, customer, case, inserted[0]["id"])
    async with db.begin() as session:
        found = await find_by_thread(session, group_chat_id=group_chat_id, thread_id=thread_id)
        if found is None:
            return None
        topic, customer = found
        reply_case, message_id = await staff_reply(
            session,
            clock=clock,
            customer_id=topic.customer_id,
            group_chat_id=group_chat_id,
            topic_message_id=topic_message_id,
            staff_id=staff_id,
            kind=kind,
            text=text,
            note=note,
            customer_chat_id=customer.telegram_id,
        )
    return StaffMessage(topic, customer, reply_case, message_id)


async def staff_reply(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    group_chat_id: int,
    topic_message_id: int,
    staff_id: int,
    kind: str,
    text: str | None,
    note: bool = False,
    customer_chat_id: int | None = None,  # the customer's Telegram id, when the caller has it
) -> tuple[CaseView | None, int | None]:
    """Record a staff message in the topic; returns (case, support message id).

    A reply when no case is active reopens nothing: staff may write first (e.g. a follow-up),
    which opens a new case so the conversation is tracked.
    """
    now = clock.now()
    cases = cast(Table, SupportCase.__table__)
    row = (
        await session.execute(
            select(cases)
            .where(cases.c.customer_id == customer_id, cases.c.status.in_(ACTIVE))
            .order_by(cases.c.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        if note:
            return None, None
        case, _ = await open_case(
            session, clock=clock, customer_id=customer_id, group_chat_id=group_chat_id, origin="staff"
        )
    else:
        case = case_view(row)  # type: ignore[arg-type]  # the case's columns by name
    if not note and case.first_staff_reply_at is None:
        await session.execute(
            update(cases).where(cases.c.id == case.id).values(first_staff_reply_at=now, status="open")
        )
        case = replace(case, first_staff_reply_at=now, status="open")
    if customer_chat_id is None:
        customer_chat_id = await session.scalar(
            select(Customer.telegram_id).where(Customer.id == customer_id)
        )
    msg_id = await session.scalar(
        insert(SupportMessage)
        .values(
            case_id=case.id,
            direction="note" if note else "out",
            customer_chat_id=customer_chat_id or 0,
            group_chat_id=group_chat_id,
            topic_message_id=topic_message_id,
            staff_id=staff_id,
            kind=kind,
            text=text,
            created_at=now,
        )
        .returning(SupportMessage.id)
    )
    return case, msg_id


_MARK_DELIVERED = Prepared(
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values(customer_message_id=bindparam("b_landed"))
)


def delivered_step(*, support_message_id: int, customer_message_id: int) -> Step:
    """`mark_delivered` as a hot step, for `Database.record` (committed with the update)."""
    return (_MARK_DELIVERED, {"b_id": support_message_id, "b_landed": customer_message_id})


async def mark_delivered(session: AsyncSession, *, support_message_id: int, customer_message_id: int) -> None:
    """Remember where a staff reply landed in the customer's chat (for edit sync)."""
    messages = cast(Table, SupportMessage.__table__)  # Core: no ORM bulk-update layer on every reply
    await session.execute(
        update(messages)
        .where(messages.c.id == support_message_id)
        .values(customer_message_id=customer_message_id)
    )


async def staff_edited(
    session: AsyncSession,
    *,
    clock: Clock,
    group_chat_id: int,
    topic_message_id: int,
    text: str | None,
) -> SupportMessage | None:
    """The customer-side copy of a staff message that was edited (None if not relayed)."""
    msg = (
        await session.execute(
            select(SupportMessage).where(
                SupportMessage.group_chat_id == group_chat_id,
                SupportMessage.topic_message_id == topic_message_id,
                SupportMessage.direction == "out",
            )
        )
    ).scalar_one_or_none()
    if msg is None or msg.customer_message_id is None:
        return None
    msg.text, msg.edited_at = text, clock.now()
    await session.flush()
    return msg
