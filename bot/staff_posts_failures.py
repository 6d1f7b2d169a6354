"""What happens to a staff-group post Telegram refused or failed: retried later, moved to a
new topic, or failed. Moved out of bot/support_worker.py (issue 14)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from aiogram.methods import ReopenForumTopic

from bot.context import BotContext
from bot.staff_posts_hot import QUEUE, Post
from bot.staff_posts_send import _Wire
from bot.telegram_errors import NOT_MODIFIED, RETRY, TOPIC_CLOSED, TOPIC_GONE, UNREACHABLE, classify
from core import delivery, support

log = logging.getLogger("bot.support_worker")  # the worker's logger, as before the move


async def _mark(ctx: BotContext, posts: list[Post], status: str, **values: Any) -> None:
    async with ctx.db.begin() as session:
        await delivery.finish(session, QUEUE, [p.id for p in posts], status, **values)


async def _failed_or_requeued(ctx: BotContext, posts: list[Post], wire: _Wire, exc: Exception) -> None:
    """`_failed`, and should that fail too (the topic's reopen refused, a 429 on it, the
    database), the posts go back to the queue for a minute later, failed after five attempts:
    never left claimed, where no one would take them while this process lives."""
    try:
        await _failed(ctx, posts, wire, exc)
    except Exception as second:
        ids = [p.id for p in posts]
        attempts = posts[0].attempts + 1
        error = f"{type(second).__name__}: {second}"[:500]
        log.exception("group post %s failed (%s) and so did handling it; retry in 60 s", ids, exc)
        async with ctx.db.begin() as session:
            if attempts >= 5:
                await delivery.finish(session, QUEUE, ids, "failed", error=error)
            else:
                later = ctx.clock.now() + timedelta(seconds=60)
                await delivery.finish(
                    session, QUEUE, ids, QUEUE.queued, attempts=attempts, error=error, not_before=later
                )


async def _failed(ctx: BotContext, posts: list[Post], wire: _Wire, exc: Exception) -> None:
    """Telegram refused or failed the post: retried later, moved to a new topic, or failed."""
    failure = classify(exc)
    covered = wire.posts
    await _release_unsent(ctx, posts, covered)
    if isinstance(exc, KeyError | TypeError | ValueError) and len(covered) == 1:
        # Rendering failed before anything left (a request raises aiogram's and aiohttp's
        # errors, none of these; a method built from bad values raises pydantic's, a
        # ValueError): the stored payload lacks what its kind needs (written by hand or by
        # another version). Retrying cannot help: failed at once with the reason, and the
        # group's queue goes on. (Several posts merged into one message: which one is bad is
        # not known, so they take the retry path below and end failed after five attempts.)
        ids = [p.id for p in covered]
        log.error("group post %s cannot be sent (%s: %s); marked failed", ids, type(exc).__name__, exc)
        await _mark(ctx, covered, "failed", error=f"bad payload: {type(exc).__name__}: {exc}"[:500])
        return
    if failure.outcome in (TOPIC_GONE, TOPIC_CLOSED):
        await _forget_topic(ctx, posts[0], closed=failure.outcome == TOPIC_CLOSED)
        await _mark(ctx, covered, "queued")  # retried into the new topic
        return
    if failure.outcome == NOT_MODIFIED:
        await _mark(ctx, covered, "sent", sent_at=ctx.clock.now(), error=None)
        return
    attempts = posts[0].attempts + 1
    if failure.outcome in (RETRY, UNREACHABLE) and (failure.code != "error" or attempts < 5):
        delay = max(failure.retry_after or 0.0, min(600, 5 * 2 ** min(posts[0].attempts, 7)))
        ids = [p.id for p in covered]
        if failure.code == "error":
            log.exception("group post %s failed; retry %d in %ss", ids, attempts, delay)
        else:
            log.warning("group post %s deferred %ss: %s", ids, delay, failure.text)
        await _mark(
            ctx,
            covered,
            "queued",
            attempts=attempts,
            error=failure.text,
            not_before=ctx.clock.now() + timedelta(seconds=delay),
        )
        return
    log.warning("group post %s refused (%s): %s", [p.id for p in covered], failure.code, failure.text)
    await _mark(ctx, covered, "failed", error=f"{failure.code}: {failure.text}"[:500])


async def _release_unsent(ctx: BotContext, claimed: list[Post], covered: list[Post]) -> None:
    """Claimed posts the message did not carry (they did not fit) go back to the queue."""
    rest = [p.id for p in claimed if p not in covered]
    if rest:
        async with ctx.db.begin() as session:
            await delivery.release(session, QUEUE, rest)


async def _forget_topic(ctx: BotContext, post: Post, *, closed: bool) -> None:
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
