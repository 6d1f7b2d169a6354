"""Several processes share one database's update inbox (PostgreSQL).

Each "process" is an Inbox with its own owner id and a dispatcher that records what it
handled. Updates of 30 chats arrive at random processes (webhooks behind a load balancer):
every update is handled exactly once, one chat's updates in order and never by two processes
at the same time, and chats are spread over the processes. A process that dies holding a chat
hands it over once its lease lapses.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from sqlalchemy import select

from bot.inbox import Inbox
from bot.inbox_statements import MARK_DONE
from core import telemetry
from core.clock import SystemClock
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import InboxUpdate

pytestmark = pytest.mark.postgres


class Recorder:
    """Stands in for aiogram's Dispatcher: records (process, update) and checks chat exclusivity."""

    def __init__(self, name: str, log: list[tuple[str, int, int]], busy: dict[int, str]) -> None:
        self.name, self.log, self.busy = name, log, busy

    async def feed_update(self, bot: Any, update: Any, **kwargs: Any) -> None:
        chat = update.message.chat.id
        other = self.busy.get(chat)
        assert other is None, f"chat {chat} handled by {other} and {self.name} at once"
        self.busy[chat] = self.name
        await asyncio.sleep(random.uniform(0, 0.01))
        self.log.append((self.name, chat, update.update_id))
        del self.busy[chat]


def payload(update_id: int, chat: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1,
            "text": f"m{update_id}",
            "chat": {"id": chat, "type": "private", "first_name": "C"},
            "from": {"id": chat, "is_bot": False, "first_name": "C"},
        },
    }


async def until(done: Any, seconds: float, what: Any) -> None:
    """Wait until `done()` holds; fail with `what()` after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not done():
        assert loop.time() < deadline, what()
        await asyncio.sleep(0.05)


@pytest.fixture
async def pg_db(postgres_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(postgres_url)
    await migrate.upgrade(engine)
    yield create_sessionmaker(engine)
    await engine.dispose()


def inbox(
    db: Any, name: str, log: list[tuple[str, int, int]], busy: dict[int, str], lease: float = 15.0
) -> Inbox:
    return Inbox(
        bot=None,
        dispatcher=Recorder(name, log, busy),
        sessionmaker=db,  # type: ignore[arg-type]
        clock=SystemClock(),
        workers=8,
        shared=True,
        owner=name,
        lease_seconds=lease,
    )


async def test_each_update_once_in_chat_order_across_three_processes(pg_db) -> None:  # type: ignore[no-untyped-def]
    log: list[tuple[str, int, int]] = []
    busy: dict[int, str] = {}
    stop = asyncio.Event()
    procs = [inbox(pg_db, f"p{i}", log, busy) for i in range(3)]
    for p in procs:
        p.start_shared(stop)
    rng = random.Random(5)
    chats = [1000 + i for i in range(30)]
    sent: dict[int, list[int]] = {c: [] for c in chats}
    update_id = 1
    for _ in range(8):  # 8 rounds of one message per chat, delivered to random processes
        batch = []
        for chat in chats:
            sent[chat].append(update_id)
            batch.append(rng.choice(procs).accept(payload(update_id, chat)))
            update_id += 1
        await asyncio.gather(*batch)
    await until(lambda: len(log) >= 240, 30, lambda: f"{len(log)} of 240 handled")
    await asyncio.sleep(0.3)
    stop.set()
    for p in procs:
        await p.close()
    handled = [u for _, _, u in log]
    assert sorted(handled) == list(range(1, 241))  # each exactly once
    for chat in chats:
        assert [u for _, c, u in log if c == chat] == sent[chat]  # in order
    assert len({name for name, _, _ in log}) == 3  # the work was shared
    async with pg_db() as session:
        statuses = set((await session.execute(select(InboxUpdate.status))).scalars())
    assert statuses == {"done"}


async def test_a_dead_process_chats_are_taken_over_after_the_lease(pg_db) -> None:  # type: ignore[no-untyped-def]
    log: list[tuple[str, int, int]] = []
    busy: dict[int, str] = {}
    stop = asyncio.Event()
    dead = inbox(pg_db, "dead", log, busy, lease=2.0)
    # The dead process stored an update and took the chat, then died before handling it.
    await dead.store([payload(1, 7)])
    assert await dead._acquire("7")
    alive = inbox(pg_db, "alive", log, busy, lease=2.0)
    alive.start_shared(stop)
    await alive.accept(payload(2, 7))  # arrives while the dead process still holds the chat
    await asyncio.sleep(1.0)
    assert log == []  # the lease is still valid: nobody else touches the chat
    await until(lambda: len(log) >= 2, 10, lambda: log)
    stop.set()
    await alive.close()
    assert [u for _, _, u in log] == [1, 2] and {n for n, _, _ in log} == {"alive"}


async def test_a_chat_waiting_for_a_busy_process_worker_is_handled_by_another_process(pg_db) -> None:  # type: ignore[no-untyped-def]
    """A chat takes its lease only once one of its process's workers is free: a busy process
    does not sit on the chats queued behind its backlog. Process A's only worker is stuck on
    chat 1; chat 2's first update is queued there, its second reaches process B, which handles
    both at once, in order (before, A held chat 2 from the moment it stored it, and B waited)."""
    log: list[tuple[str, int, int]] = []
    release = asyncio.Event()

    class Stuck(Recorder):
        async def feed_update(self, bot: Any, update: Any, **kwargs: Any) -> None:
            if update.message.chat.id == 1:
                await release.wait()
            self.log.append((self.name, update.message.chat.id, update.update_id))

    stop = asyncio.Event()
    a = inbox(pg_db, "a", log, {})
    a.dp = Stuck("a", log, {})
    a._sem = asyncio.Semaphore(1)
    b = inbox(pg_db, "b", log, {})
    leases = telemetry.value("supportbot_inbox_chat_leases_total", outcome="busy") or 0.0
    try:
        await a.accept(payload(1, 1))  # A's one worker waits on this
        await asyncio.sleep(0.2)
        await a.accept(payload(2, 2))  # queued behind it, on A
        await b.accept(payload(3, 2))
        await until(lambda: len(log) >= 2, 5, lambda: log)
        assert log == [("b", 2, 2), ("b", 2, 3)]
    finally:
        release.set()
        assert await a.drain(10) and await b.drain(10)
        stop.set()
        await a.close()
        await b.close()
    # A found chat 2 done when its worker came free: nothing handled twice, no lease waited on
    assert sorted(u for _, _, u in log) == [1, 2, 3]
    assert (telemetry.value("supportbot_inbox_chat_leases_total", outcome="busy") or 0.0) == leases


async def test_the_sweeper_leaves_a_live_process_queued_chats_alone(pg_db) -> None:  # type: ignore[no-untyped-def]
    """Pending updates younger than a lease belong to a live process's backlog (its chats wait
    for a worker without a lease): another process's sweeper does not take them up."""
    log: list[tuple[str, int, int]] = []
    stop = asyncio.Event()
    a = inbox(pg_db, "a", log, {}, lease=3.0)
    await a.store([payload(1, 5)])  # stored by A, waiting for one of A's workers
    b = inbox(pg_db, "b", log, {}, lease=3.0)
    swept = telemetry.value("supportbot_inbox_swept_total") or 0.0
    b.start_shared(stop)
    try:
        await asyncio.sleep(2.2)  # two sweeps: a one-second threshold took it here
        assert log == [] and (telemetry.value("supportbot_inbox_swept_total") or 0.0) == swept
        # a lease old, it is nobody's (A died, say): taken up
        await until(lambda: bool(log), 5, lambda: "the sweeper never took the chat up")
        assert log == [("b", 5, 1)]
        assert (telemetry.value("supportbot_inbox_swept_total") or 0.0) == swept + 1
    finally:
        stop.set()
        await b.close()


