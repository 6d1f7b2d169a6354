"""Builds the Bot (pointed at Telegram, a self-hosted Bot API server or the sandbox) and the
Dispatcher with every flow's router, in order."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from bot.callbacks import AnswerCallbackMiddleware, CallbackAnswers
from bot.errors import router as errors_router
from bot.fsm_storage import SqlStorage
from bot.journal import SendJournalMiddleware
from bot.middlewares import CustomerMiddleware, TurnMiddleware
from bot.outreach import AWAITS_REPLY, OutreachMiddleware, awaits_reply_flag
from bot.sender import DepartureMiddleware, FloodControlMiddleware
from core.clock import Clock
from core.ratelimit import FloodGate
from core.rules import Rules
from core.settings import Settings
from dialogs import exit_interview, fallback, loyalty, nps, onboarding, outreach
from dialogs.faq import handlers as faq_handlers
from dialogs.faq import staff as faq_staff
from dialogs.handoff import customer as handoff_customer
from dialogs.handoff import staff as handoff_staff
from dialogs.handoff.customer import ACTIVE_CASE, active_case_probe
from dialogs.i18n import I18n
from dialogs.menu import MainMenu
from dialogs.stats import handlers as stats_handlers
from storage.db import Database

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class KeepResponseModels(BaseRequestMiddleware):
    """Keeps aiogram's parametrized `Response[...]` classes alive.

    aiogram parses every answer with `Response[method.__returning__]`; pydantic caches such
    classes only weakly, so once collected the next request built the class again (a schema
    build, ~4% of the bot's CPU under load). One strong reference per method type fixes that.
    """

    def __init__(self) -> None:
        self._models: dict[type, Any] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if type(method) not in self._models:
            self._models[type(method)] = Response.__class_getitem__(method.__returning__)
        return await make_request(bot, method)


def create_bot(
    *,
    token: str,
    api_url: str | None,
    gate: FloodGate | None,
    journal: SendJournalMiddleware | None = None,
    answers: CallbackAnswers | None = None,
    session: BaseSession | None = None,
) -> tuple[Bot, FloodControlMiddleware]:
    """A Bot whose every request goes through the flood-control sender and the send journal
    (and, with `answers`, the one-answer-per-press guard). `session`: where requests end
    (tests/flows: the double in-process); by default aiohttp to `api_url` or Telegram."""
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    sender = FloodControlMiddleware(gate)
    if answers is not None:
        session.middleware(AnswerCallbackMiddleware(answers))
    session.middleware(KeepResponseModels())
    session.middleware(sender)
    if journal is not None:
        session.middleware(journal)  # inside the flood wait: journaled right before the wire
    session.middleware(DepartureMiddleware(gate))  # innermost: counted where requests leave
    bot = Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))
    if answers is not None:
        answers.bot = bot
    return bot, sender


def create_dispatcher(
    *,
    settings: Settings,
    rules: Rules,
    db: Database,
    clock: Clock,
    i18n: I18n,
    main_menu: MainMenu,
    shared: bool = False,
    **services: Any,
) -> Dispatcher:
    """Handlers receive every keyword given here by name (aiogram's workflow data): `settings`,
    `rules` (the composition root's bundle, core/rules.py), `db`, `clock`, `i18n`, `main_menu`
    (the menu's items, listed by the root) and `services`. `shared`: several processes handle
    this database's updates (no in-process FSM cache)."""
    dp = Dispatcher(
        storage=SqlStorage(db, clock, cache=not shared),
        settings=settings,
        rules=rules,
        db=db,
        clock=clock,
        i18n=i18n,
        main_menu=main_menu,
        **services,
    )
    dp.update.outer_middleware(
        CustomerMiddleware(
            db=db,
            clock=clock,
            settings=settings,
            i18n=i18n,
            flags={AWAITS_REPLY: awaits_reply_flag},
            message_probes={ACTIVE_CASE: active_case_probe},
        )
    )
    dp.update.outer_middleware(OutreachMiddleware(db=db, clock=clock))  # activity; ends sequences
    dp.update.outer_middleware(TurnMiddleware())  # last: `turn`, from what the ones above put in
    routers = [
        errors_router,
        onboarding.router,
        loyalty.router,  # /balance; its state handlers only match inside their own flows
        nps.router,
        exit_interview.router,
        outreach.router,  # buttons on campaign messages
        stats_handlers.router,  # /stats; before handoff_staff, which takes every staff-group message
        faq_staff.router,  # FAQ buttons and /teach in staff groups; before handoff_staff
        handoff_staff.router,  # staff groups only
        handoff_customer.router,  # CSAT, relaying while a case is active, follow-ups
        faq_handlers.router,  # free text outside a case
        fallback.router,  # last: whatever nobody claimed
    ]
    for router in routers:
        # Flow routers are module-level (`router = flow.router`); a process may build several
        # dispatchers over its life (tests do), so detach them from the previous one.
        router._parent_router = None
    dp.include_routers(*routers)
    return dp
