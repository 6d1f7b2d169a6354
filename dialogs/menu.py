"""The main menu. Each flow registers its items here; the menu shows them in `order`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from core.customers import CustomerView
from dialogs.i18n import Translator


class MenuCb(CallbackData, prefix="menu"):
    action: str


@dataclass(frozen=True)
class MenuItem:
    action: str
    order: int
    label: Callable[[Translator, CustomerView], str]
    feature_key: str | None = None  # line in the welcome's "what I can do" list
    visible: Callable[[CustomerView], bool] = lambda _c: True


_ITEMS: dict[str, MenuItem] = {}


def register(item: MenuItem) -> None:
    _ITEMS[item.action] = item


def items() -> list[MenuItem]:
    return sorted(_ITEMS.values(), key=lambda i: i.order)


def main_menu(t: Translator, customer: CustomerView) -> InlineKeyboardMarkup:
    """Two buttons per row, in registration order."""
    buttons = [
        InlineKeyboardButton(text=i.label(t, customer), callback_data=MenuCb(action=i.action).pack())
        for i in items()
        if i.visible(customer)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def features(t: Translator) -> str:
    return "\n".join(
        t("feature-line", text=t(i.feature_key)) for i in items() if i.feature_key is not None
    )


def back_button(t: Translator) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t("menu-back"), callback_data=MenuCb(action="home").pack())
