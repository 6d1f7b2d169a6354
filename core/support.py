"""Support cases: a person takes over from the bot in a forum topic of the staff group.

A customer has at most one active case (waiting for a first staff reply, or open). Their
messages are queued as group posts (sent within the group's flood limit by a worker), staff
replies come back. Closing a case asks for a CSAT rating; the next message opens case N+1 in
the same topic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    Text,
    bindparam,
    exists,
    func,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.customers import CustomerView
from core.customers import view as customer_view
from core.delivery import wake
from core.delivery.wake import committed
from core.errors import Invalid, NotFound
from storage.db import Database
from storage.hot import Prepared, Row, Step
from storage.models import Customer
from storage.models_support import FaqQuery, GroupPost, SupportCase, SupportMessage, SupportTopic
from storage.types import UTCDateTime

ACTIVE = ("waiting", "open")
PRIORITY_CUSTOMER, PRIORITY_EDIT, PRIORITY_CARD, PRIORITY_REMINDER = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class CaseView:
    id: int
    customer_id: int
    number: int
    status: str
    origin: str
    origin_text: str | None
    group_chat_id: int
    opened_at: datetime
    first_staff_reply_at: datetime | None
    closed_at: datetime | None
    csat_score: int | None
    csat_comment: str | None


@dataclass(frozen=True, slots=True)
class TopicView:
    id: int
    customer_id: int
    group_chat_id: int
    thread_id: int | None
    banned: bool


def case_view(row: SupportCase) -> CaseView:
    return CaseView(
        id=row.id,
        customer_id=row.customer_id,
        number=row.number,
        status=row.status,
        origin=row.origin,
        origin_text=row.origin_text,
        group_chat_id=row.group_chat_id,
        opened_at=row.opened_at,
        first_staff_reply_at=row.first_staff_reply_at,
        closed_at=row.closed_at,
        csat_score=row.csat_score,
        csat_comment=row.csat_comment,
    )


def topic_view(row: SupportTopic) -> TopicView:
    return TopicView(
        id=row.id,
        customer_id=row.customer_id,
        group_chat_id=row.group_chat_id,
        thread_id=row.thread_id,
        banned=row.banned,
    )


def route_group(
    *, default: int | None, routes: dict[str, int], language: str, category: str | None = None
) -> int | None:
    """Which staff group serves this customer: by FAQ category, then language, then default."""
    if category and f"category:{category}" in routes:
        return routes[f"category:{category}"]
    return routes.get(language, default)


async def active_case(session: AsyncSession, *, customer_id: int) -> CaseView | None:
    """The customer's waiting or open case, if any."""
    row = await _active_row(session, customer_id)
    return case_view(row) if row else None


_CASES = cast(Table, SupportCase.__table__)
_TOPICS = cast(Table, SupportTopic.__table__)
_MESSAGES = cast(Table, SupportMessage.__table__)
# The same read as a hot statement (storage/hot.py): made for every message a customer sends.
_ACTIVE_CASE_AND_BAN = Prepared(
    select(
        _CASES,
        exists()
        .where(_TOPICS.c.customer_id == bindparam("b_customer_id"), _TOPICS.c.banned)
        .label("banned"),
    )
    .where(
        _CASES.c.customer_id == bindparam("b_customer_id"),
        or_(*(_CASES.c.status == status for status in ACTIVE)),
    )
    .order_by(_CASES.c.id.desc())
    .limit(1)
)


async def read_active_case_and_ban(db: Database, *, customer_id: int) -> tuple[CaseView, bool] | None:
    """The customer's waiting or open case and whether staff stopped relaying them, in one
    statement: a hot read (storage/hot.py), made with the customer on every message (see
    bot/middlewares.py `message_probes`)."""
    rows = await db.fetch(_ACTIVE_CASE_AND_BAN, {"b_customer_id": customer_id})
    if not rows:
        return None
    row = rows[0]
    return _case_from(row), bool(row["banned"])


def _case_from(row: dict[str, Any]) -> CaseView:
    return CaseView(**{name: row[name] for name in CaseView.__dataclass_fields__})


