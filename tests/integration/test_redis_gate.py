"""The Redis-shared flood gate against the real local Redis: several gates ("processes") on one
Redis together keep Telegram's limits. Skipped with the reason when Redis is not running."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid

import pytest

from core.ratelimit import Lane, Limits
from core.ratelimit_redis import RedisFloodGate

REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/15"


def redis_reachable() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not redis_reachable(),
    reason=f"Redis not reachable at {REDIS_HOST}:{REDIS_PORT} (start it to run these tests)",
)


@pytest.fixture
async def gates():  # type: ignore[no-untyped-def]
    """Make gates sharing one bot id (a fresh one per test); all closed and their keys removed."""
    bot_id = f"test-{uuid.uuid4().hex[:8]}"
    made: list[RedisFloodGate] = []

    def make(limits: Limits = Limits()) -> RedisFloodGate:
        gate = RedisFloodGate.from_url(REDIS_URL, bot_id=bot_id, limits=limits)
        made.append(gate)
        return gate

    yield make
    if made:
        keys = [k async for k in made[0].redis.scan_iter(match=f"{made[0].prefix}:*")]
        if keys:
            await made[0].redis.delete(*keys)
    for gate in made:
        await gate.close()


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_two_processes_never_exceed_the_global_rate(gates) -> None:  # type: ignore[no-untyped-def]
    """Two gates (two processes) hammer 200 distinct chats each for ~3 s: in no 1-second window
    do they together get more than the bucket allows (rate x 1 s + burst); on average they stay
    under the rate. The in-memory gate has exactly this bound for one process."""
    limits = Limits(global_per_second=20.0, global_burst=3.0, live_reserve=0.0)
    a, b = gates(limits), gates(limits)
    granted: list[float] = []  # Redis's clock at each grant: what Telegram would see, less the network
    a.granted_at = b.granted_at = granted
    deadline = time.monotonic() + 3.0

    async def hammer(gate: RedisFloodGate, base: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            # a new private chat each time: only the global bucket limits
            await gate.acquire(base + n, Lane.LIVE)
            n += 1

    await asyncio.gather(*(hammer(g, 10_000 * i) for i, g in enumerate([a, b, a, b])))
    elapsed = max(granted) - min(granted)
    worst = max_in_any_window(granted)
    assert worst <= limits.global_per_second + limits.global_burst + 1, worst  # +1: the window's edge
    assert len(granted) <= limits.global_burst + limits.global_per_second * elapsed + 1
    assert len(granted) >= limits.global_per_second * 2.5  # and it does not starve either
    assert a.taken[Lane.LIVE] > 0 and b.taken[Lane.LIVE] > 0  # both processes sent


async def test_product_limits_hold_across_processes(gates) -> None:  # type: ignore[no-untyped-def]
    """The limits the product runs with (30/s x 0.97 margin): never above 30 in any second."""
    from core.settings import Settings

    limits = Limits.from_settings(Settings(_env_file=None))
    a, b = gates(limits), gates(limits)
    granted: list[float] = []
    a.granted_at = b.granted_at = granted
    deadline = time.monotonic() + 3.0

    async def hammer(gate: RedisFloodGate, base: int, lane: Lane) -> None:
        n = 0
        while time.monotonic() < deadline:
            await gate.acquire(base + n, lane)
            n += 1

    await asyncio.gather(
        hammer(a, 0, Lane.LIVE),
        hammer(b, 100_000, Lane.CAMPAIGN),
        hammer(a, 200_000, Lane.CAMPAIGN),
        hammer(b, 300_000, Lane.LIVE),
    )
    # The first second may also spend the initial burst; after it the bucket runs at its rate.
    steady = [t for t in granted if t >= min(granted) + 1.0]
    assert max_in_any_window(steady) <= 30, max_in_any_window(steady)
    assert max_in_any_window(granted) <= limits.global_per_second + limits.global_burst + 1


async def test_departures_are_paced_across_processes(gates) -> None:  # type: ignore[no-untyped-def]
    """Requests that took their tokens apart and reach the departure step together (one commit
    of their marks) leave paced: the product's departure window, shared by two processes in
    Redis, lets no more than 30 leave in any 30/28.8 s (so in any second with ~40 ms to spare),
    the first 5 at once; none in the paid lane is held."""
    from core.settings import Settings

    limits = Limits.from_settings(Settings(_env_file=None))
    a, b = gates(limits), gates(limits)
    left: list[float] = []
    a.departed_at = b.departed_at = left
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.5

    async def burst(gate: RedisFloodGate) -> None:
        while loop.time() < deadline:
            await gate.depart_wait(Lane.CAMPAIGN)

    await asyncio.gather(*(burst(g) for g in (a, b, a, b, a, b)))
    window = limits.depart_burst / limits.depart_per_second - 1e-5  # (slots kept to the microsecond)
    assert max_in_any_window(left, window) <= 5, max_in_any_window(left, window)
    assert max_in_any_window(left, 6 * window) <= 30, max_in_any_window(left, 6 * window)
    assert max_in_any_window(left, 1.0 + 0.04) <= 30, max_in_any_window(left, 1.04)
    span = max(left) - min(left)
    assert len(left) >= 0.9 * limits.depart_per_second * span  # and about at its pace
    assert sum(t - min(left) < 0.02 for t in left) >= 4  # the first ones at once, not one every 35 ms
    assert a.departure_waits > 0 and b.departure_waits > 0
    t = loop.time()
    for _ in range(50):
        await a.depart_wait(Lane.PAID)
    assert loop.time() - t < 1.0


async def test_per_chat_limits_are_shared(gates) -> None:  # type: ignore[no-untyped-def]
    """A private chat: a burst of 2, then ~1/s, whichever process sends. A group: 20/min."""
    # (the global bucket roomy here: this test is about the per-chat buckets)
    limits = Limits(private_burst=2, group_per_minute=20, group_burst=3, global_burst=30)
    a, b = gates(limits), gates(limits)
    assert (await a.check(42, Lane.LIVE)).wait == 0
    assert (await b.check(42, Lane.LIVE)).wait == 0
    third = await a.check(42, Lane.LIVE)
    assert third.reason == "chat" and 0 < third.wait <= 1.0
    group = -1001
    for _ in range(3):  # the group burst
        assert (await (a if _ % 2 else b).check(group, Lane.LIVE)).wait == 0
    blocked = await b.check(group, Lane.LIVE)
    assert blocked.reason == "chat" and 2.5 < blocked.wait <= 3.0  # 60 s / 20


async def test_live_goes_first_across_processes(gates) -> None:  # type: ignore[no-untyped-def]
    """While a live send in one process waits for the global bucket, another process's campaign
    sends wait too; and campaign sends always leave the live reserve."""
    limits = Limits(global_per_second=2.0, global_burst=6.0, live_reserve=3.0)
    live_proc, campaign_proc = gates(limits), gates(limits)
    # Campaign sends stop at the reserve: 6 - 3 = 3 tokens usable (no chat id: only the shared bucket).
    got = [await campaign_proc.check(None, Lane.CAMPAIGN) for _ in range(5)]
    assert [g.wait == 0 for g in got] == [True, True, True, False, False]
    assert got[-1].reason == "global"
    # ...which live replies may use at once.
    assert all([(await live_proc.check(None, Lane.LIVE)).wait == 0 for _ in range(3)])
    # Now the bucket is empty: a live send waits, and while it does campaigns yield to it.
    waiter = asyncio.create_task(live_proc.acquire(None, Lane.LIVE))
    await asyncio.sleep(0.02)
    assert (await campaign_proc.check(None, Lane.CAMPAIGN)).reason == "live"
    await asyncio.wait_for(waiter, 2.0)
    # The flag expires once nobody waits: a crashed waiter blocks nothing for long.
    await asyncio.sleep(0.4)
    grant = await campaign_proc.check(None, Lane.CAMPAIGN)
    assert grant.reason != "live"


async def test_a_429_pauses_the_lane_for_every_process(gates) -> None:  # type: ignore[no-untyped-def]
    a, b = gates(), gates()
    await a.retry_after(None, 2.0, Lane.CAMPAIGN)
    paused = await b.check(7, Lane.CAMPAIGN)
    assert paused.reason == "lane" and 1.5 < paused.wait <= 2.0
    assert (await b.check(8, Lane.LIVE)).wait == 0  # live replies go on
    # A live 429 pauses only that chat, for everyone.
    await b.retry_after(9, 3.0, Lane.LIVE)
    chat = await a.check(9, Lane.LIVE)
    assert chat.reason == "chat" and 2.5 < chat.wait <= 3.0
    assert (await a.check(10, Lane.LIVE)).wait == 0
    # The paid lane has its own pause.
    await a.retry_after(None, 1.0, Lane.PAID)
    assert (await b.check(11, Lane.PAID)).reason == "lane"
    assert (await b.check(12, Lane.CAMPAIGN)).reason == "lane"  # still the campaign pause


async def test_paid_lane_has_its_own_bucket(gates) -> None:  # type: ignore[no-untyped-def]
    limits = Limits(
        global_per_second=1.0, global_burst=1.0, live_reserve=0.0, paid_per_second=2, paid_burst=20
    )
    a, b = gates(limits), gates(limits)
    assert (await a.check(None, Lane.LIVE)).wait == 0
    assert (await b.check(None, Lane.LIVE)).reason == "global"
    assert all([(await (a, b)[i % 2].check(None, Lane.PAID)).wait == 0 for i in range(20)])
    assert (await a.check(None, Lane.PAID)).reason == "global"  # its own (paid) bucket is empty


async def test_without_redis_sends_wait_and_readiness_says_so(caplog) -> None:  # type: ignore[no-untyped-def]
    """No per-process fallback: with Redis gone, acquire keeps waiting (logged once) and
    `available` is False; when Redis is back, the send goes."""
    dead = RedisFloodGate.from_url("redis://127.0.0.1:1/0", bot_id="gone")
    try:
        with caplog.at_level(logging.ERROR, logger="core.ratelimit_redis"):
            grant = await dead.check(1, Lane.LIVE)
            assert grant.reason == "redis" and grant.wait > 0
            assert dead.available is False
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(dead.acquire(1, Lane.LIVE), 2.5)
            assert not await dead.ping()
        assert sum("Redis unreachable" in r.message for r in caplog.records) == 1
        assert dead.taken[Lane.LIVE] == 0
        # A 429 that cannot be written to Redis is still honoured by this process.
        await dead.retry_after(None, 30.0, Lane.CAMPAIGN)
        paused = await dead.check(5, Lane.CAMPAIGN)
        assert paused.reason == "lane" and 29 < paused.wait <= 30
    finally:
        await dead.close()
    # "Back": the same gate object pointed at a live Redis recovers on the next call.
    from redis.asyncio import Redis

    back = RedisFloodGate(Redis.from_url(REDIS_URL), bot_id=f"back-{uuid.uuid4().hex[:6]}")
    back.available = False
    try:
        await asyncio.wait_for(back.acquire(1, Lane.LIVE), 2.0)
        assert back.available is True
    finally:
        await back.redis.delete(*[k async for k in back.redis.scan_iter(match=f"{back.prefix}:*")])
        await back.close()
