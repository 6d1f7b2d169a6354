"""Posts into staff groups, within Telegram's ~20 messages per minute per group.

Customer messages, cards, edits and notices are rows in `group_posts`; this worker sends them
per group in priority order (customer messages first), merges queued plain texts of one topic
into one post when there is a backlog, creates the customer's forum topic on first use and
recreates it if staff deleted it. Nothing is dropped: a post that cannot be sent now stays
queued with a back-off. A post being sent when the process died is not sent again (it is
marked `uncertain`), so a restart never relays anything twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    CopyMessage,
    CopyMessages,
    CreateForumTopic,
    EditMessageCaption,
    EditMessageText,
    ReopenForumTopic,
    SendMessage,
)
from sqlalchemy import select, update

from bot.context import BotContext
from core import customers as customers_svc
from core import support
from core.support import PRIORITY_CUSTOMER
from dialogs.faq.staff import suggestion_keyboard
from dialogs.handoff.card import render_card, topic_name
from storage.models import Customer
from storage.models_support import GroupPost, SupportCase, SupportMessage

log = logging.getLogger(__name__)
TOPIC_GONE = ("message thread not found", "topic_deleted", "thread not found", "topic not found",
              "topic_id_invalid")
TOPIC_CLOSED = ("topic_closed",)
MERGE_LIMIT = 3500
BATCH = 20


async def recover_inflight(ctx: BotContext) -> int:
    """Posts left `sending` by a crash: maybe posted, maybe not. Never repeat them."""
    async with ctx.db.begin() as session:
        result = await session.execute(
            update(GroupPost)
            .where(GroupPost.status == "sending")
            .values(status="uncertain", error="in flight when the process stopped; not repeated")
        )
    count = result.rowcount or 0
    if count:
        log.warning("%d staff-group posts were in flight at the last stop; not repeated", count)
    return count


async def run_group_posts(ctx: BotContext) -> None:
    await recover_inflight(ctx)
    running: dict[int, asyncio.Task[None]] = {}
    while not ctx.stop.is_set():
        async with ctx.db() as session:
            groups = (
                (
                    await session.execute(
                        select(GroupPost.group_chat_id)
                        .where(GroupPost.status == "queued")
                        .where((GroupPost.not_before.is_(None)) | (GroupPost.not_before <= ctx.clock.now()))
                        .distinct()
                    )
                )
                .scalars()
                .all()
            )
        for group in groups:
            if group not in running or running[group].done():
                running[group] = asyncio.create_task(_drain(ctx, group), name=f"group-{group}")
        if await ctx.wait("group_posts", 1.0):
            break
    for task in running.values():
        task.cancel()
    await asyncio.gather(*running.values(), return_exceptions=True)


async def _drain(ctx: BotContext, group: int) -> None:
    while not ctx.stop.is_set():
        async with ctx.db() as session:
            posts = (
                (
                    await session.execute(
                        select(GroupPost)
                        .where(GroupPost.group_chat_id == group, GroupPost.status == "queued")
                        .where((GroupPost.not_before.is_(None)) | (GroupPost.not_before <= ctx.clock.now()))
                        .order_by(GroupPost.priority, GroupPost.id)
                        .limit(BATCH)
                    )
                )
                .scalars()
                .all()
            )
        if not posts:
            return
        batch = _take(posts)
        await _send_batch(ctx, batch)


def _is_plain_text(post: GroupPost) -> bool:
    return post.kind == "copy" and post.payload.get("kind") == "text" and bool(post.payload.get("text"))


def _take(posts: list[GroupPost]) -> list[GroupPost]:
    """The next post, plus queued posts it can share one Telegram message with."""
    first = posts[0]
    group_id = first.payload.get("media_group_id") if first.kind == "copy" else None
    if group_id:  # an album goes in one copyMessages call
        return [p for p in posts if p.kind == "copy" and p.payload.get("media_group_id") == group_id]
    if _is_plain_text(first):
        batch, size = [first], len(first.payload["text"])
        for post in posts[1:]:
            if post.priority != PRIORITY_CUSTOMER or post.customer_id != first.customer_id:
                continue
            if not _is_plain_text(post) or size + len(post.payload["text"]) > MERGE_LIMIT:
                break
            batch.append(post)
            size += len(post.payload["text"]) + 2
        return batch
    return [first]


async def _mark(ctx: BotContext, posts: list[GroupPost], **values: Any) -> None:
    async with ctx.db.begin() as session:
        await session.execute(
            update(GroupPost).where(GroupPost.id.in_([p.id for p in posts])).values(**values)
        )


async def _send_batch(ctx: BotContext, posts: list[GroupPost]) -> None:
    await _mark(ctx, posts, status="sending", attempts=posts[0].attempts + 1)
    try:
        await _deliver(ctx, posts)
    except TelegramBadRequest as exc:
        text = exc.message.lower()
        if any(s in text for s in TOPIC_GONE + TOPIC_CLOSED):
            await _forget_topic(ctx, posts[0], closed=any(s in text for s in TOPIC_CLOSED))
            await _mark(ctx, posts, status="queued")  # retried into the new topic
            return
        log.warning("group post %s refused: %s", [p.id for p in posts], exc.message)
        await _mark(ctx, posts, status="failed", error=exc.message[:500])
        return
    except (TelegramRetryAfter, TelegramServerError, TelegramNetworkError, TelegramForbiddenError) as exc:
        delay = min(600, 5 * 2 ** min(posts[0].attempts, 7))
        log.warning("group post %s deferred %ss: %s", [p.id for p in posts], delay, exc)
        await _mark(
            ctx,
            posts,
            status="queued",
            error=str(exc)[:500],
            not_before=ctx.clock.now() + timedelta(seconds=delay),
        )
        return
    await _mark(ctx, posts, status="sent", sent_at=ctx.clock.now(), error=None)


async def _forget_topic(ctx: BotContext, post: GroupPost, *, closed: bool) -> None:
    """A deleted topic is forgotten (recreated by the retry); a closed one is reopened."""
    async with ctx.db.begin() as session:
        if closed:
            topic = await support.topic_of(
                session, customer_id=post.customer_id, group_chat_id=post.group_chat_id
            )
            thread = topic.thread_id if topic else None
        else:
            gone = await support.forget_thread(
                session, customer_id=post.customer_id, group_chat_id=post.group_chat_id
            )
            log.info("topic %s of customer %s is gone; it will be recreated", gone, post.customer_id)
            return
    if thread is not None:
        await ctx.bot(ReopenForumTopic(chat_id=post.group_chat_id, message_thread_id=thread))


async def _ensure_topic(ctx: BotContext, post: GroupPost) -> int:
    """The customer's thread id; creates the topic (and posts the card) on first use."""
    async with ctx.db.read() as session:  # type: ignore[attr-defined]
        topic = await support.topic_of(
            session, customer_id=post.customer_id, group_chat_id=post.group_chat_id
        )
        customer_row = await session.get(Customer, post.customer_id)
    if topic is not None and topic.thread_id is not None:
        return topic.thread_id
    name = topic_name(customers_svc.view(customer_row)) if customer_row else f"#{post.customer_id}"
    created = await ctx.bot(CreateForumTopic(chat_id=post.group_chat_id, name=name))
    thread = created.message_thread_id
    async with ctx.db.begin() as session:
        await support.set_thread(session, clock=ctx.clock, customer_id=post.customer_id,
                                 group_chat_id=post.group_chat_id, thread_id=thread, name=name)
    if post.kind != "card" and post.case_id is not None:
        # A new topic always opens with the card, before the message that caused it.
        await _post_card(ctx, post.group_chat_id, thread, post.customer_id, post.case_id)
        async with ctx.db.begin() as session:
            await support.card_posted(session, clock=ctx.clock, case_id=post.case_id)
    return thread


