"""Fixtures for the sandbox (Telegram Bot API double) tests."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox import SandboxServer, SandboxState  # noqa: E402
from sandbox.client import SandboxClient  # noqa: E402

TOKEN = "123456789:AAHsandboxTESTtokenABCDEFGHIJKLMNOPQ"


@pytest.fixture
async def sandbox_server() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(
        SandboxState(),
        flood_limits=False,
        validate_responses=True,
        webhook_retry_min=0.02,
        webhook_retry_max=0.1,
    )
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        problems = list(server.api.response_problems)
        await server.stop()
    # every Bot API result the sandbox produced during the test must match the spec
    assert problems == [], problems


@pytest.fixture
async def sandbox_client(sandbox_server: SandboxServer) -> AsyncIterator[SandboxClient]:
    client = SandboxClient(sandbox_server.base_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def sandbox_bot(sandbox_server: SandboxServer):
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    session = AiohttpSession(api=TelegramAPIServer.from_base(sandbox_server.base_url))
    bot = Bot(TOKEN, session=session)
    try:
        yield bot
    finally:
        await session.close()
