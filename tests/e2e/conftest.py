"""End-to-end: the real product (bot + HTTP API in one runtime) over HTTP against the double."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from core.settings import Settings
from sandbox import SandboxServer, SandboxState
from sandbox.client import SandboxClient
from sandbox.limits import FloodConfig
from supportbot.runtime import Runtime

TOKEN = "1234567890:AAE2eTestTokenABCDEFGHIJKLMNOPQRSTUV"


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    # Telegram's limits, except 120 posts/min per group (Telegram: 20) so that staff-group
    # traffic in tests does not wait minutes; the product is set to 60/min to stay under it.
    server = SandboxServer(
        SandboxState(), flood_config=FloodConfig(group_per_minute=120), validate_responses=True
    )
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


@pytest.fixture
async def tg(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    client = SandboxClient(sandbox.base_url)
    yield client
    await client.close()


@pytest.fixture
def make_settings(sandbox: SandboxServer, tmp_path) -> Callable[..., Settings]:  # type: ignore[no-untyped-def]
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "bot_token": TOKEN,
            "telegram_api_url": sandbox.base_url,
            "database_url": f"sqlite+aiosqlite:///{tmp_path}/e2e.sqlite3",
            "api_port": 0,
            "polling_timeout": 2,
            "business_name": "Demo Shop",
            "support_group_per_minute": 60,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
async def staff(tg: SandboxClient) -> dict[str, Any]:
    """A staff forum supergroup with one support agent (the bot is an admin there)."""
    await tg.set_bot(token=TOKEN)
    agent = await tg.create_user("Olga", last_name="Support", language_code="en")
    group = await tg.create_forum_group(
        "Support", members=[{"user_id": agent["id"], "status": "administrator"}]
    )
    return {"group_id": group["id"], "agent_id": agent["id"]}


@pytest.fixture
async def product(make_settings: Callable[..., Settings], staff: dict[str, Any]) -> AsyncIterator[Runtime]:
    runtime = Runtime(make_settings(support_chat_id=staff["group_id"]))
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
async def api(product: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the product's API with an all-scopes key."""
    from core import apikeys

    async with product.db.begin() as session:
        key, _ = await apikeys.create_api_key(session, clock=product.clock, name="e2e", scopes=["*"])
    async with httpx.AsyncClient(
        base_url=product.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
    ) as client:
        yield client


@pytest.fixture
async def no_violations(tg: SandboxClient) -> AsyncIterator[None]:
    """Every e2e test ends with zero Bot API spec violations in the double's log."""
    yield
    violations = await tg.violations()
    assert violations == [], violations


async def wait_text(
    tg: SandboxClient,
    chat_id: int,
    needle: str,
    *,
    after: int = 0,
    thread_id: int | None = None,
    timeout: float = 10.0,  # generous: `make test` runs another pytest worker beside this one
    from_bot: bool = True,
) -> dict[str, Any]:
    """Wait until a message (new or edited in place) in the chat shows `needle`."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for msg in reversed(await tg.messages(chat_id, thread_id, include_deleted=False)):
            if msg["message_id"] <= after or (from_bot and not msg.get("from_bot")):
                continue
            if needle in (msg.get("text") or msg.get("caption") or ""):
                return msg
        if loop.time() > deadline:
            shown = [m.get("text") for m in (await tg.messages(chat_id, thread_id))[-5:]]
            raise AssertionError(f"{needle!r} not shown in chat {chat_id}; last: {shown}")
        await asyncio.sleep(0.02)


async def eventually(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """Poll an async check until it returns a truthy value."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
