"""The roles split into processes under a small load (issue 12): one `--role api` process serves
API reads while one `--role bot` process answers chatting customers, on PostgreSQL and Redis.
Functional only: every customer gets their answers and every API read its customer; how fast
is measured by bench/role_split.py, not here."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from sandbox import SandboxServer
from sandbox.client import SandboxClient
from tests.e2e.conftest import TOKEN
from tests.e2e.test_process import double  # noqa: F401  (the fixture)
from tests.e2e.test_scaleout import RoleProduct, redis_reachable

pytestmark = pytest.mark.postgres
REDIS_URL = "redis://127.0.0.1:6379/10"
CUSTOMERS = 8
READS = 120


async def make_key(db_url: str) -> str:
    from core import apikeys
    from core.clock import SystemClock
    from storage.db import create_engine, create_sessionmaker

    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            key, _ = await apikeys.create_api_key(
                session, clock=SystemClock(), name="e2e", scopes=["customers:read", "customers:write"]
            )
    finally:
        await engine.dispose()
    return key


async def test_api_and_bot_processes_under_load(double: SandboxServer, postgres_url: str) -> None:  # noqa: F811
    if not redis_reachable():
        pytest.skip("Redis not reachable at 127.0.0.1:6379 (start it to run this test)")
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": double.base_url,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": REDIS_URL,
        "API_PORT": "0",
        "POLLING_TIMEOUT": "1",
        "LOG_LEVEL": "WARNING",
        "BUSINESS_NAME": "Demo Shop",
    }
    api = RoleProduct(env, "api")
    await api.start()  # migrates the fresh database first
    bot = RoleProduct(env, "bot")
    await bot.start()
    tg = SandboxClient(double.base_url)
    try:
        key = await make_key(postgres_url)
        async with httpx.AsyncClient(
            base_url=api.url("HTTP API:"), headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http:
            for i in range(20):
                r = await http.put(f"/v1/customers/crm-{i}", json={"first_name": f"Shopper {i}"})
                assert r.status_code in (200, 201), r.text

            async def reads() -> list[tuple[int, str]]:
                async def one(i: int) -> tuple[int, str]:
                    await asyncio.sleep(i * 0.01)  # ~100 reads/s for a little over a second
                    r = await http.get(f"/v1/customers/crm-{i % 20}")
                    return r.status_code, r.json().get("first_name", "") if r.status_code == 200 else r.text

                return await asyncio.gather(*(one(i) for i in range(READS)))

            async def customer(i: int) -> list[str]:
                user = await tg.create_user(f"Chat{i}", language_code="en")
                sent = await tg.send_text(user["id"], "/start")
                welcome = await tg.wait_for_bot_message(user["id"], sent["message_id"], timeout=30)
                sent = await tg.send_text(user["id"], "how can I track my order?")
                answer = await tg.wait_for_bot_message(user["id"], sent["message_id"], timeout=30)
                return [welcome.get("text") or "", answer.get("text") or ""]

            results = await asyncio.gather(reads(), *(customer(i) for i in range(CUSTOMERS)))
        api_results, chats = results[0], results[1:]
        assert [status for status, _ in api_results] == [200] * READS
        assert all(name == f"Shopper {i % 20}" for i, (_, name) in enumerate(api_results))
        for welcome, answer in chats:
            assert "Demo Shop" in welcome
            assert "tracking link" in answer  # the FAQ entry "How can I track my order?"
        assert await tg.violations() == []
        calls = await tg.call_log(limit=100_000)
        assert not [c for c in calls if c["status"] == 429]
    finally:
        await tg.close()
        for proc in (bot, api):
            if proc.proc is not None and proc.proc.returncode is None:
                assert await proc.stop(signal.SIGTERM) == 0, "\n".join(proc.output)
        from redis.asyncio import Redis

        client = Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match="supportbot:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
