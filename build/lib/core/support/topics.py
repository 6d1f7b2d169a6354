"""Topics: the customer's forum thread in a staff group, and whether staff stopped relaying them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.customers import CustomerView
from core.customers import view as customer_view
from core.errors import NotFound
from storage.models import Customer
from storage.models_support import SupportTopic


@dataclass(frozen=True, slots=True)
class TopicView:
    id: int
    customer_id: int
    group_chat_id: int
    thread_id: int | None
    banned: bool


def topic_view(row: SupportTopic) -> TopicView:
    return TopicView(
        id=row.id,
        customer_id=row.customer_id,
        group_chat_id=row.group_chat_id,
        thread_id=row.thread_id,
        banned=row.banned,
    )


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


async def forget_thread(session: AsyncSession, *, customer_id: int, group_chat_id: int) -> int | None:
    """Staff deleted the customer's topic: drop its thread id (the next post recreates it)."""
    topic = await _topic_row(session, customer_id, group_chat_id)
    if topic is None or topic.thread_id is None:
        return None
    gone, topic.thread_id = topic.thread_id, None
    return gone


async def set_thread(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    group_chat_id: int,
    thread_id: int,
    name: str,
) -> None:
    """Remember the forum topic just created for the customer."""
    now = clock.now()
    topic = await _topic_row(session, customer_id, group_chat_id)
    if topic is None:
        session.add(
            SupportTopic(
                customer_id=customer_id,
                group_chat_id=group_chat_id,
                thread_id=thread_id,
                name=name,
                banned=False,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        topic.thread_id, topic.name, topic.updated_at = thread_id, name, now
    await session.flush()


async def is_banned(session: AsyncSession, *, customer_id: int) -> bool:
    """Staff stopped relaying this customer's messages (in any group)."""
    banned = await session.scalar(
        select(func.count()).where(SupportTopic.customer_id == customer_id, SupportTopic.banned)
    )
    return bool(banned)


async def set_banned(
    session: AsyncSession, *, clock: Clock, customer_id: int, group_chat_id: int, banned: bool
) -> None:
    """Stop (or restore) relaying an abusive customer's messages."""
    topic = await _topic_row(session, customer_id, group_chat_id)
    if topic is None:
        raise NotFound("no topic for this customer", code="topic_not_found")
    topic.banned, topic.updated_at = banned, clock.now()
    await session.flush()


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
        id=row.topic_id,
        customer_id=row.id,
        group_chat_id=group_chat_id,
        thread_id=row.topic_thread,
        banned=row.topic_banned,
    )
    return topic, customer_view(row)


async def find_by_thread(
    session: AsyncSession, *, group_chat_id: int, thread_id: int
) -> tuple[TopicView, CustomerView] | None:
    """The topic (and its customer) behind a forum thread; one Core read (every staff message
    in a topic asks this)."""
    row = (await session.execute(_by_thread(group_chat_id, thread_id))).first()
    return _thread_views(row, group_chat_id) if row is not None else None
