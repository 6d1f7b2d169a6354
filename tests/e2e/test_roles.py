"""`supportbot run --role`: api never calls Telegram, bot handles updates (one poller at a time on
PostgreSQL), worker runs only the workers; the flood limits shared through Redis in the real
send path."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.usefixtures("no_violations")


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


async def api_key(runtime: Runtime) -> str:
    from core import apikeys

    async with runtime.db.begin() as session:
        key, _ = await apikeys.create_api_key(session, clock=runtime.clock, name="e2e", scopes=["*"])
    return key


async def test_role_api_serves_the_api_and_never_calls_telegram(
    make_settings, staff, tg: SandboxClient
) -> None:
    await tg.clear_call_log()
    runtime = Runtime(make_settings(support_chat_id=staff["group_id"]), role="api")
    await runtime.start()
    try:
        key = await api_key(runtime)
        async with httpx.AsyncClient(
            base_url=runtime.api_url, timeout=10, headers={"Authorization": f"Bearer {key}"}
        ) as c:
            r = await c.put("/v1/customers/crm-1", json={"first_name": "Anna"})
            assert r.status_code in (200, 201), r.text
            assert (await c.get("/v1/customers/crm-1")).status_code == 200
            assert (await c.get("/readyz")).status_code == 200
            metrics = (await c.get("/metrics")).text
            assert 'supportbot_process_info{role="api"} 1.0' in metrics
        assert {t.get_name() for t in runtime._tasks} == {"api"}  # no polling, no workers
        await asyncio.sleep(0.5)
    finally:
        await runtime.stop()
    assert await tg.call_log() == []  # not even getMe


async def test_roles_bot_and_worker_split_the_work(make_settings, staff, tg: SandboxClient) -> None:
    """A bot process and a worker process on one database: the bot answers, the worker runs the
    workers; neither runs the other's part. With REDIS_URL (when Redis runs) the replies go
    through the Redis-shared gate."""
    extra = {}
    if redis_reachable():
        extra["redis_url"] = "redis://127.0.0.1:6379/14"
    bot = Runtime(make_settings(support_chat_id=staff["group_id"], **extra), role="bot")
    worker = Runtime(make_settings(support_chat_id=staff["group_id"], **extra), role="worker")
    await bot.start()
    await worker.start()
    try:
        bot_tasks = {t.get_name() for t in bot._tasks}
        worker_tasks = {t.get_name() for t in worker._tasks}
        assert bot_tasks == {"api", "poll"}
        assert "poll" not in worker_tasks and len(worker_tasks) > 2  # api + the workers
        user = await tg.create_user("Anna", language_code="en")
        sent = await tg.send_text(user["id"], "/start")
        welcome = await tg.wait_for_bot_message(user["id"], sent["message_id"])
        assert "Demo Shop" in welcome["text"]
        if extra:
            from core.ratelimit_redis import RedisFloodGate

            assert isinstance(bot.gate, RedisFloodGate) and bot.gate.taken["live"] >= 1
    finally:
        await worker.stop()
        await bot.stop()
        if extra:
            from redis.asyncio import Redis

            client = Redis.from_url(extra["redis_url"])
            keys = [k async for k in client.scan_iter(match="supportbot:flood:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


@pytest.mark.postgres
async def test_two_bot_processes_on_postgres_poll_one_at_a_time(
    make_settings, staff, tg: SandboxClient, postgres_url: str
) -> None:
    """Two bot processes: one holds the poller lease and answers; when it stops, the other takes
    over within 10 s and answers the next message."""
    settings = make_settings(support_chat_id=staff["group_id"], database_url=postgres_url)
    first, second = Runtime(settings, role="bot"), Runtime(settings, role="bot")
    await first.start()
    await second.start()
    stopped: list[Runtime] = []
    try:
        assert first.lease.held and not second.lease.held
        user = await tg.create_user("Anna", language_code="en")
        sent = await tg.send_text(user["id"], "/start")
        assert "Demo Shop" in (await tg.wait_for_bot_message(user["id"], sent["message_id"]))["text"]
        await first.stop()
        stopped.append(first)
        await eventually(lambda: _held(second), timeout=10)
        sent = await tg.send_text(user["id"], "/start")
        reply = await tg.wait_for_bot_message(user["id"], sent["message_id"], timeout=15)
        assert "Anna" in reply["text"]
    finally:
        for runtime in (first, second):
            if runtime not in stopped:
                await runtime.stop()


async def _held(runtime: Runtime) -> bool:
    return bool(runtime.lease.held)
