"""The customer -> staff relay: a customer's messages (and their edits) queued for the case's topic,
with its hot statements (storage/hot.py).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.delivery import wake
from core.delivery.wake import committed
from core.support.cases import (
    _CASES,
    _MESSAGES,
    _TOPICS,
    ACTIVE,
    PRIORITY_CUSTOMER,
    PRIORITY_EDIT,
    CaseView,
    _case_from,
    _queue_card,
)
from storage.db import Database
from storage.hot import Prepared
from storage.models_support import GroupPost, SupportCase, SupportMessage

# `active_case`'s read (core/support/cases.py) as a hot statement (storage/hot.py), with the
# ban: made for every message a customer sends.
_ACTIVE_CASE_AND_BAN = Prepared(
    select(
        _CASES,
        exists().where(_TOPICS.c.customer_id == bindparam("b_customer_id"), _TOPICS.c.banned).label("banned"),
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
    state = (
        await session.execute(_RELAY_STATE.stmt, {"b_chat": chat_id, "b_mid": message_id, "b_case": case.id})
    ).one()
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
        case_id=bindparam("b_case"),
        direction="in",
        customer_chat_id=bindparam("b_chat"),
        customer_message_id=bindparam("b_mid"),
        group_chat_id=bindparam("b_group"),
        topic_message_id=None,
        staff_id=None,
        kind=bindparam("b_kind"),
        text=bindparam("b_text"),
        created_at=bindparam("b_now"),
        edited_at=None,
    )
)


_INSERT_POST = Prepared(
    insert(_POSTS).values(
        group_chat_id=bindparam("b_group"),
        customer_id=bindparam("b_customer"),
        case_id=bindparam("b_case"),
        support_message_id=select(_MESSAGES.c.id)
        .where(
            _MESSAGES.c.customer_chat_id == bindparam("b_chat"),
            _MESSAGES.c.customer_message_id == bindparam("b_mid"),
            _MESSAGES.c.direction == "in",
        )
        .scalar_subquery(),
        priority=PRIORITY_CUSTOMER,
        kind="copy",
        payload=bindparam("b_payload"),
        status="queued",
        owner=None,
        lease_until=None,
        attempts=0,
        not_before=None,
        created_at=bindparam("b_now"),
        sent_at=None,
        error=None,
    )
)


def _copy_payload(
    chat_id: int,
    message_id: int,
    kind: str,
    text: str | None,
    media_group_id: str | None,
    faq_suggestions: dict[str, Any] | None,
) -> dict[str, Any]:
    """A relayed message's group post: what the worker copies, and the FAQ buttons under it."""
    return {
        "chat_id": chat_id,
        "message_id": message_id,
        "kind": kind,
        "text": text,
        "media_group_id": media_group_id,
        **({"faq": faq_suggestions} if faq_suggestions else {}),
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
                session,
                clock=clock,
                case=case,
                chat_id=chat_id,
                message_id=message_id,
                kind=kind,
                text=text,
                media_group_id=media_group_id,
                faq_suggestions=faq_suggestions,
            )
        return
    payload = _copy_payload(chat_id, message_id, kind, text, media_group_id, faq_suggestions)
    common = {
        "b_case": case.id,
        "b_chat": chat_id,
        "b_mid": message_id,
        "b_group": case.group_chat_id,
        "b_now": clock.now(),
    }
    await db.write(
        [
            (_INSERT_IN, {**common, "b_kind": kind, "b_text": text}),
            (_INSERT_POST, {**common, "b_customer": case.customer_id, "b_payload": payload}),
        ]
    )
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
                select(GroupPost).where(GroupPost.support_message_id == msg.id, GroupPost.status == "queued")
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
        (
            await session.execute(
                select(SupportMessage.text)
                .where(
                    SupportMessage.group_chat_id == msg.group_chat_id,
                    SupportMessage.topic_message_id == msg.topic_message_id,
                    SupportMessage.direction == "in",
                )
                .order_by(SupportMessage.id)
            )
        )
        .scalars()
        .all()
    )
    shown = "\n\n".join(t for t in siblings if t) if len(siblings) > 1 else text
    payload: dict[str, Any] = {"text": shown, "topic_message_id": msg.topic_message_id, "kind": msg.kind}
    cards = (
        (
            await session.execute(
                select(GroupPost.payload).where(GroupPost.case_id == case.id, GroupPost.kind == "card")
            )
        )
        .scalars()
        .all()
    )
    if any(c.get("topic_message_id") == msg.topic_message_id for c in cards):
        # The message went out inside the case's card: the worker re-renders card + texts.
        payload = {
            "card_case_id": case.id,
            "texts": [t for t in siblings if t],
            "topic_message_id": msg.topic_message_id,
            "kind": "text",
        }
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
