"""The errors router: nothing raises out of a handler; the person gets a clear answer."""

from __future__ import annotations

import contextlib
import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import ErrorEvent

from bot.journal import UncertainDelivery
from bot.telegram_errors import classify
from core import customers as svc
from core.clock import Clock
from dialogs.i18n import Translator
from storage.db import Database

log = logging.getLogger(__name__)
router = Router(name=__name__)


def unreachable_reason(exc: TelegramForbiddenError) -> str:
    return classify(exc).code


@router.errors()
async def on_error(
    event: ErrorEvent,
    bot: Bot,
    db: Database,
    clock: Clock,
    t: Translator | None = None,
) -> bool:
    exc = event.exception
    if isinstance(exc, UncertainDelivery):
        raise exc  # the inbox records it; the customer must not get an error message for it
    update = event.update
    chat = None
    if update.message:
        chat = update.message.chat
    elif update.callback_query and update.callback_query.message:
        chat = update.callback_query.message.chat
    if isinstance(exc, TelegramForbiddenError) and chat is not None and chat.type == "private":
        log.info("chat %s unreachable: %s", chat.id, exc.message)
        async with db.begin() as session:
            await svc.set_reachable(
                session,
                clock=clock,
                telegram_id=chat.id,
                reachable=False,
                reason=unreachable_reason(exc),
            )
        return True
    log.error("update %s failed: %r", update.update_id, exc, exc_info=exc)
    if chat is not None and chat.type == "private":
        text = t("error-generic") if t else "Sorry, something went wrong. Please try again later."
        with contextlib.suppress(TelegramAPIError):
            await bot.send_message(chat.id, text)
    return True
