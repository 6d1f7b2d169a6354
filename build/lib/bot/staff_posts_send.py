"""Sending one claimed staff-group post: its topic, its text or copy, and the wire mark.

Moved out of bot/support_worker.py (issue 14), which claims the posts and records the answers.
Lengths are Telegram's (UTF-16 units): what does not fit is split or left for the next post.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from aiogram.methods import (
    CopyMessage,
    CopyMessages,
    CreateForumTopic,
    EditMessageCaption,
    EditMessageText,
    SendMessage,
)

from bot.context import BotContext
from bot.sender import sending
from bot.staff_posts_hot import _TOPIC_MESSAGE, QUEUE, Post
from core import customers as customers_svc
from core import delivery, support
from core.text_limits import CAPTION_LIMIT, TEXT_LIMIT, split_text, utf16_len, visible_html_len
from dialogs.faq.staff import suggestion_keyboard
from dialogs.handoff.card import render_card, topic_name
from dialogs.nps.handlers import render_alert
from storage.hot import Step
from storage.models import Customer
from storage.models_support import SupportCase

# Staff notices rendered at send time by their dialog (the post stores only plain data).
STAFF_RENDERERS = {"nps_alert": render_alert}


def _fit_texts(texts: list[str], budget: int) -> int:
    """How many of `texts`, joined by blank lines, fit in `budget` UTF-16 units."""
    used, n = 0, 0
    for item in texts:
        cost = utf16_len(item) + (2 if n or used else 0)
        if used + cost > budget:
            break
        used += cost
        n += 1
    return n


class LeaseLost(Exception):
    """Another process took these posts over (our lease ran out): they must not be sent here."""


class _Wire:
    """Marks the posts on the wire once the first request of the post leaves (not before:
    while it waits for the group's 20-a-minute budget it is only claimed, and a kill then
    loses nothing)."""

    def __init__(
        self, ctx: BotContext, posts: list[Post], thread: int | None = None, *, on: bool = False
    ) -> None:
        self.ctx, self.posts, self.on = ctx, posts, on
        self.prepaid = on  # marked with the claim, whose gate check took the tokens
        self.thread = thread  # the topic's thread id, read with the claim (None: look it up)
        # What the answer changes besides the posts' status, written in the same transaction
        # as the `sent` mark (one commit per post after the wire mark, not three).
        self.after: list[Callable[[Any], Awaitable[None]]] = []
        self.steps: list[Step] = []  # the same as hot statements (storage/hot.py)

    async def __call__(self) -> None:
        if self.on:
            return
        ids = [p.id for p in self.posts]
        # Stopping while the mark commits: the mark is committed all the same and, since the
        # request never left, the posts go back to the queue (cancelled in between, they stayed
        # `sending` and became `uncertain` though Telegram never had them).
        mark = asyncio.ensure_future(self._mark(ids))
        try:
            marked = await asyncio.shield(mark)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                unsent = await mark
                async with self.ctx.db.begin() as session:
                    await delivery.finish(session, QUEUE, sorted(unsent), QUEUE.queued)
            raise
        if marked != set(ids):
            # Not sent: what we did mark goes back to the queue (it never reached the wire).
            async with self.ctx.db.begin() as session:
                await delivery.finish(session, QUEUE, sorted(marked), QUEUE.queued)
            raise LeaseLost(f"staff posts {sorted(set(ids) - marked)} are no longer ours")
        self.on = True

    async def _mark(self, ids: list[int]) -> set[int]:
        async with self.ctx.db.begin() as session:
            return set(await delivery.mark_wire(session, QUEUE, ids, owner=self.ctx.owner))


async def _ensure_topic(ctx: BotContext, post: Post, known: int | None = None) -> int:
    """The customer's thread id; creates the topic (and posts the card) on first use."""
    if known is not None:
        return known
    async with ctx.db.read() as session:
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
        await support.set_thread(
            session,
            clock=ctx.clock,
            customer_id=post.customer_id,
            group_chat_id=post.group_chat_id,
            thread_id=thread,
            name=name,
        )
    if post.kind != "card" and post.case_id is not None:
        # A new topic always opens with the card, before the message that caused it.
        card = await _card_text(ctx, post.customer_id, post.case_id)
        if card is not None:
            sent = await ctx.bot(
                SendMessage(
                    chat_id=post.group_chat_id, message_thread_id=thread, text=card, parse_mode="HTML"
                )
            )
            async with ctx.db.begin() as session:
                await support.card_posted(
                    session, clock=ctx.clock, case_id=post.case_id, topic_message_id=sent.message_id
                )
    return thread


