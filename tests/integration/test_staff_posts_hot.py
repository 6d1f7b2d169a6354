"""The staff-group worker's hot path (bot/support_worker.py: a plain copy into a known topic,
claimed and recorded with hot statements) writes the same rows as its session path, and its
conditional claim keeps the claim's rules (one post of a topic at a time, in order)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, update

from bot import sender, support_worker
from core import customers, delivery, support
from storage.models_support import GroupPost, SupportMessage

GROUPS = (-100, -200)


class FakeBot:
    """Answers every request with the next message id of its chat and, as the flood-control
    sender does, calls the block's `on_wire` right before the request "leaves"."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, int | None]] = []
        self.ids: dict[int, int] = {}

    async def __call__(self, method: Any) -> Any:
        options = sender._options.get()
        if options is not None and options.on_wire is not None:
            await options.on_wire()
        chat = method.chat_id
        self.ids[chat] = self.ids.get(chat, 500) + 1
        self.sent.append((type(method).__name__, chat, method.message_thread_id))
        return SimpleNamespace(message_id=self.ids[chat])


def make_ctx(db: Any, clock: Any, owner: str = "test:1") -> Any:
    return SimpleNamespace(
        db=db, clock=clock, owner=owner, gate=None, stop=asyncio.Event(), bot=FakeBot(), single_process=True
    )


async def seed(db: Any, clock: Any, group: int) -> dict[str, int]:
    """Two customers with a topic each in `group`, and five queued copies: c1 "a", c2 "b",
    c2 "c" (merged with "b"), c1 a photo, c1 "d". Returns the posts' ids by name."""
    ids: dict[str, int] = {}
    async with db.begin() as s:
        made = []
        for n in (1, 2):
            c, _ = await customers.touch_telegram_user(
                s, clock=clock, telegram_id=-group * 10 + n, first_name=f"C{n}"
            )
            case, _ = await support.open_case(
                s, clock=clock, customer_id=c.id, group_chat_id=group, origin="menu"
            )
            await support.set_thread(
                s, clock=clock, customer_id=c.id, group_chat_id=group, thread_id=10 + n, name=f"C{n}"
            )
            made.append((c, case))
    async with db.begin() as s:
        await s.execute(update(GroupPost).where(GroupPost.group_chat_id == group).values(status="sent"))
        for mid, (name, who, kind, text) in enumerate(
            (
                ("a", 0, "text", "a"),
                ("b", 1, "text", "b"),
                ("c", 1, "text", "c"),
                ("photo", 0, "photo", None),
                ("d", 0, "text", "d"),
            ),
            start=1,
        ):
            c, case = made[who]
            msg = SupportMessage(
                case_id=case.id,
                direction="in",
                customer_chat_id=c.telegram_id,
                customer_message_id=mid,
                group_chat_id=group,
                kind=kind,
                text=text,
                created_at=clock.now(),
            )
            s.add(msg)
            await s.flush()
            post = GroupPost(
                group_chat_id=group,
                customer_id=c.id,
                case_id=case.id,
                support_message_id=msg.id,
                priority=support.PRIORITY_CUSTOMER,
                kind="copy",
                payload={
                    "chat_id": c.telegram_id,
                    "message_id": mid,
                    "kind": kind,
                    "text": text,
                    "media_group_id": None,
                },
                status="queued",
                attempts=0,
                created_at=clock.now(),
            )
            s.add(post)
            await s.flush()
            ids[name] = post.id
    return ids


