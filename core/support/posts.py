"""Posts queued for a staff group besides relayed messages: the card once sent, notices, reminders,
and the queue's depth.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.delivery import wake
from core.support.cases import PRIORITY_CARD, PRIORITY_REMINDER, CaseView, case_view
from storage.models_support import GroupPost, SupportCase


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
        (
            await session.execute(
                select(GroupPost).where(GroupPost.case_id == case_id, GroupPost.kind == "card")
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        if row.status == "queued" or row.id == post_id:
            if topic_message_id is not None:
                row.payload = {**row.payload, "topic_message_id": topic_message_id}
            if row.id != post_id:
                row.status, row.sent_at = "sent", clock.now()
    await session.flush()


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


UNCERTAIN_TEXT_LIMIT = 1000  # characters of the customer's text repeated in the notice


async def notify_uncertain(session: AsyncSession, *, clock: Clock, post_ids: list[int]) -> int:
    """Customer messages and cards that were on the wire when their process died: they stay
    `uncertain` (maybe in the topic, maybe not; never posted again), and a notice in the same
    topic tells staff so, with the customer's text where the message had one, so that nothing a
    customer wrote goes unseen. Returns the notices queued."""
    if not post_ids:
        return 0
    rows = (
        await session.execute(
            select(GroupPost)
            .where(GroupPost.id.in_(post_ids), GroupPost.kind.in_(("copy", "card")))
            .order_by(GroupPost.id)
        )
    ).scalars()
    queued = 0
    for post in rows:
        payload = post.payload if isinstance(post.payload, dict) else {}
        text = payload.get("text") if post.kind == "copy" else None
        params: dict[str, Any] = (
            {"key": "staff-post-uncertain-text", "text": text[:UNCERTAIN_TEXT_LIMIT]}
            if isinstance(text, str) and text
            else {"key": "staff-post-uncertain"}
        )
        await queue_notice(
            session,
            clock=clock,
            customer_id=post.customer_id,
            group_chat_id=post.group_chat_id,
            case_id=post.case_id,
            **params,
        )
        queued += 1
    return queued


async def queue_depth(session: AsyncSession) -> dict[int, int]:
    """Queued posts per staff group."""
    rows = await session.execute(
        select(GroupPost.group_chat_id, func.count())
        .where(GroupPost.status == "queued")
        .group_by(GroupPost.group_chat_id)
    )
    return {int(g): int(n) for g, n in rows.all()}