async def _card_text(ctx: BotContext, customer_id: int, case_id: int) -> str | None:
    t = ctx.i18n(ctx.settings.staff_language)
    async with ctx.db() as session:
        row = await session.get(Customer, customer_id)
        case = await session.get(SupportCase, case_id)
        if row is None or case is None:
            return None
        return await render_card(
            session,
            customer=customers_svc.view(row),
            case=support.case_view(case),
            t=t,
            sections=ctx.card_sections,
        )


async def _notice_text(ctx: BotContext, payload: dict[str, Any]) -> str:
    """A bot notice in the staff language, rendered now from the plain data in the post: by its
    dialog's renderer (`render` names it) or, for a plain notice, from the staff locale."""
    t = ctx.i18n(ctx.settings.staff_language)
    renderer = STAFF_RENDERERS.get(payload.get("render") or "")
    if renderer is not None:
        async with ctx.db() as session:
            return await renderer(session, clock=ctx.clock, rules=ctx.rules, t=t, payload=payload)
    params = {k: v for k, v in payload.items() if k != "key"}
    return t(payload["key"], **params)


def _suggestions(ctx: BotContext, posts: list[Post]) -> Any:
    """The FAQ entries staff may send with a tap, for the latest customer question in `posts`
    (ids stored when the message was queued; the buttons are rendered now)."""
    for post in reversed(posts):
        if post.kind == "copy" and post.payload.get("faq"):
            return suggestion_keyboard(
                post.payload.get("faq"), post.support_message_id, ctx.i18n(ctx.settings.staff_language)
            )
    return None


async def _send_texts(
    ctx: BotContext, group: int, thread: int | None, text: str, *, markup: Any = None
) -> int:
    """Send a plain `text` into the thread, split at Telegram's limit (never cut off); returns
    the first part's message id. `markup` goes under the last part."""
    first_id: int | None = None
    parts = split_text(text, TEXT_LIMIT)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        keyboard = markup if last else None
        sent = await ctx.bot(
            SendMessage(chat_id=group, message_thread_id=thread, text=part, reply_markup=keyboard)
        )
        first_id = first_id or sent.message_id
    assert first_id is not None
    return first_id