async def rows_of(db: Any, group: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async with db() as s:
        posts = (
            await s.execute(
                select(
                    GroupPost.status,
                    GroupPost.owner,
                    GroupPost.lease_until,
                    GroupPost.attempts,
                    GroupPost.not_before,
                    GroupPost.sent_at,
                    GroupPost.error,
                    GroupPost.kind,
                )
                .where(GroupPost.group_chat_id == group, GroupPost.kind == "copy")
                .order_by(GroupPost.id)
            )
        ).all()
        messages = (
            await s.execute(
                select(SupportMessage.customer_message_id, SupportMessage.topic_message_id)
                .where(SupportMessage.group_chat_id == group, SupportMessage.direction == "in")
                .order_by(SupportMessage.id)
            )
        ).all()
    return [tuple(r) for r in posts], [tuple(r) for r in messages]


async def test_the_hot_path_writes_the_same_rows_as_the_session_path(
    sessionmaker, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sessionmaker
    claims: list[int] = []
    session_claim = support_worker._claim

    async def counted(session: Any, ctx: Any, group: int) -> Any:
        claims.append(group)
        return await session_claim(session, ctx, group)

    monkeypatch.setattr(support_worker, "_claim", counted)
    sent = {}
    for group, hot in zip(GROUPS, (False, True), strict=True):
        await seed(db, clock, group)
        monkeypatch.setattr(support_worker, "HOT_PATH", hot)
        ctx = make_ctx(db, clock)
        await support_worker._drain(ctx, group)
        sent[group] = ctx.bot.sent
    # The session run claims everything in a session; the hot run only the merge of "b" and
    # "c" and the post claimed by the transaction that recorded that merge (the photo).
    assert claims.count(GROUPS[0]) == 5 and claims.count(GROUPS[1]) == 2
    assert (
        [(m, t) for m, _, t in sent[GROUPS[0]]]
        == [(m, t) for m, _, t in sent[GROUPS[1]]]
        == [
            ("CopyMessage", 11),
            ("SendMessage", 12),
            ("CopyMessage", 11),
            ("CopyMessage", 11),
        ]
    )
    session_rows, hot_rows = await rows_of(db, GROUPS[0]), await rows_of(db, GROUPS[1])
    assert session_rows == hot_rows
    posts, messages = hot_rows
    assert [p[0] for p in posts] == ["sent"] * 5
    assert all(p[1] is None and p[2] is None and p[5] == clock.now() and p[6] is None for p in posts)
    assert [p[3] for p in posts] == [1, 1, 1, 1, 1]
    assert messages == [(1, 501), (2, 502), (3, 502), (4, 503), (5, 504)]


async def claim_one(db: Any, clock: Any, post_id: int, *, owner: str = "test:1") -> bool:
    """The hot conditional claim of one post, as `_claim_next` writes it."""
    async with db() as s:
        post = (await s.execute(select(GroupPost).where(GroupPost.id == post_id))).scalar_one()
    steps: list[Any] = []
    if db.dialect_name == "postgresql":
        steps.append((support_worker._LOCK, {"b_key": support_worker._lock_key(post.group_chat_id)}))
    now = clock.now()
    steps.append(
        (
            support_worker._CLAIM_ONE,
            {
                "b_id": post.id,
                "b_group": post.group_chat_id,
                "b_customer": post.customer_id,
                "b_priority": post.priority,
                "b_now": now,
                "b_status": "sending",
                "b_owner": owner,
                "b_lease": now + timedelta(seconds=30),
                "b_attempt": 1,
            },
        )
    )
    results = await db.write(steps)
    return bool(results[-1])


async def test_the_conditional_claim_keeps_one_post_of_a_topic_at_a_time_in_order(
    sessionmaker, clock
) -> None:
    db = sessionmaker
    ids = await seed(db, clock, GROUPS[0])
    assert not await claim_one(db, clock, ids["photo"])  # "a" of the same customer is due before it
    assert await claim_one(db, clock, ids["a"])
    assert not await claim_one(db, clock, ids["a"])  # no longer queued
    assert not await claim_one(db, clock, ids["d"])  # its customer's "a" is on the wire
    async with db.begin() as s:
        await s.execute(update(GroupPost).where(GroupPost.id == ids["a"]).values(status="sent"))
        await s.execute(
            update(GroupPost)
            .where(GroupPost.id == ids["photo"])
            .values(not_before=clock.now() + timedelta(minutes=1))
        )
    assert await claim_one(db, clock, ids["d"])  # the photo waits for its retry: "d" goes first
    async with db.begin() as s:
        await s.execute(
            update(GroupPost)
            .where(GroupPost.id == ids["b"])
            .values(status="queued", not_before=clock.now() + timedelta(minutes=1))
        )
    assert not await claim_one(db, clock, ids["b"])  # not due
    async with db() as s:
        rows = {r.id: r for r in (await s.execute(select(GroupPost))).scalars()}
    assert (rows[ids["d"]].status, rows[ids["d"]].owner, rows[ids["d"]].attempts) == ("sending", "test:1", 1)
    assert rows[ids["d"]].lease_until == clock.now() + timedelta(seconds=30)
    assert rows[ids["b"]].status == "queued" and rows[ids["photo"]].status == "queued"


async def test_a_post_taken_between_the_read_and_the_claim_is_not_claimed_twice(
    sessionmaker, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another claimer takes the post after the hot read: the conditional claim claims nothing,
    and the claim is asked again in a session (which finds the other customer's post)."""
    db = sessionmaker
    ids = await seed(db, clock, GROUPS[0])
    ctx = make_ctx(db, clock)

    async def other_process_claims_first(ctx_: Any, group: int) -> bool:
        assert await claim_one(db, clock, ids["a"], owner="other:2")
        return True

    monkeypatch.setattr(support_worker, "_token_now", other_process_claims_first)
    claim = await support_worker._claim_next(ctx, GROUPS[0])
    assert claim is not None and [p.id for p in claim.posts] == [ids["b"], ids["c"]]
    assert not claim.on_wire
    async with db() as s:
        rows = {r.id: (r.status, r.owner) for r in (await s.execute(select(GroupPost))).scalars()}
    assert rows[ids["a"]] == ("sending", "other:2")
    assert rows[ids["b"]] == rows[ids["c"]] == ("claimed", "test:1")


async def test_a_claim_whose_task_is_cancelled_goes_back_to_the_queue(
    sessionmaker, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping cancels the drain while its claim's group commit is under way: the commit goes
    ahead regardless, so what it claimed (onto the wire, never sent) is put back at once."""
    db = sessionmaker
    ids = await seed(db, clock, GROUPS[0])
    ctx = make_ctx(db, clock)
    transaction, started = db.hot.transaction, asyncio.Event()
    claimed: list[Any] = []

    async def slow_transaction(steps: Any) -> Any:  # the group commit's, on the hot connection
        started.set()
        await asyncio.sleep(0.05)
        results = await transaction(steps)
        claimed.append(results[-1])  # the claim's own rows: it did commit
        return results

    monkeypatch.setattr(db.hot, "transaction", slow_transaction)
    task = asyncio.create_task(support_worker._claim_next(ctx, GROUPS[0]))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    if db._committer is not None:
        await db._committer  # the group commit the cancelled claim queued has run
    async with db() as s:
        post = (await s.execute(select(GroupPost).where(GroupPost.id == ids["a"]))).scalar_one()
    assert claimed and claimed[0]  # the claim went ahead although its caller was cancelled...
    assert (post.status, post.owner, post.lease_until) == ("queued", None, None)  # ...and was given back


@pytest.mark.parametrize("hot", [True, False])
async def test_a_post_with_a_bad_payload_is_failed_with_its_reason_and_the_group_goes_on(
    sessionmaker, clock, monkeypatch: pytest.MonkeyPatch, hot: bool
) -> None:
    """A row whose payload is not a JSON object (written by hand, an old version) used to kill
    the group's drain at every look, so nothing after it in the group was ever posted."""
    db = sessionmaker
    monkeypatch.setattr(support_worker, "HOT_PATH", hot)
    group = GROUPS[0]
    ids = await seed(db, clock, group)
    async with db.begin() as s:
        await s.execute(update(GroupPost).where(GroupPost.id == ids["a"]).values(payload="not an object"))
    ctx = make_ctx(db, clock)
    await support_worker._drain(ctx, group)
    posts, _ = await rows_of(db, group)
    assert [p[0] for p in posts] == ["failed", "sent", "sent", "sent", "sent"]
    assert "payload is str, not an object" in posts[0][6]
    assert len(ctx.bot.sent) == 3  # b+c merged, the photo, d


@pytest.mark.parametrize("hot", [False, True], ids=["session", "hot"])
async def test_a_post_whose_payload_lacks_a_key_fails_at_once_and_the_group_goes_on(
    sessionmaker, clock, monkeypatch: pytest.MonkeyPatch, hot: bool
) -> None:
    """A copy whose stored payload has no message to copy cannot be rendered: it fails at once
    with the reason (it used to be retried five times over minutes, holding its customer's
    later posts back), and the rest of the group is posted."""
    db = sessionmaker
    monkeypatch.setattr(support_worker, "HOT_PATH", hot)
    group = GROUPS[0]
    ids = await seed(db, clock, group)
    async with db.begin() as s:
        await s.execute(
            update(GroupPost).where(GroupPost.id == ids["photo"]).values(payload={"kind": "photo"})
        )
    ctx = make_ctx(db, clock)
    await support_worker._drain(ctx, group)
    await support_worker._drain(ctx, group)  # the worker's next look (a failed post ends a drain)
    posts, _ = await rows_of(db, group)
    assert [p[0] for p in posts] == ["sent", "sent", "sent", "failed", "sent"]
    assert posts[3][6] == "bad payload: KeyError: 'chat_id'"
    assert posts[3][3] == 1  # no retries
    assert len(ctx.bot.sent) == 3  # a, b+c merged, d


async def test_stopping_while_a_sent_post_is_recorded_keeps_the_record(
    sessionmaker, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drain is cancelled (the process stops) inside the transaction that records a sent
    post and claims the next: the record is committed all the same (the post is `sent` with
    where it landed, not left `sending` to become `uncertain`), and the next claim goes back."""
    db = sessionmaker
    ids = await seed(db, clock, GROUPS[0])
    monkeypatch.setattr(support_worker, "HOT_PATH", False)
    ctx = make_ctx(db, clock)
    session_claim = support_worker._claim
    inside, go = asyncio.Event(), asyncio.Event()
    calls = 0

    async def slow_second_claim(session: Any, ctx_: Any, group: int) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # the claim in the transaction that records "a" as sent
            inside.set()
            await go.wait()
        return await session_claim(session, ctx_, group)

    monkeypatch.setattr(support_worker, "_claim", slow_second_claim)
    drain = asyncio.create_task(support_worker._drain(ctx, GROUPS[0]))
    await asyncio.wait_for(inside.wait(), 10)
    drain.cancel()
    await asyncio.sleep(0.05)  # the cancellation reaches the drain while the record waits
    go.set()
    with pytest.raises(asyncio.CancelledError):
        await drain
    async with db() as s:
        rows = {r.id: r for r in (await s.execute(select(GroupPost))).scalars()}
        landed = (
            await s.execute(
                select(SupportMessage.topic_message_id).where(
                    SupportMessage.id == rows[ids["a"]].support_message_id
                )
            )
        ).scalar_one()
    assert [m for m, _, _ in ctx.bot.sent] == ["CopyMessage"]  # only "a" left
    assert rows[ids["a"]].status == "sent" and landed == 501
    assert {rows[i].status for i in (ids["b"], ids["c"], ids["photo"], ids["d"])} == {"queued"}
    assert all(rows[i].owner is None for i in (ids["b"], ids["c"]))


async def test_stopping_while_posts_are_marked_on_the_wire_puts_them_back(
    sessionmaker, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drain is cancelled right after the wire mark of a merged post ("b" + "c") has
    committed, before the request leaves: the posts go back to the queue instead of staying
    `sending` (which recovery would report `uncertain` though Telegram never had them)."""
    db = sessionmaker
    ids = await seed(db, clock, GROUPS[0])
    monkeypatch.setattr(support_worker, "HOT_PATH", False)
    inside, go = asyncio.Event(), asyncio.Event()

    class SlowAfterCommit:
        """The database, but the transaction of the wire mark returns late after its commit."""

        armed = False

        def __getattr__(self, name: str) -> Any:
            return getattr(db, name)

        def __call__(self) -> Any:
            return db()

        @contextlib.asynccontextmanager
        async def begin(self) -> Any:
            async with db.begin() as session:
                yield session
            if self.armed:
                self.armed = False
                inside.set()
                await go.wait()

    slow = SlowAfterCommit()
    real_mark = delivery.mark_wire

    async def arming_mark(session: Any, table: Any, post_ids: Any, *, owner: str) -> set[int]:
        slow.armed = True
        return await real_mark(session, table, post_ids, owner=owner)

    monkeypatch.setattr(delivery, "mark_wire", arming_mark)
    ctx = make_ctx(slow, clock)
    drain = asyncio.create_task(support_worker._drain(ctx, GROUPS[0]))
    await asyncio.wait_for(inside.wait(), 10)
    drain.cancel()
    await asyncio.sleep(0.05)
    go.set()
    with pytest.raises(asyncio.CancelledError):
        await drain
    async with db() as s:
        rows = {r.id: r for r in (await s.execute(select(GroupPost))).scalars()}
    assert [m for m, _, _ in ctx.bot.sent] == ["CopyMessage"]  # "a" only (claimed onto the wire)
    assert rows[ids["a"]].status == "sent"
    assert [(rows[i].status, rows[i].owner) for i in (ids["b"], ids["c"])] == [("queued", None)] * 2


async def test_a_post_waiting_long_for_its_turn_keeps_its_lease(
    sessionmaker, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a claimed post waits (here: its request hangs), the worker renews the leases of
    what it holds, so another process does not take the post over when 30 s have passed."""
    db = sessionmaker
    ids = await seed(db, clock, GROUPS[0])
    monkeypatch.setattr(support_worker, "LEASE_EVERY", 0.0)
    ctx = make_ctx(db, clock)
    ctx.single_process = False
    ctx.notify = lambda name: None

    async def wait_for(name: str, seconds: float) -> str:
        await asyncio.sleep(0.01)
        return "stop" if ctx.stop.is_set() else "timeout"

    ctx.wait_for = wait_for
    hanging, release = asyncio.Event(), asyncio.Event()
    bot = ctx.bot

    async def hanging_bot(method: Any) -> Any:
        hanging.set()
        await release.wait()
        return await bot(method)

    ctx.bot = hanging_bot
    worker = asyncio.create_task(support_worker.run_group_posts(ctx))
    await asyncio.wait_for(hanging.wait(), 10)

    async def lease_of_a() -> Any:
        async with db() as s:
            return (
                await s.execute(select(GroupPost.lease_until).where(GroupPost.id == ids["a"]))
            ).scalar_one()

    first = await lease_of_a()
    assert first == clock.now() + timedelta(seconds=30)
    clock.advance(seconds=25)
    for _ in range(200):
        if await lease_of_a() == clock.now() + timedelta(seconds=30):
            break
        await asyncio.sleep(0.02)
    assert await lease_of_a() == clock.now() + timedelta(seconds=30)  # renewed: still ours at 30 s
    ctx.stop.set()
    release.set()
    await asyncio.wait_for(worker, 10)
