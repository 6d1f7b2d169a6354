"""Posts into staff groups, within Telegram's ~20 messages per minute per group.

Customer messages, cards, edits and notices are rows in `group_posts`; this worker sends them
per group in priority order (customer messages first), merges queued plain texts of one topic
into one post when there is a backlog (and folds a new customer's first texts into the card
post), creates the customer's forum topic on first use and recreates it if staff deleted it.
Lengths are Telegram's (UTF-16 units): what does not fit is split or left for the next post,
never dropped. A post that cannot be sent now stays queued with a back-off. A post is marked
`sending` only when its request leaves (not while it waits for the group's budget); one that
was on the wire when the process died is not sent again (it is marked `uncertain`), so a
restart never relays anything twice and a kill while waiting loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any, cast

from aiogram.methods import (
    CopyMessage,
    CopyMessages,
    CreateForumTopic,
    EditMessageCaption,
    EditMessageText,
    ReopenForumTopic,
    SendMessage,
)
from sqlalchemy import BigInteger, ColumnElement, Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy import text as sql

from bot.context import BotContext
from bot.sender import sending
from bot.telegram_errors import NOT_MODIFIED, RETRY, TOPIC_CLOSED, TOPIC_GONE, UNREACHABLE, classify
from core import customers as customers_svc
from core import delivery, jobs, support
from core.delivery import QueueTable
from core.delivery.queue import DEFAULT_LEASE
from core.ratelimit import Lane
from core.support import PRIORITY_CUSTOMER
from core.text_limits import CAPTION_LIMIT, TEXT_LIMIT, split_text, utf16_len, visible_html_len
from dialogs.faq.staff import suggestion_keyboard
from dialogs.handoff.card import render_card, topic_name
from dialogs.nps.handlers import render_alert
from storage.hot import Prepared, Step
from storage.models import Customer
from storage.models_support import GroupPost, SupportCase, SupportMessage, SupportTopic

log = logging.getLogger(__name__)
MERGE_SCAN = 200  # queued posts of one customer looked at for merging
HOT_PATH = True  # the steady state as hot statements (False: every claim and record in a session)
# Staff notices rendered at send time by their dialog (the post stores only plain data).
STAFF_RENDERERS = {"nps_alert": render_alert}


QUEUE = QueueTable("group_posts", GroupPost, wire="sending")


@dataclass(slots=True, eq=False)
class Post:
    """A queued group post as the worker uses it: its columns, read with Core (not an ORM
    entity), with `attempts` as it was before the claim."""

    id: int
    group_chat_id: int
    customer_id: int
    case_id: int | None
    support_message_id: int | None
    priority: int
    kind: str
    payload: dict[str, Any]
    attempts: int


_POSTS = cast(Table, GroupPost.__table__)
_TOPICS = cast(Table, SupportTopic.__table__)
_MESSAGES = cast(Table, SupportMessage.__table__)
_POST_COLUMNS = [_POSTS.c[name] for name in Post.__dataclass_fields__]


def _post(row: Any) -> Post:
    return Post(**{name: row[name] for name in Post.__dataclass_fields__})


def _held(t: Any) -> ColumnElement[bool]:
    """Claimed or on the wire (no IN list: hot statements take none)."""
    return or_(t.c.status == QUEUE.claimed, t.c.status == QUEUE.wire)


def _due(t: Any, now: Any) -> ColumnElement[bool]:
    return and_(t.c.status == QUEUE.queued, or_(t.c.not_before.is_(None), t.c.not_before <= now))


# The steady state as hot statements (storage/hot.py): a plain copy into a known topic, one
# post per request. `_NEXT` reads the group's next customer's first two due posts (the second
# tells whether `_take` would carry more than the first; see `_hot_candidate`) with the
# customer's thread id; `b_self` is a post of ours still on the wire whose answer is being
# recorded in the same write (it does not hold its customer: it is `sent` before the claim).
_n, _h = _POSTS.alias("n"), _POSTS.alias("h")
_NEXT = Prepared(
    select(
        *_POST_COLUMNS,
        select(_TOPICS.c.thread_id)
        .where(_TOPICS.c.customer_id == _POSTS.c.customer_id, _TOPICS.c.group_chat_id == bindparam("b_group"))
        .scalar_subquery()
        .label("thread_id"),
    )
    .where(
        _POSTS.c.group_chat_id == bindparam("b_group"),
        _due(_POSTS, bindparam("b_now")),
        _POSTS.c.customer_id == select(_n.c.customer_id)
        .where(
            _n.c.group_chat_id == bindparam("b_group"),
            _due(_n, bindparam("b_now")),
            _n.c.customer_id.not_in(
                select(_h.c.customer_id).where(
                    _h.c.group_chat_id == bindparam("b_group"), _held(_h), _h.c.id != bindparam("b_self")
                )
            ),
        )
        .order_by(_n.c.priority, _n.c.id)
        .limit(1)
        .scalar_subquery(),
    )
    .order_by(_POSTS.c.priority, _POSTS.c.id)
    .limit(2)
)
# The claim of one post, valid on its own (the read above is only a hint): the post is still
# queued and due, no post of its customer in the group is claimed or on the wire, and none is
# due before it. On PostgreSQL it runs after `_LOCK` (the claims' advisory lock, as `_claim`
# takes it) and skips a row another transaction holds; on SQLite the write lock serialises it.
_e = _POSTS.alias("e")
_CLAIM_ONE = Prepared(
    update(_POSTS)
    .where(
        _POSTS.c.id == select(_n.c.id)
        .where(_n.c.id == bindparam("b_id"), _due(_n, bindparam("b_now")))
        .with_for_update(skip_locked=True)  # PostgreSQL; nothing on SQLite
        .scalar_subquery(),
        _due(_POSTS, bindparam("b_now")),
        ~exists().where(
            _e.c.group_chat_id == bindparam("b_group"),
            _e.c.customer_id == bindparam("b_customer"),
            or_(
                _held(_e),
                and_(
                    _due(_e, bindparam("b_now")),
                    or_(
                        _e.c.priority < bindparam("b_priority"),
                        and_(_e.c.priority == bindparam("b_priority"), _e.c.id < bindparam("b_id")),
                    ),
                ),
            ),
        ),
    )
    .values(
        status=bindparam("b_status"), owner=bindparam("b_owner"), lease_until=bindparam("b_lease"),
        attempts=_POSTS.c.attempts + bindparam("b_attempt"),
    )
    .returning(_POSTS.c.id)
)
_LOCK = Prepared(select(func.pg_advisory_xact_lock(bindparam("b_key", type_=BigInteger()))))
# The answer of a post that went out: `delivery.finish(..., "sent")` and `_remember_topic_ids`.
_SENT = Prepared(
    update(_POSTS)
    .where(_POSTS.c.id == bindparam("b_id"))
    .values(status="sent", owner=None, lease_until=None, sent_at=bindparam("b_now"), error=None)
)
_TOPIC_MESSAGE = Prepared(
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values(topic_message_id=bindparam("b_topic_message"))
)


async def recover_inflight(ctx: BotContext) -> int:
    """Posts a dead process left: claimed ones go back to the queue; ones on the wire (maybe
    posted, maybe not) become `uncertain` and are never repeated."""
    async with ctx.db.begin() as session:
        requeued, uncertain = await delivery.recover(
            session, QUEUE, now=ctx.clock.now(), everything=ctx.single_process,
            lost={"status": "uncertain", "error": "on the wire when its process stopped; not repeated"},
        )
    if uncertain:
        log.warning("%d staff-group posts were on the wire at the last stop; not repeated", uncertain)
    if requeued:
        log.info("%d claimed staff-group posts put back in the queue", requeued)
    return uncertain


async def run_group_posts(ctx: BotContext) -> None:
    """One drain task per group with due posts. A drain stays a while after its queue ran dry
    and is kicked by every wake-up, so a new post is claimed by the drain at once (no look for
    groups with due posts first); the look runs when no drain is alive and every few seconds."""
    await recover_inflight(ctx)
    running: dict[int, asyncio.Task[None]] = {}
    kicks: dict[int, asyncio.Event] = {}
    next_recovery = time.monotonic() + 10
    look = True
    while not ctx.stop.is_set():
        alive = {group for group, task in running.items() if not task.done()}
        for group in alive:
            kicks[group].set()
        if look or not alive:
            async with ctx.db() as session:
                groups = (
                    (
                        await session.execute(
                            select(GroupPost.group_chat_id)
                            .where(GroupPost.status == "queued")
                            .where(
                                (GroupPost.not_before.is_(None)) | (GroupPost.not_before <= ctx.clock.now())
                            )
                            .distinct()
                        )
                    )
                    .scalars()
                    .all()
                )
            for group in groups:
                if group not in alive:
                    kicks[group] = asyncio.Event()
                    running[group] = asyncio.create_task(
                        _drain(ctx, group, kicks[group]), name=f"group-{group}"
                    )
        if not ctx.single_process and time.monotonic() >= next_recovery:
            next_recovery = time.monotonic() + 10
            await recover_inflight(ctx)  # what a dead process left, once its leases ran out
        woke = await ctx.wait_for("group_posts", 2.0 if not ctx.single_process else 5.0)
        if woke == "stop":
            break
        look = woke == "timeout"  # woken: the live drains are kicked; a timer: look for groups
    for task in running.values():
        task.cancel()
    await asyncio.gather(*running.values(), return_exceptions=True)


DRAIN_LINGER = 10.0  # seconds a drain waits for a kick after its group's queue ran dry


@dataclass(slots=True)
class _Claim:
    """A claimed post (with what it carries) and its topic, read in the claim's transaction."""

    posts: list[Post]
    thread: int | None
    # Marked on the wire in the claim's own transaction, its send's tokens already taken: a
    # plain copy into a known topic that may go at once needs no transaction of its own for
    # the wire mark (one request, which leaves right after the commit).
    on_wire: bool = False