async def _deliver(ctx: BotContext, posts: list[Post], wire: _Wire) -> list[Post]:
    """Send one post (with what it carries); returns the posts it covered."""
    first = posts[0]
    group = first.group_chat_id
    thread = await _ensure_topic(ctx, first, wire.thread)
    if first.kind == "card":
        assert first.case_id is not None
        card = await _card_text(ctx, first.customer_id, first.case_id)
        if card is None:
            return [first]
        texts = [p.payload["text"] for p in posts[1:]]
        n = _fit_texts(texts, TEXT_LIMIT - visible_html_len(card) - 2)
        covered = posts[: n + 1]
        wire.posts = covered
        if n:
            card = card + "\n\n" + "\n\n".join(escape(x) for x in texts[:n])
        with sending(on_wire=wire):
            sent = await ctx.bot(
                SendMessage(
                    chat_id=group,
                    message_thread_id=thread,
                    text=card,
                    parse_mode="HTML",
                    reply_markup=_suggestions(ctx, covered[1:]),
                )
            )
        case_id, card_id = first.case_id, sent.message_id

        async def card_done(session: Any) -> None:
            await support.card_posted(
                session, clock=ctx.clock, case_id=case_id, topic_message_id=card_id, post_id=first.id
            )

        wire.after.append(card_done)
        wire.steps.extend(_topic_ids(covered[1:], [card_id] * n))
        return covered
    if first.kind == "notice":
        text = await _notice_text(ctx, first.payload)
        with sending(on_wire=wire):
            await _send_texts(ctx, group, thread, text)
        return [first]
    if first.kind == "edit":
        with sending(on_wire=wire):
            await _edit(ctx, first, thread)
        return [first]
    # copies of customer messages
    if len(posts) > 1 and first.payload.get("media_group_id"):
        with sending(on_wire=wire):
            ids = await ctx.bot(
                CopyMessages(
                    chat_id=group,
                    from_chat_id=first.payload["chat_id"],
                    message_ids=[p.payload["message_id"] for p in posts],
                    message_thread_id=thread,
                )
            )
        covered, topic_ids = posts, [m.message_id for m in ids]
    elif len(posts) > 1:
        texts = [p.payload["text"] for p in posts]
        n = max(1, _fit_texts(texts, TEXT_LIMIT))
        covered = posts[:n]
        wire.posts = covered
        with sending(on_wire=wire):
            message_id = await _send_texts(
                ctx, group, thread, "\n\n".join(texts[:n]), markup=_suggestions(ctx, covered)
            )
        topic_ids = [message_id] * n
    else:
        # A post marked on the wire with its claim took its send's tokens then (prepaid).
        with sending(on_wire=wire, prepaid=wire.prepaid):
            sent_id = await ctx.bot(
                CopyMessage(
                    chat_id=group,
                    from_chat_id=first.payload["chat_id"],
                    message_id=first.payload["message_id"],
                    message_thread_id=thread,
                    reply_markup=_suggestions(ctx, [first]),  # FAQ entries staff may send
                )
            )
        covered, topic_ids = [first], [sent_id.message_id]

    wire.steps.extend(_topic_ids(covered, topic_ids))
    return covered


def _topic_ids(posts: list[Post], topic_ids: list[int]) -> list[Step]:
    """Where each relayed message landed in the topic (for edits and replies), as hot steps."""
    return [
        (_TOPIC_MESSAGE, {"b_id": post.support_message_id, "b_topic_message": topic_message_id})
        for post, topic_message_id in zip(posts, topic_ids, strict=False)
        if post.support_message_id is not None
    ]


async def _edit(ctx: BotContext, post: Post, thread: int | None) -> None:
    """Mirror a customer's edit; a text that no longer fits is continued in a new message."""
    p, group = post.payload, post.group_chat_id
    text = p.get("text") or ""
    if p.get("card_case_id"):  # the edited message went out inside the case's card
        card = await _card_text(ctx, post.customer_id, p["card_case_id"])
        if card is None:
            return
        texts = [x for x in p.get("texts") or [] if x]
        n = _fit_texts(texts, TEXT_LIMIT - visible_html_len(card) - 2)
        body = card + ("\n\n" + "\n\n".join(escape(x) for x in texts[:n]) if n else "")
        await ctx.bot(
            EditMessageText(chat_id=group, message_id=p["topic_message_id"], text=body, parse_mode="HTML")
        )
        if texts[n:]:
            await _send_texts(ctx, group, thread, "\n\n".join(texts[n:]))
        return
    limit = TEXT_LIMIT if p.get("kind") == "text" else CAPTION_LIMIT
    parts = split_text(text, limit) if text else [""]
    if p.get("kind") == "text":
        await ctx.bot(EditMessageText(chat_id=group, message_id=p["topic_message_id"], text=parts[0] or "…"))
    else:
        await ctx.bot(EditMessageCaption(chat_id=group, message_id=p["topic_message_id"], caption=parts[0]))
    if len(parts) > 1:
        await _send_texts(ctx, group, thread, "\n\n".join(parts[1:]))
