"""Posts into staff groups, within Telegram's ~20 messages per minute per group.

Customer messages, cards, edits and notices are rows in `group_posts`; this worker sends them
per group in priority order (customer messages first), merges queued plain texts of one topic
into one post when there is a backlog (and folds a new customer's first texts into the card
post), creates the customer's forum topic on first use and recreates it if staff deleted it.
Lengths are Telegram's (UTF-16 units): what does not fit is split or left for the next post,
never dropped. A post that cannot be sent now stays queued with a back-off. A post is marked
`sending` only when its request leaves (not while it waits for the group's budget); one that
was on the wire when the process died is not sent again (it is marked `uncertain`, and staff
get a notice in the topic with the customer's text), so a restart never relays anything twice
and a kill while waiting loses nothing.

Parts in their own modules (issue 14): the rows and the hot statements in
bot/staff_posts_hot.py, sending one post in bot/staff_posts_send.py, a refused or failed post in
bot/staff_posts_failures.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.context import BotContext
from bot.staff_posts_failures import _failed_or_requeued, _release_unsent
from bot.staff_posts_hot import (
    _CLAIM_ONE,
    _LOCK,
    _NEXT,
    _POST_COLUMNS,
    _SENT,
    QUEUE,
    BadPost,
    Post,
    _lock_key,
    _post,
)
from bot.staff_posts_send import LeaseLost, _deliver, _Wire
from core import delivery, jobs, support
from core.delivery.queue import DEFAULT_LEASE
from core.ratelimit import Lane
from core.support import PRIORITY_CUSTOMER
from storage.dialect import is_postgres
from storage.hot import Step
from storage.models_support import GroupPost

log = logging.getLogger(__name__)
MERGE_SCAN = 200  # queued posts of one customer looked at for merging
HOT_PATH = True  # the steady state as hot statements (False: every claim and record in a session)
LEASE_EVERY = 10.0  # seconds between renewals of this process's claims (leases last 30 s)


async def recover_inflight(ctx: BotContext) -> int:
    """Posts a dead process left: claimed ones go back to the queue; ones on the wire (maybe
    posted, maybe not) become `uncertain` and are never repeated, and staff get a notice in the
    topic for each customer message or card among them (with the customer's text)."""
    gone: list[tuple[int, int]] = []
    async with ctx.db.begin() as session:
        requeued, uncertain = await delivery.recover(
            session,
            QUEUE,
            now=ctx.clock.now(),
            everything=ctx.single_process,
            lost={"status": "uncertain", "error": "on the wire when its process stopped; not repeated"},
            lost_rows=gone,
        )
        notices = await support.notify_uncertain(session, clock=ctx.clock, post_ids=[i for i, _ in gone])
    if uncertain:
        log.warning(
            "%d staff-group posts were on the wire at the last stop; not repeated (%d notices to staff)",
            uncertain,
            notices,
        )
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
    next_lease = time.monotonic() + LEASE_EVERY
    look = True
    while not ctx.stop.is_set():
        alive = {group for group, task in running.items() if not task.done()}
        for group in alive:
            kicks[group].set()
        if alive and time.monotonic() >= next_lease:
            # A post that waits long for its turn (a 429's retry_after, the group's 20 a
            # minute) stays ours: without this, its lease would lapse and another process
            # would take it over (our wire mark then refuses to send it: no double, a delay).
            next_lease = time.monotonic() + LEASE_EVERY
            try:
                async with ctx.db.begin() as session:
                    await delivery.renew(session, QUEUE, owner=ctx.owner, now=ctx.clock.now())
            except Exception:
                log.exception("renewing the staff-group posts' leases failed; next look tries again")
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
        try:
            claim = await _claim_next(ctx, group)
        except BadPost as bad:  # skipped, marked with its reason; the group's queue goes on
            log.error("%s; marked failed", bad)
            async with ctx.db.begin() as session:
                await delivery.finish(session, QUEUE, [bad.post_id], "failed", error=bad.reason[:500])
            continue
        except Exception:  # the database: the worker's next look starts this drain again
            log.exception("claiming the next post of group %s failed", group)
            return
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
    if is_postgres(session):
        await session.execute(_LOCK.stmt, {"b_key": _lock_key(group)})
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
    if first.id not in claimed:  # what was claimed behind it goes back at once
        await delivery.release(session, QUEUE, sorted(claimed))
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
    locked = ctx.db.dialect_name == "postgresql"
    if locked:
        steps.append((_LOCK, {"b_key": _lock_key(group)}))
    steps.append(
        (
            _CLAIM_ONE,
            {
                "b_id": post.id,
                "b_group": group,
                "b_customer": post.customer_id,
                "b_priority": post.priority,
                "b_now": now,
                "b_status": QUEUE.wire if on_wire else QUEUE.claimed,
                "b_owner": ctx.owner,
                "b_lease": now + DEFAULT_LEASE,
                "b_attempt": 1 if on_wire else 0,
            },
        )
    )
    # A group commit goes ahead when its caller is cancelled (stopping): then what it claimed
    # never leaves and goes back to the queue before the task ends.
    # (With the group's advisory lock, in a transaction of its own: in a shared commit locks
    # would be taken in batch order and two processes could deadlock.)
    write = asyncio.ensure_future(ctx.db.write(steps, alone=locked))
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
        await _failed_or_requeued(ctx, posts, wire, exc)
        return None
    rest = [p.id for p in posts if p not in covered]
    done = [p.id for p in covered]
    if HOT_PATH and len(posts) == 1 and covered == posts and not wire.after:
        # The steady state: the answer's record and the next claim as hot statements.
        steps: list[Step] = [(_SENT, {"b_id": posts[0].id, "b_now": ctx.clock.now()}), *wire.steps]

        async def hot_record_and_claim() -> _Claim | None:
            try:
                if ctx.stop.is_set():
                    await ctx.db.write(steps)
                    return None
                return await _claim_next(ctx, group, steps, sent=posts[0].id)
            except Exception:
                log.exception("claiming the next post of group %s failed", group)
                await ctx.db.write(steps)  # not committed: what was sent is recorded alone
                return None

        return await _recorded_even_if_stopped(ctx, hot_record_and_claim())

    async def record(session: Any) -> None:
        await delivery.release(session, QUEUE, rest)  # what did not fit goes back to the queue
        await delivery.finish(session, QUEUE, done, "sent", sent_at=ctx.clock.now(), error=None)
        for action in wire.after:
            await action(session)
        for prepared, params in wire.steps:
            await session.execute(prepared.stmt, dict(params))

    async def record_and_claim() -> _Claim | None:
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

    return await _recorded_even_if_stopped(ctx, record_and_claim())


async def _recorded_even_if_stopped(ctx: BotContext, work: Awaitable[_Claim | None]) -> _Claim | None:
    """Run `work` (a sent post's record and the next claim) to its end even when the drain is
    cancelled meanwhile (stopping): cancelled inside its transaction it would roll back, and a
    post Telegram has would become `uncertain` with where it landed lost. What it claimed then
    goes back at once."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            claimed = await task
            if claimed is not None:
                await _give_back(ctx, claimed)
        raise


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
