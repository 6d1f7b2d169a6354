"""Update middleware: who is writing (the customer record, refreshed) and in which language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, Update, User
from sqlalchemy import ColumnElement

from core import customers as svc
from core.clock import Clock
from core.settings import Settings
from dialogs.flow import Turn
from dialogs.i18n import I18n
from storage.db import Database
from storage.uow import UnitOfWork

TOUCH_EVERY = timedelta(minutes=1)
Probe = Callable[[Database, int], Awaitable[Any]]  # (database, customer id) -> value: hot reads
Flag = Callable[[Any], ColumnElement[Any]]  # customer id column -> SQL expression


class CustomerMiddleware(BaseMiddleware):
    """Puts `customer` (private chats) and `t` (translator) into handler data.

    Every private update from a person refreshes last-seen (the activity signal that dormant and
    churn segments rest on), with minute resolution: a read per update, a write at most once a
    minute per customer or when their Telegram profile changed.
    """

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        i18n: I18n,
        probes: Mapping[str, Probe] | None = None,
        message_probes: Mapping[str, Probe] | None = None,
        flags: Mapping[str, Flag] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.i18n = i18n
        # Reads other middlewares need about a known customer, made in the same read
        # transaction (one trip to the database instead of one each); results go into `data`.
        self.probes = dict(probes or {})
        self.message_probes = dict(message_probes or {})  # only for a new message, not a command
        # Yes/no facts read in the customer's own statement (SQL expressions over its id).
        self.read = svc.CustomerRead(dict(flags or {}))

    def _stale(self, customer: svc.CustomerView, user: User) -> bool:
        """Whether last-seen or the profile needs a write (last-seen has minute resolution)."""
        if customer.last_seen_at is None or not customer.reachable:
            return True
        if self.clock.now() - customer.last_seen_at >= TOUCH_EVERY:
            return True
        if (customer.first_name, customer.last_name, customer.username) != (
            user.first_name,
            user.last_name,
            user.username,
        ):
            return True
        return not customer.language_chosen and customer.language != svc.language_from_telegram(
            user.language_code, self.settings.default_language
        )

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        customer = None
        if user is not None and not user.is_bot and chat is not None and chat.type == "private":
            is_membership = isinstance(event, Update) and event.my_chat_member is not None
            customer, flags = await self.read(self.db, user.id)
            data.update(flags)
            if customer is not None:
                message = event.message if isinstance(event, Update) else None
                probes = dict(self.probes)
                if message is not None and not (message.text or "").startswith("/"):
                    probes.update(self.message_probes)
                for name, probe in probes.items():
                    data[name] = await probe(self.db, customer.id)
            if not is_membership and (customer is None or self._stale(customer, user)):
                async with self.db.begin() as session:
                    customer, _ = await svc.touch_telegram_user(
                        session,
                        clock=self.clock,
                        telegram_id=user.id,
                        first_name=user.first_name,
                        last_name=user.last_name,
                        username=user.username,
                        language_code=user.language_code,
                        default_language=self.settings.default_language,
                    )
        data["customer"] = customer
        lang = (
            customer.language
            if customer
            else svc.language_from_telegram(
                user.language_code if user else None, self.settings.default_language
            )
        )
        data["t"] = self.i18n(lang)
        return await handler(event, data)


class TurnMiddleware(BaseMiddleware):
    """Puts `turn` (dialogs/flow.py) into handler data: the one object a flow's callback takes,
    built from what the composition root gave the dispatcher and what the middlewares before
    this one read. Owns the update's unit of work: its session is closed when the update is
    done, whatever the handler did."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        ctx = data["ctx"]
        turn = Turn(
            ctx=ctx,
            customer=data.get("customer"),
            t=data["t"],
            state=data.get("state"),
            uow=UnitOfWork(ctx.db),
            main_menu=data.get("main_menu"),
            faq=data.get("faq"),
            customer_hooks=data.get("customer_hooks"),
            data=dict(data),  # a copy: the Turn goes into `data`, and no cycle is made per update
        )
        data["turn"] = turn
        try:
            return await handler(event, data)
        finally:
            await turn.uow.close()
