"""Update middleware: who is writing (the customer record, refreshed) and in which language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, Update, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import customers as svc
from core.clock import Clock
from core.settings import Settings
from dialogs.i18n import I18n


class CustomerMiddleware(BaseMiddleware):
    """Puts `customer` (private chats) and `t` (translator) into handler data.

    Every private update from a person refreshes last-seen in one short transaction: it is the
    activity signal that dormant/churn segments rest on.
    """

    def __init__(
        self, *, db: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings, i18n: I18n
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.i18n = i18n

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
            async with self.db.begin() as session:
                if is_membership:
                    row = await svc.by_telegram_id(session, user.id)
                    customer = svc.view(row) if row is not None else None
                else:
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
        lang = customer.language if customer else svc.language_from_telegram(
            user.language_code if user else None, self.settings.default_language
        )
        data["t"] = self.i18n(lang)
        return await handler(event, data)
