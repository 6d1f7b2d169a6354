"""Fixtures for fast flow tests (tests/flows/harness.py): `flow` is a fresh bot, database and
double per test; what does not change between tests (the migrated schema, `migrated_sqlite` in
tests/conftest.py; texts; the FAQ) is built once per pytest process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.callbacks import CallbackAnswers
from bot.context import BotContext
from bot.factory import create_bot, create_dispatcher
from bot.journal import SendJournalMiddleware
from core.clock import FrozenClock
from core.faq import FaqLibrary
from core.rules import build_rules
from core.settings import Settings
from dialogs.i18n import I18n
from sandbox.limits import FloodConfig, FloodLimiter
from sandbox.methods import BotApi
from sandbox.state import SandboxState
from storage.db import create_engine, create_sessionmaker
from storage.state import set_state
from supportbot.runtime import card_sections, customer_hooks, load_faq, main_menu
from tests.conftest import sqlite_copy
from tests.flows.harness import Flow, InProcessSession, Person

TOKEN = "1234567890:AAE2eTestTokenABCDEFGHIJKLMNOPQRSTUV"


@pytest.fixture(scope="session")
def i18n() -> I18n:
    return I18n()


@pytest.fixture(scope="session")
def faq_library() -> FaqLibrary:
    # Read-only in flow tests (nothing here teaches or approves phrasings): shared.
    return load_faq(Settings(_env_file=None).faq_dir)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    # Built once: reading the environment sources takes tens of milliseconds.
    return Settings(_env_file=None, bot_token=TOKEN, business_name="Demo Shop")


@pytest.fixture
def flow_settings() -> dict[str, Any]:
    """Override in a test module (or parametrize) to change settings for its `flow`."""
    return {}


@pytest.fixture
async def flow(
    migrated_sqlite: Path,
    tmp_path: Path,
    i18n: I18n,
    faq_library: FaqLibrary,
    base_settings: Settings,
    flow_settings: dict[str, Any],
) -> AsyncIterator[Flow]:
    database_url = sqlite_copy(migrated_sqlite, tmp_path, "flow.sqlite3")  # tests/conftest.py

    state = SandboxState()
    state.bind_token(TOKEN)
    api = BotApi(state, flood=FloodLimiter(FloodConfig(enabled=False)), validate_responses=True)
    agent = state.create_user(first_name="Olga", last_name="Support", language_code="en")
    group = state.create_group("Support", members=[{"user_id": agent.id, "status": "administrator"}])
    state.updates.clear()  # the group's my_chat_member update is not part of any flow

    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database_url": database_url,
        "support_chat_id": group.id,
        **flow_settings,
    }
    # Validated as from the environment (a copy with `update` would skip validation).
    settings = Settings.model_validate({**base_settings.model_dump(), **values})
    clock = FrozenClock()
    engine = create_engine(settings.database_url)
    db = create_sessionmaker(engine)
    callbacks = CallbackAnswers()
    # The product's request chain (press guard, sender without a gate, journal), ending in the
    # double in-process instead of aiohttp.
    session = InProcessSession(api)
    bot, _ = create_bot(
        token=TOKEN,
        api_url=None,
        gate=None,
        journal=SendJournalMiddleware(db, clock),
        answers=callbacks,
        session=session,
    )
    async with db.begin() as tx:  # as Runtime.start: the name referral links are built with
        await set_state(tx, now=clock.now(), key="bot_username", value=(await bot.get_me()).username or "")
    stop = asyncio.Event()
    rules = build_rules(settings)  # as the composition root (supportbot/runtime.py) builds them
    ctx = BotContext(
        settings=settings,
        rules=rules,
        db=db,
        clock=clock,
        bot=bot,
        i18n=i18n,
        stop=stop,
        gate=None,
        card_sections=card_sections(clock=clock, rules=rules),
        single_process=True,
    )
    dp = create_dispatcher(
        settings=settings,
        rules=rules,
        db=db,
        clock=clock,
        i18n=i18n,
        ctx=ctx,
        faq=faq_library,
        main_menu=main_menu(),
        customer_hooks=customer_hooks(),
    )
    harness = Flow(
        state=state,
        api=api,
        bot=bot,
        dp=dp,
        db=db,
        clock=clock,
        settings=settings,
        i18n=i18n,
        ctx=ctx,
        callbacks=callbacks,
        session=session,
        staff_group=group.id,
        agent=Person(agent.id, "Olga", "en"),
    )
    yield harness
    stop.set()
    await callbacks.close()
    await db.close()
    await engine.dispose()
    assert harness.violations() == [], harness.violations()


@pytest.fixture
def anna(flow: Flow) -> Person:
    return flow.user("Anna", lang="en")


@pytest.fixture
def ivan(flow: Flow) -> Person:
    return flow.user("Иван", lang="ru")