async def _active_row(session: AsyncSession, customer_id: int) -> SupportCase | None:
    return (
        await session.execute(
            select(SupportCase)
            .where(SupportCase.customer_id == customer_id, SupportCase.status.in_(ACTIVE))
            .order_by(SupportCase.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def topic_of(session: AsyncSession, *, customer_id: int, group_chat_id: int) -> TopicView | None:
    row = await _topic_row(session, customer_id, group_chat_id)
    return topic_view(row) if row else None


async def _topic_row(session: AsyncSession, customer_id: int, group_chat_id: int) -> SupportTopic | None:
    return (
        await session.execute(
            select(SupportTopic).where(
                SupportTopic.customer_id == customer_id, SupportTopic.group_chat_id == group_chat_id
            )
        )
    ).scalar_one_or_none()


async def recent_case(session: AsyncSession, *, customer_id: int, since: datetime) -> CaseView | None:
    """The customer's last case if staff closed it after `since` (a follow-up goes to staff)."""
    row = (
        await session.execute(
            select(SupportCase)
            .where(
                SupportCase.customer_id == customer_id,
                SupportCase.status == "closed",
                SupportCase.closed_at >= since,
            )
            .order_by(SupportCase.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return case_view(row) if row else None


async def forget_thread(session: AsyncSession, *, customer_id: int, group_chat_id: int) -> int | None:
    """Staff deleted the customer's topic: drop its thread id (the next post recreates it)."""
    topic = await _topic_row(session, customer_id, group_chat_id)
    if topic is None or topic.thread_id is None:
        return None
    gone, topic.thread_id = topic.thread_id, None
    return gone


async def set_thread(
    session: AsyncSession, *, clock: Clock, customer_id: int, group_chat_id: int, thread_id: int,
    name: str,
) -> None:
    """Remember the forum topic just created for the customer."""
    now = clock.now()
    topic = await _topic_row(session, customer_id, group_chat_id)
    if topic is None:
        session.add(SupportTopic(customer_id=customer_id, group_chat_id=group_chat_id,
                                 thread_id=thread_id, name=name, banned=False, created_at=now,
                                 updated_at=now))
    else:
        topic.thread_id, topic.name, topic.updated_at = thread_id, name, now
    await session.flush()


async def card_posted(
    session: AsyncSession,
    *,
    clock: Clock,
    case_id: int,
    topic_message_id: int | None = None,
    post_id: int | None = None,
) -> None:
    """The case's card went out (as `post_id`, or with a new topic: then its queued card post
    is done). The card's message id is kept on the post, so an edit of a customer message that
    went out inside the card re-renders the card."""
    rows = (
        await session.execute(
            select(GroupPost).where(GroupPost.case_id == case_id, GroupPost.kind == "card")
        )
    ).scalars().all()
    for row in rows:
        if row.status == "queued" or row.id == post_id:
            if topic_message_id is not None:
                row.payload = {**row.payload, "topic_message_id": topic_message_id}
            if row.id != post_id:
                row.status, row.sent_at = "sent", clock.now()
    await session.flush()


async def is_banned(session: AsyncSession, *, customer_id: int) -> bool:
    """Staff stopped relaying this customer's messages (in any group)."""
    banned = await session.scalar(
        select(func.count()).where(SupportTopic.customer_id == customer_id, SupportTopic.banned)
    )
    return bool(banned)


async def open_case(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    group_chat_id: int,
    origin: str,
    origin_text: str | None = None,
) -> tuple[CaseView, bool]:
    """Open a case (or return the active one); returns (case, created).

    A new case in a customer's existing topic gets a notice there; a case with a known question
    (e.g. the FAQ query that did not help) is posted to staff right away with the card.
    """
    current = await _active_row(session, customer_id)
    if current is not None:
        return case_view(current), False
    now = clock.now()
    last_number = await session.scalar(
        select(func.coalesce(func.max(SupportCase.number), 0)).where(SupportCase.customer_id == customer_id)
    )
    number = (last_number or 0) + 1
    row = SupportCase(
        customer_id=customer_id,
        number=number,
        status="waiting",
        origin=origin,
        origin_text=(origin_text or None) and origin_text[:2000],
        group_chat_id=group_chat_id,
        opened_at=now,
    )
    session.add(row)
    topic = await _topic_row(session, customer_id, group_chat_id)
    if topic is None:
        session.add(
            SupportTopic(
                customer_id=customer_id,
                group_chat_id=group_chat_id,
                thread_id=None,
                name="",
                banned=False,
                created_at=now,
                updated_at=now,
            )
        )
    await session.flush()
    if row.origin_text:
        # A known question is worth staff's attention now; a bare request waits for the
        # customer's first real message (no empty topics from a stray tap).
        await _queue_card(session, row, now)
    return case_view(row), True


async def _queue_card(session: AsyncSession, case: SupportCase, now: datetime) -> None:
    """The card opens every case in the topic: who is writing and why."""
    session.add(
        GroupPost(
            group_chat_id=case.group_chat_id,
            customer_id=case.customer_id,
            case_id=case.id,
            priority=PRIORITY_CUSTOMER,
            kind="card",
            payload={},
            status="queued",
            attempts=0,
            created_at=now,
        )
    )
    wake(session, "group_posts")
    await session.flush()


async def relay_customer_message(
    session: AsyncSession,
    *,
    clock: Clock,
    case: CaseView,
    chat_id: int,
    message_id: int,
    kind: str,
    text: str | None,
    media_group_id: str | None = None,
    faq_suggestions: dict[str, Any] | None = None,
) -> None:
    """Queue a customer's message for the case's topic (sent by the group-post worker).

    Idempotent: an update handled again after a crash (the inbox replays what was not marked
    done) finds its message already queued and queues nothing more.

    `faq_suggestions` ({"ids": [entry id], "lang": ...}): FAQ entries staff may send in answer,
    shown as buttons under the message (rendered by the worker when it posts)."""
    now = clock.now()
    state = (await session.execute(_RELAY_STATE.stmt, {"b_chat": chat_id, "b_mid": message_id,
                                                          "b_case": case.id})).one()
    is_known, carded = state.known, state.carded
    if is_known:
        return
    if not carded:
        row = await session.get(SupportCase, case.id)
        assert row is not None
        await _queue_card(session, row, now)
    # Core inserts (no unit of work): this runs for every customer message in a case.
    msg_id = await session.scalar(
        insert(SupportMessage)
        .values(
            case_id=case.id,
            direction="in",
            customer_chat_id=chat_id,
            customer_message_id=message_id,
            group_chat_id=case.group_chat_id,
            kind=kind,
            text=text,
            created_at=now,
        )
        .returning(SupportMessage.id)
    )
    await session.execute(
        insert(GroupPost).values(
            group_chat_id=case.group_chat_id,
            customer_id=case.customer_id,
            case_id=case.id,
            support_message_id=msg_id,
            priority=PRIORITY_CUSTOMER,
            kind="copy",
            payload=_copy_payload(chat_id, message_id, kind, text, media_group_id, faq_suggestions),
            status="queued",
            attempts=0,
            created_at=now,
        )
    )
    wake(session, "group_posts")


_POSTS = cast(Table, GroupPost.__table__)
# A message into a case whose card is already queued: the common case, as hot statements.
_RELAY_STATE = Prepared(
    select(
        exists()
        .where(
            _MESSAGES.c.customer_chat_id == bindparam("b_chat"),
            _MESSAGES.c.customer_message_id == bindparam("b_mid"),
            _MESSAGES.c.direction == "in",
        )
        .label("known"),
        exists().where(_POSTS.c.case_id == bindparam("b_case"), _POSTS.c.kind == "card").label("carded"),
    )
)
_INSERT_IN = Prepared(
    insert(_MESSAGES).values(
        case_id=bindparam("b_case"), direction="in", customer_chat_id=bindparam("b_chat"),
        customer_message_id=bindparam("b_mid"), group_chat_id=bindparam("b_group"),
        topic_message_id=None, staff_id=None, kind=bindparam("b_kind"), text=bindparam("b_text"),
        created_at=bindparam("b_now"), edited_at=None,
    )
)
_INSERT_POST = Prepared(
    insert(_POSTS).values(
        group_chat_id=bindparam("b_group"), customer_id=bindparam("b_customer"), case_id=bindparam("b_case"),
        support_message_id=select(_MESSAGES.c.id)
        .where(
            _MESSAGES.c.customer_chat_id == bindparam("b_chat"),
            _MESSAGES.c.customer_message_id == bindparam("b_mid"),
            _MESSAGES.c.direction == "in",
        )
        .scalar_subquery(),
        priority=PRIORITY_CUSTOMER, kind="copy", payload=bindparam("b_payload"), status="queued",
        owner=None, lease_until=None, attempts=0, not_before=None, created_at=bindparam("b_now"),
        sent_at=None, error=None,
    )
)


def _copy_payload(
    chat_id: int, message_id: int, kind: str, text: str | None, media_group_id: str | None,
    faq_suggestions: dict[str, Any] | None,
) -> dict[str, Any]:
    """A relayed message's group post: what the worker copies, and the FAQ buttons under it."""
    return {
        "chat_id": chat_id, "message_id": message_id, "kind": kind, "text": text,
        "media_group_id": media_group_id, **({"faq": faq_suggestions} if faq_suggestions else {}),
    }


async def relay_into_case(
    db: Database,
    *,
    clock: Clock,
    case: CaseView,
    chat_id: int,
    message_id: int,
    kind: str,
    text: str | None,
    media_group_id: str | None = None,
    faq_suggestions: dict[str, Any] | None = None,
) -> None:
    """`relay_customer_message` in its own transaction; once the case's card is queued (every
    message but a case's first) as hot statements (storage/hot.py): a read and one write.

    The read and the write need not share a transaction: one chat's updates are handled one at
    a time (a replay included), and a case's card, once queued, stays queued."""
    (state,) = await db.fetch(_RELAY_STATE, {"b_chat": chat_id, "b_mid": message_id, "b_case": case.id})
    if state["known"]:
        return
    if not state["carded"]:
        async with db.begin() as session:
            await relay_customer_message(
                session, clock=clock, case=case, chat_id=chat_id, message_id=message_id, kind=kind,
                text=text, media_group_id=media_group_id, faq_suggestions=faq_suggestions,
            )
        return
    payload = _copy_payload(chat_id, message_id, kind, text, media_group_id, faq_suggestions)
    common = {"b_case": case.id, "b_chat": chat_id, "b_mid": message_id, "b_group": case.group_chat_id,
              "b_now": clock.now()}
    await db.write([
        (_INSERT_IN, {**common, "b_kind": kind, "b_text": text}),
        (_INSERT_POST, {**common, "b_customer": case.customer_id, "b_payload": payload}),
    ])
    committed("group_posts")


async def customer_edited(
    session: AsyncSession,
    *,
    clock: Clock,
    chat_id: int,
    message_id: int,
    text: str | None,
) -> bool:
    """Sync a customer's edit to the topic copy; False if that message was never relayed."""
    msg = (
        await session.execute(
            select(SupportMessage).where(
                SupportMessage.customer_chat_id == chat_id,
                SupportMessage.customer_message_id == message_id,
                SupportMessage.direction == "in",
            )
        )
    ).scalar_one_or_none()
    if msg is None:
        return False
    msg.text, msg.edited_at = text, clock.now()
    if msg.topic_message_id is None:
        # Still queued: a copy carries the new content by itself, but queued texts may be
        # merged into one post from their payload, so the payload must follow the edit.
        post = (
            await session.execute(
                select(GroupPost).where(
                    GroupPost.support_message_id == msg.id, GroupPost.status == "queued"
                )
            )
        ).scalar_one_or_none()
        if post is not None:
            post.payload = {**post.payload, "text": text}
        await session.flush()
        return True
    case = await session.get(SupportCase, msg.case_id)
    assert case is not None
    # Several queued texts may have gone out merged into one post: edit the whole post.
    siblings = (
        await session.execute(
            select(SupportMessage.text)
            .where(
                SupportMessage.group_chat_id == msg.group_chat_id,
                SupportMessage.topic_message_id == msg.topic_message_id,
                SupportMessage.direction == "in",
            )
            .order_by(SupportMessage.id)
        )
    ).scalars().all()
    shown = "\n\n".join(t for t in siblings if t) if len(siblings) > 1 else text
    payload: dict[str, Any] = {"text": shown, "topic_message_id": msg.topic_message_id, "kind": msg.kind}
    cards = (
        await session.execute(
            select(GroupPost.payload).where(GroupPost.case_id == case.id, GroupPost.kind == "card")
        )
    ).scalars().all()
    if any(c.get("topic_message_id") == msg.topic_message_id for c in cards):
        # The message went out inside the case's card: the worker re-renders card + texts.
        payload = {"card_case_id": case.id, "texts": [t for t in siblings if t],
                   "topic_message_id": msg.topic_message_id, "kind": "text"}
    session.add(
        GroupPost(
            group_chat_id=msg.group_chat_id,
            customer_id=case.customer_id,
            case_id=case.id,
            support_message_id=msg.id,
            priority=PRIORITY_EDIT,
            kind="edit",
            payload=payload,
            status="queued",
            attempts=0,
            created_at=clock.now(),
        )
    )
    wake(session, "group_posts")
    await session.flush()
    return True


def _by_thread(group_chat_id: Any, thread_id: Any) -> Any:
    t, c = SupportTopic.__table__, Customer.__table__
    return (
        select(
            t.c.id.label("topic_id"), t.c.thread_id.label("topic_thread"), t.c.banned.label("topic_banned"), c
        )
        .join_from(t, c, c.c.id == t.c.customer_id)
        .where(t.c.group_chat_id == group_chat_id, t.c.thread_id == thread_id)
    )


def _thread_views(row: Any, group_chat_id: int) -> tuple[TopicView, CustomerView]:
    topic = TopicView(
        id=row.topic_id, customer_id=row.id, group_chat_id=group_chat_id,
        thread_id=row.topic_thread, banned=row.topic_banned,
    )
    return topic, customer_view(row)


async def find_by_thread(
    session: AsyncSession, *, group_chat_id: int, thread_id: int
) -> tuple[TopicView, CustomerView] | None:
    """The topic (and its customer) behind a forum thread; one Core read (every staff message
    in a topic asks this)."""
    row = (await session.execute(_by_thread(group_chat_id, thread_id))).first()
    return _thread_views(row, group_chat_id) if row is not None else None


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
        ["case_id", "direction", "customer_chat_id", "customer_message_id", "group_chat_id",
         "topic_message_id", "staff_id", "kind", "text", "created_at", "edited_at"],
        select(
            _CASES.c.id, bindparam("b_direction", type_=String()), bindparam("b_chat", type_=BigInteger()),
            null(), bindparam("b_group", type_=BigInteger()),
            bindparam("b_topic_message", type_=BigInteger()),
            bindparam("b_staff", type_=BigInteger()), bindparam("b_kind", type_=String()),
            bindparam("b_text", type_=Text()), bindparam("b_now", type_=UTCDateTime()), null(),
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
            (inserted,) = await db.write([(_STAFF_MESSAGE, {
                "b_case": case.id, "b_direction": "note" if note else "out",
                "b_chat": customer.telegram_id or 0, "b_group": group_chat_id,
                "b_topic_message": topic_message_id, "b_staff": staff_id, "b_kind": kind,
                "b_text": text, "b_now": clock.now(),
            })])
            if inserted:
                return StaffMessage(topic, customer, case, inserted[0]["id"])
    async with db.begin() as session:
        found = await find_by_thread(session, group_chat_id=group_chat_id, thread_id=thread_id)
        if found is None:
            return None
        topic, customer = found
        reply_case, message_id = await staff_reply(
            session, clock=clock, customer_id=topic.customer_id, group_chat_id=group_chat_id,
            topic_message_id=topic_message_id, staff_id=staff_id, kind=kind, text=text, note=note,
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


async def close_case(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    closed_by: int | None,
    status: str = "closed",
) -> CaseView | None:
    """Close the active case; None if there was none."""
    row = await _active_row(session, customer_id)
    if row is None:
        return None
    row.status, row.closed_at, row.closed_by = status, clock.now(), closed_by
    await session.flush()
    return case_view(row)


async def set_banned(
    session: AsyncSession, *, clock: Clock, customer_id: int, group_chat_id: int, banned: bool
) -> None:
    """Stop (or restore) relaying an abusive customer's messages."""
    topic = await _topic_row(session, customer_id, group_chat_id)
    if topic is None:
        raise NotFound("no topic for this customer", code="topic_not_found")
    topic.banned, topic.updated_at = banned, clock.now()
    await session.flush()


async def rate_case(
    session: AsyncSession,
    *,
    clock: Clock,
    case_id: int,
    customer_id: int,
    score: int | None = None,
    comment: str | None = None,
) -> CaseView:
    """Store the CSAT score (1-5) and/or comment of a closed case."""
    row = await session.get(SupportCase, case_id)
    if row is None or row.customer_id != customer_id:
        raise NotFound("case not found", code="case_not_found")
    if score is not None:
        if not 1 <= score <= 5:
            raise Invalid("CSAT score must be 1-5", code="invalid_score")
        row.csat_score, row.csat_at = score, clock.now()
    if comment is not None:
        row.csat_comment = comment[:2000]
    await session.flush()
    return case_view(row)


async def due_reminders(session: AsyncSession, *, clock: Clock, after: timedelta) -> list[CaseView]:
    """Waiting cases with no staff reply for longer than `after` and no reminder yet."""
    rows = (
        await session.execute(
            select(SupportCase).where(
                SupportCase.status == "waiting",
                SupportCase.reminded_at.is_(None),
                SupportCase.opened_at <= clock.now() - after,
            )
        )
    ).scalars()
    return [case_view(r) for r in rows]


async def queue_reminder(session: AsyncSession, *, clock: Clock, case: CaseView, waited: timedelta) -> None:
    """Post a reminder into the case's topic (lowest priority) and remember it was sent."""
    await session.execute(
        update(SupportCase).where(SupportCase.id == case.id).values(reminded_at=clock.now())
    )
    session.add(
        GroupPost(
            group_chat_id=case.group_chat_id,
            customer_id=case.customer_id,
            case_id=case.id,
            priority=PRIORITY_REMINDER,
            kind="notice",
            payload={
                "key": "staff-reminder",
                "minutes": int(waited.total_seconds() // 60),
                "number": case.number,
            },
            status="queued",
            attempts=0,
            created_at=clock.now(),
        )
    )
    wake(session, "group_posts")
    await session.flush()


async def queue_notice(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    group_chat_id: int,
    case_id: int | None,
    key: str,
    priority: int = PRIORITY_CARD,
    **params: Any,
) -> None:
    """Queue a bot notice (a text from the staff locale) into the customer's topic."""
    session.add(
        GroupPost(
            group_chat_id=group_chat_id,
            customer_id=customer_id,
            case_id=case_id,
            priority=priority,
            kind="notice",
            payload={"key": key, **params},
            status="queued",
            attempts=0,
            created_at=clock.now(),
        )
    )
    wake(session, "group_posts")
    await session.flush()


async def record_unreachable(session: AsyncSession, *, case_id: int, reason: str) -> None:
    """A staff reply bounced with 403: note it on the case (never retried)."""
    await session.execute(
        update(SupportCase).where(SupportCase.id == case_id).values(unreachable_reason=reason)
    )


async def queue_depth(session: AsyncSession) -> dict[int, int]:
    """Queued posts per staff group."""
    rows = await session.execute(
        select(GroupPost.group_chat_id, func.count())
        .where(GroupPost.status == "queued")
        .group_by(GroupPost.group_chat_id)
    )
    return {int(g): int(n) for g, n in rows.all()}


async def list_cases(
    session: AsyncSession,
    *,
    status: str | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    after_id: int = 0,
) -> list[CaseView]:
    """Cases, newest last (keyset paging by id)."""
    stmt = select(SupportCase).where(SupportCase.id > after_id)
    if status == "active":
        stmt = stmt.where(SupportCase.status.in_(ACTIVE))
    elif status:
        stmt = stmt.where(SupportCase.status == status)
    if customer_id is not None:
        stmt = stmt.where(SupportCase.customer_id == customer_id)
    rows = (await session.execute(stmt.order_by(SupportCase.id).limit(limit))).scalars()
    return [case_view(r) for r in rows]


async def case_messages(session: AsyncSession, *, case_id: int) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(SupportMessage).where(SupportMessage.case_id == case_id).order_by(SupportMessage.id)
        )
    ).scalars()
    return [
        {
            "id": m.id,
            "direction": m.direction,
            "kind": m.kind,
            "text": m.text,
            "staff_id": m.staff_id,
            "created_at": m.created_at,
            "edited_at": m.edited_at,
        }
        for m in rows
    ]


async def get_case(session: AsyncSession, *, case_id: int) -> CaseView:
    row = await session.get(SupportCase, case_id)
    if row is None:
        raise NotFound("case not found", code="case_not_found")
    return case_view(row)


async def scrub_customer(session: AsyncSession, customer_id: int) -> None:
    """After /forget: erase what the customer wrote to support and the FAQ, and drop posts
    still queued for staff (counts, scores and timings stay for the figures)."""
    await session.execute(
        update(SupportCase).where(SupportCase.customer_id == customer_id)
        .values(origin_text=None, csat_comment=None)
    )
    cases = select(SupportCase.id).where(SupportCase.customer_id == customer_id)
    await session.execute(
        update(SupportMessage).where(SupportMessage.case_id.in_(cases)).values(text=None)
    )
    await session.execute(
        update(FaqQuery).where(FaqQuery.customer_id == customer_id).values(text="", normalized="")
    )
    await session.execute(
        update(GroupPost).where(GroupPost.customer_id == customer_id, GroupPost.status == "queued")
        .values(status="skipped", error="customer erased their data", payload={})
    )
