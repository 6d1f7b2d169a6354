"""Several real processes of one bot on PostgreSQL and Redis: `supportbot run --role bot` twice
(plus an api process), JSON logs; kill -9 the poller and the other answers within 10 s."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from sandbox import SandboxServer
from sandbox.client import SandboxClient
from tests.e2e.conftest import TOKEN
from tests.e2e.test_process import Product, double  # noqa: F401  (the fixture)

pytestmark = pytest.mark.postgres


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


class RoleProduct(Product):
    """`supportbot run --role ROLE` in a child process; ready when it prints its role."""

    def __init__(self, env: dict[str, str], role: str) -> None:
        super().__init__({**env, "PROCESS_ROLE": role})

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            if line.startswith("Role: "):
                self.ready.set()

    def logs(self) -> list[dict]:
        return [json.loads(line) for line in self.output if line.startswith("{")]

    def holds_lease(self) -> bool:
        return any(r["logger"] == "bot.leader" and "holds the lease" in r["message"] for r in self.logs())


async def test_kill_9_the_poller_and_the_other_bot_process_answers(
    tmp_path: Path,
    double: SandboxServer,  # noqa: F811
    postgres_url: str,  # noqa: F811
) -> None:
    if not redis_reachable():
        pytest.skip("Redis not reachable at 127.0.0.1:6379 (start it to run this test)")
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": double.base_url,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "API_PORT": "0",
        "POLLING_TIMEOUT": "1",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    api = RoleProduct(env, "api")
    await api.start()  # migrates the fresh database first, so the bots do not race on it
    bots = [RoleProduct(env, "bot"), RoleProduct(env, "bot")]
    for bot in bots:
        await bot.start()
    tg = SandboxClient(double.base_url)
    try:
        deadline = time.monotonic() + 10
        while sum(b.holds_lease() for b in bots) != 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert sum(b.holds_lease() for b in bots) == 1
        poller = next(b for b in bots if b.holds_lease())
        standby = next(b for b in bots if b is not poller)

        user = await tg.create_user("Anna", language_code="en")
        sent = await tg.send_text(user["id"], "/start")
        assert "Demo Shop" in (await tg.wait_for_bot_message(user["id"], sent["message_id"]))["text"]
        # LOG_FORMAT=json: every log line of the process is one JSON object.
        records = poller.logs()
        assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)

        await poller.stop(signal.SIGKILL)
        killed = time.monotonic()
        sent = await tg.send_text(user["id"], "/start")
        reply = await tg.wait_for_bot_message(user["id"], sent["message_id"], timeout=15)
        took = time.monotonic() - killed
        assert "Anna" in reply["text"]
        assert standby.holds_lease()
        assert took < 10, f"the standby answered {took:.1f} s after kill -9"
        print(f"standby answered {took:.2f} s after kill -9 of the poller")

        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{standby.url('HTTP API:')}/metrics")).text
            assert "supportbot_poller_leader 1.0" in metrics
            assert 'supportbot_telegram_sends_total{lane="live",result="ok"}' in metrics
            ready = await http.get(f"{api.url('HTTP API:')}/readyz")
            assert ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}
        assert await tg.violations() == []
    finally:
        await tg.close()
        for proc in [*bots, api]:
            if proc.proc is not None and proc.proc.returncode is None:
                assert await proc.stop(signal.SIGTERM) == 0, "\n".join(proc.output)
        from redis.asyncio import Redis

        client = Redis.from_url(env["REDIS_URL"])
        keys = [k async for k in client.scan_iter(match="supportbot:flood:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