async def _post_card(ctx: BotContext, group: int, thread: int, customer_id: int, case_id: int) -> None:
    t = ctx.i18n(ctx.settings.staff_language)
    async with ctx.db() as session:
        row = await session.get(Customer, customer_id)
        case = await session.get(SupportCase, case_id)
        if row is None or case is None:
            return
        text = await render_card(session, customer=customers_svc.view(row), case=support.case_view(case), t=t)
    await ctx.bot(SendMessage(chat_id=group, message_thread_id=thread, text=text, parse_mode="HTML"))


async def _deliver(ctx: BotContext, posts: list[GroupPost]) -> None:
    first = posts[0]
    group = first.group_chat_id
    thread = await _ensure_topic(ctx, first)
    if first.kind == "card":
        assert first.case_id is not None
        await _post_card(ctx, group, thread, first.customer_id, first.case_id)
        return
    if first.kind == "notice":
        t = ctx.i18n(ctx.settings.staff_language)
        params = {k: v for k, v in first.payload.items() if k != "key"}
        await ctx.bot(
            SendMessage(chat_id=group, message_thread_id=thread, text=t(first.payload["key"], **params))
        )
        return
    if first.kind == "edit":
        p = first.payload
        if p.get("kind") == "text":
            await ctx.bot(
                EditMessageText(chat_id=group, message_id=p["topic_message_id"], text=p.get("text") or "…")
            )
        else:
            await ctx.bot(
                EditMessageCaption(
                    chat_id=group, message_id=p["topic_message_id"], caption=p.get("text") or ""
                )
            )
        return
    # copies of customer messages
    if len(posts) > 1 and first.payload.get("media_group_id"):
        ids = await ctx.bot(
            CopyMessages(
                chat_id=group,
                from_chat_id=first.payload["chat_id"],
                message_ids=[p.payload["message_id"] for p in posts],
                message_thread_id=thread,
            )
        )
        topic_ids = [m.message_id for m in ids]
    elif len(posts) > 1:
        text = "\n\n".join(p.payload["text"] for p in posts)
        sent = await ctx.bot(SendMessage(chat_id=group, message_thread_id=thread, text=text))
        topic_ids = [sent.message_id] * len(posts)
    else:
        sent_id = await ctx.bot(
            CopyMessage(
                chat_id=group,
                from_chat_id=first.payload["chat_id"],
                message_id=first.payload["message_id"],
                message_thread_id=thread,
                reply_markup=suggestion_keyboard(  # FAQ entries staff may send (issue 13)
                    first.payload.get("faq"), first.support_message_id, ctx.i18n(ctx.settings.staff_language)
                ),
            )
        )
        topic_ids = [sent_id.message_id]
    async with ctx.db.begin() as session:
        for post, topic_message_id in zip(posts, topic_ids, strict=False):
            if post.support_message_id is not None:
                await session.execute(
                    update(SupportMessage)
                    .where(SupportMessage.id == post.support_message_id)
                    .values(topic_message_id=topic_message_id)
                )


async def run_reminders(ctx: BotContext) -> None:
    """Remind staff in the topic when a case waits too long for its first reply."""
    after = timedelta(minutes=ctx.settings.support_first_reply_minutes)
    while not ctx.stop.is_set():
        async with ctx.db.begin() as session:
            due = await support.due_reminders(session, clock=ctx.clock, after=after)
            for case in due:
                await support.queue_reminder(
                    session, clock=ctx.clock, case=case, waited=ctx.clock.now() - case.opened_at
                )
        if due:
            ctx.notify("group_posts")
        if await ctx.wait("support_reminders", 30):
            break