async def _drain(ctx: BotContext, group: int, kick: asyncio.Event | None = None) -> None:
    """Send the group's posts one after another until none is due. The transaction that
    records a post's answer also claims the next one (one commit per post, not two). With a
    `kick` event the drain then waits up to DRAIN_LINGER for a kick and claims again."""
    while not ctx.stop.is_set():
        if kick is not None:
            kick.clear()
        claim = await _claim_next(ctx, group)
        while claim is not None and not ctx.stop.is_set():
            claim = await _send_batch(ctx, claim, group)
        if claim is not None:  # stopping: what was claimed and never left goes back at once
            await _give_back(ctx, claim)
            return
        if kick is None:
            return
        try:  # a kick set while this drain was claiming is seen here at once
            await asyncio.wait_for(kick.wait(), DRAIN_LINGER)
        except TimeoutError:
            return


async def _give_back(ctx: BotContext, claim: _Claim) -> None:
    """A claim that never left goes back to the queue."""
    async with ctx.db.begin() as session:
        if claim.on_wire:
            await delivery.finish(session, QUEUE, [p.id for p in claim.posts], QUEUE.queued)
        else:
            await delivery.release(session, QUEUE, [p.id for p in claim.posts])


async def _claim(session: Any, ctx: BotContext, group: int) -> _Claim | None:
    """Claim the group's next post and what it can carry (see `_take`), with its topic.

    A customer's posts go out in order, one request at a time, whichever process sends them:
    a post is not taken while another post of the same topic is claimed or on the wire, and
    on PostgreSQL claims in one group are serialised by an advisory lock. Two reads (the next
    customer's due posts, their topic) and one update: a plain copy into a known topic whose
    token is free now is claimed straight onto the wire (see `_Claim.on_wire`). The steady
    state skips this session: see `_claim_next`."""
    now = ctx.clock.now()
    if session.bind.dialect.name == "postgresql":
        await session.execute(sql("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(group)})
    due = (
        GroupPost.group_chat_id == group,
        GroupPost.status == "queued",
        (GroupPost.not_before.is_(None)) | (GroupPost.not_before <= now),
    )
    held = (
        select(GroupPost.customer_id)
        .where(GroupPost.group_chat_id == group, GroupPost.status.in_((QUEUE.claimed, QUEUE.wire)))
        .scalar_subquery()
    )
    next_customer = (
        select(GroupPost.customer_id)
        .where(*due, GroupPost.customer_id.not_in(held))
        .order_by(GroupPost.priority, GroupPost.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = [
        _post(row)
        for row in (
            await session.execute(
                select(*_POST_COLUMNS)
                .where(*due, GroupPost.customer_id == next_customer)
                .order_by(GroupPost.priority, GroupPost.id)
                .limit(MERGE_SCAN + 1)
            )
        ).mappings()
    ]
    if not rows:
        return None
    first = rows[0]  # the group's next post: the lowest (priority, id) of its customer's too
    batch = _take(first, sorted((p for p in rows[1:] if p.id > first.id), key=lambda p: p.id))
    topic = await support.topic_of(session, customer_id=first.customer_id, group_chat_id=group)
    thread = topic.thread_id if topic is not None else None
    on_wire = thread is not None and len(batch) == 1 and first.kind == "copy" and await _token_now(ctx, group)
    ids = [p.id for p in batch]
    claimed = set(
        await delivery.claim_ids(session, QUEUE, now=now, owner=ctx.owner, ids=ids, on_wire=on_wire)
    )
    if first.id not in claimed:
        return None
    # Keep the batch's order and only what was claimed; an album or a run of texts is cut at
    # the first post another process holds.
    out: list[Post] = []
    for post in batch:
        if post.id not in claimed:
            break
        out.append(post)
    leftover = [p.id for p in batch if p.id in claimed and p not in out]
    await delivery.release(session, QUEUE, leftover)
    return _Claim(out, thread, on_wire=on_wire)


def _hot_candidate(rows: list[dict[str, Any]]) -> tuple[Post, int] | None:
    """The post `_NEXT` found, with its thread, when it goes alone as a plain copy into a known
    topic (the steady state); None when `_claim` must decide (a card, an album, texts to merge,
    an edit or notice, a topic to create).

    Two rows are enough to know that `_take` carries nothing more: the first is its customer's
    lowest (priority, id) and customer messages have the lowest priority, so when any later
    customer message is queued the second row is the one with the next id; the posts `_take`
    skips or stops at (edits, cards, notices) have higher priorities."""
    first = _post(rows[0])
    thread = rows[0]["thread_id"]
    if not HOT_PATH or thread is None or first.kind != "copy" or first.payload.get("media_group_id"):
        return None
    later = [_post(r) for r in rows[1:] if r["id"] > first.id]
    if len(_take(first, later)) != 1:
        return None
    return first, thread


async def _claim_next(
    ctx: BotContext, group: int, record: list[Step] | None = None, sent: int = 0
) -> _Claim | None:
    """The group's next claim, after committing `record` (the hot steps that record the answer
    of post `sent`, on the wire until then) in the same transaction.

    The steady state (see `_hot_candidate`) is one hot read and one hot write (the record and
    the claim's conditional update); anything else is `_claim` in a session. An error before
    `record` is committed propagates (the caller records it alone); one after is logged and
    ends the claim (the worker's next look starts the drain again)."""
    now = ctx.clock.now()
    rows = await ctx.db.fetch(_NEXT, {"b_group": group, "b_now": now, "b_self": sent})
    if not rows:
        if record:
            await ctx.db.write(record)
        return None
    found = _hot_candidate(rows)
    if found is None:
        async with ctx.db.begin() as session:
            for prepared, params in record or ():
                await session.execute(prepared.stmt, dict(params))
            return await _claim(session, ctx, group)
    post, thread = found
    on_wire = await _token_now(ctx, group)
    steps = list(record or ())
    if ctx.db.dialect_name == "postgresql":
        steps.append((_LOCK, {"b_key": _lock_key(group)}))
    steps.append((_CLAIM_ONE, {
        "b_id": post.id, "b_group": group, "b_customer": post.customer_id, "b_priority": post.priority,
        "b_now": now, "b_status": QUEUE.wire if on_wire else QUEUE.claimed, "b_owner": ctx.owner,
        "b_lease": now + DEFAULT_LEASE, "b_attempt": 1 if on_wire else 0,
    }))
    # A group commit goes ahead when its caller is cancelled (stopping): then what it claimed
    # never leaves and goes back to the queue before the task ends.
    write = asyncio.ensure_future(ctx.db.write(steps))
    try:
        results = await asyncio.shield(write)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            if (await write)[-1]:
                await _give_back(ctx, _Claim([post], thread, on_wire=on_wire))
        raise
    if results[-1]:
        return _Claim([post], thread, on_wire=on_wire)
    # Taken meanwhile (another claimer, a post of the customer that became due): ask again,
    # under the claim's own rules.
    try:
        async with ctx.db.begin() as session:
            return await _claim(session, ctx, group)
    except Exception:
        if record is None:
            raise
        log.exception("claiming the next post of group %s failed", group)
        return None


async def _token_now(ctx: BotContext, group: int) -> bool:
    """Whether a post into `group` may go now (its tokens are then taken)."""
    if ctx.gate is None:
        return True
    return (await ctx.gate.acheck(group, Lane.LIVE)).wait <= 0


def _lock_key(group: int) -> int:
    return (0x5350 << 48) ^ (group & 0xFFFFFFFFFFFF)


def _is_plain_text(post: Post) -> bool:
    return (
        post.kind == "copy"
        and post.priority == PRIORITY_CUSTOMER
        and post.payload.get("kind") == "text"
        and bool(post.payload.get("text"))
        and not post.payload.get("media_group_id")
    )


def _take(first: Post, later: list[Post]) -> list[Post]:
    """The next post, plus the queued posts of the same topic it can share one message with
    (`later`: the customer's due posts after it, in order).

    Looks at the customer's whole queue in this group (not a window of the group's queue), so
    under a backlog each topic gets one post per turn: an album goes in one copyMessages call,
    consecutive plain texts are merged into one post, and a card carries the texts queued right
    behind it. What fits is decided by Telegram's own count (UTF-16 units) when the post is
    rendered; the rest stays queued for the next turn.
    """
    if first.kind not in ("copy", "card"):
        return [first]
    group_id = first.payload.get("media_group_id") if first.kind == "copy" else None
    if group_id:  # an album goes in one copyMessages call
        return [
            first,
            *(p for p in later if p.kind == "copy" and p.payload.get("media_group_id") == group_id),
        ]
    if first.kind == "copy" and not _is_plain_text(first):
        return [first]
    batch = [first]
    for post in later:
        if post.kind in ("edit",):
            continue  # an edit of an earlier post does not break the run of texts
        if not _is_plain_text(post) or post.case_id != first.case_id:
            break
        batch.append(post)
    return batch


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


async def _mark(ctx: BotContext, posts: list[Post], status: str, **values: Any) -> None:
    async with ctx.db.begin() as session:
        await delivery.finish(session, QUEUE, [p.id for p in posts], status, **values)


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
        async with self.ctx.db.begin() as session:
            marked = await delivery.mark_wire(session, QUEUE, ids, owner=self.ctx.owner)
        if marked != set(ids):
            # Not sent: what we did mark goes back to the queue (it never reached the wire).
            async with self.ctx.db.begin() as session:
                await delivery.finish(session, QUEUE, sorted(marked), QUEUE.queued)
            raise LeaseLost(f"staff posts {sorted(set(ids) - marked)} are no longer ours")
        self.on = True


async def _send_batch(ctx: BotContext, claim: _Claim, group: int) -> _Claim | None:
    """Send one claimed post; returns the next claim when the answer's transaction made one."""
    posts = claim.posts
    wire = _Wire(ctx, posts, claim.thread, on=claim.on_wire)
    try:
        covered = await _deliver(ctx, posts, wire)
    except asyncio.CancelledError:
        if not wire.on:  # stopping while it waited for its turn: back to the queue at once
            await _release_unsent(ctx, posts, [])
        raise
    except LeaseLost as exc:
        log.warning("%s", exc)
        return None
    except Exception as exc:
        await _failed(ctx, posts, wire, exc)
        return None
    rest = [p.id for p in posts if p not in covered]
    done = [p.id for p in covered]
    if HOT_PATH and len(posts) == 1 and covered == posts and not wire.after:
        # The steady state: the answer's record and the next claim as hot statements.
        steps: list[Step] = [(_SENT, {"b_id": posts[0].id, "b_now": ctx.clock.now()}), *wire.steps]
        try:
            if ctx.stop.is_set():
                await ctx.db.write(steps)
                return None
            return await _claim_next(ctx, group, steps, sent=posts[0].id)
        except Exception:
            log.exception("claiming the next post of group %s failed", group)
            await ctx.db.write(steps)  # not committed: what was sent is recorded alone
            return None

    async def record(session: Any) -> None:
        await delivery.release(session, QUEUE, rest)  # what did not fit goes back to the queue
        await delivery.finish(session, QUEUE, done, "sent", sent_at=ctx.clock.now(), error=None)
        for action in wire.after:
            await action(session)
        for prepared, params in wire.steps:
            await session.execute(prepared.stmt, dict(params))

    try:
        async with ctx.db.begin() as session:
            await record(session)
            if ctx.stop.is_set():
                return None
            return await _claim(session, ctx, group)
    except Exception:
        # The next claim failed (a bad row, the database): what was sent is recorded alone,
        # the drain ends and the worker's next look starts it again.
        log.exception("claiming the next post of group %s failed", group)
        async with ctx.db.begin() as session:
            await record(session)
        return None


async def _failed(ctx: BotContext, posts: list[Post], wire: _Wire, exc: Exception) -> None:
    """Telegram refused or failed the post: retried later, moved to a new topic, or failed."""
    failure = classify(exc)
    covered = wire.posts
    await _release_unsent(ctx, posts, covered)
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
            ctx, covered, "queued", attempts=attempts, error=failure.text,
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
        return await render_card(session, customer=customers_svc.view(row), case=support.case_view(case), t=t,
                                 sections=ctx.card_sections)


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
                    chat_id=group, message_thread_id=thread, text=card, parse_mode="HTML",
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


async def run_reminders(ctx: BotContext) -> None:
    """Remind staff in the topic when a case waits too long for its first reply."""
    after = timedelta(minutes=ctx.settings.support_first_reply_minutes)
    while not ctx.stop.is_set():
        async with ctx.db.begin() as session:
            await jobs.exclusive(session, "support_reminders")  # one process at a time: no double
            due = await support.due_reminders(session, clock=ctx.clock, after=after)
            for case in due:
                await support.queue_reminder(
                    session, clock=ctx.clock, case=case, waited=ctx.clock.now() - case.opened_at
                )
        if due:
            ctx.notify("group_posts")
        if await ctx.wait("support_reminders", 30):
            break
