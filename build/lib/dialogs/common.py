"""Small helpers shared by flows: safe edits and the customer's display name."""

from __future__ import annotations

import contextlib

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from core.customers import CustomerView


def name_of(customer: CustomerView | None, fallback: str = "") -> str:
    if customer is None:
        return fallback
    return customer.first_name or (f"@{customer.username}" if customer.username else fallback)


async def show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the pressed message's content (menus navigate in place)."""
    message = query.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                await message.answer(text, reply_markup=markup)
    elif message is not None:
        await query.bot.send_message(message.chat.id, text, reply_markup=markup)  # type: ignore[union-attr]
    with contextlib.suppress(TelegramBadRequest):
        await query.answer()