async def test_a_wake_up_reaches_the_other_processes(postgres_url: str) -> None:
    from storage.notify import PgWakeBridge

    heard: list[frozenset[str]] = []
    a = PgWakeBridge(postgres_url, lambda names: None)
    b = PgWakeBridge(postgres_url, heard.append)
    a.start()
    b.start()
    try:
        await asyncio.wait_for(asyncio.gather(a.connected.wait(), b.connected.wait()), 10)
        a.publish(frozenset({"outbox", "engagement"}))
        await until(lambda: bool(heard), 2, lambda: "process B never heard the wake-up")
        assert heard[0] == frozenset({"outbox", "engagement"})
    finally:
        await a.stop()
        await b.stop()


async def test_an_update_whose_done_mark_failed_comes_back_as_a_replay(pg_db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The database refuses the transaction that marks an update done: the update stays
    pending and the sweeper brings it back to the same process, which must handle it as a
    replay (its sends were journaled: not repeated), not as a new update."""
    seen: list[tuple[int, bool]] = []

    class Replays(Recorder):
        async def feed_update(self, bot: Any, update: Any, **kwargs: Any) -> None:
            seen.append((update.update_id, bool(kwargs.get("replayed_update"))))

    stop = asyncio.Event()
    proc = Inbox(
        bot=None,
        dispatcher=Replays("p", [], {}),
        sessionmaker=pg_db,
        clock=SystemClock(),
        workers=8,
        shared=True,
        owner="p",
        lease_seconds=2.0,
    )
    write, failed = pg_db.write, []

    async def done_mark_fails_once(steps: Any, **kwargs: Any) -> Any:
        if not failed and any(prepared is MARK_DONE for prepared, _ in steps):
            failed.append(True)
            raise RuntimeError("the database went away")
        return await write(steps, **kwargs)

    monkeypatch.setattr(pg_db, "write", done_mark_fails_once)
    proc.start_shared(stop)
    await proc.accept(payload(1, 7))
    await until(lambda: len(seen) >= 2, 15, lambda: seen)
    stop.set()
    await proc.close()
    assert failed and seen[:2] == [(1, False), (1, True)]
    async with pg_db() as session:
        assert (await session.execute(select(InboxUpdate.status))).scalars().all() == ["done"]
