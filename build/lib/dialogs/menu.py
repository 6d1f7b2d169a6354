"""The main menu. Each flow defines its items (`MENU_ITEMS`); the composition root lists them in a
`MainMenu`, which shows them in `order`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


class MainMenu:
    """The main menu's items, shown in `order`: a list the composition root builds
    (supportbot/runtime.py `main_menu()`) from the items each flow defines, and hands to the
    dispatcher; handlers receive it as `main_menu`."""

    def __init__(self, items: Iterable[MenuItem]) -> None:
        self.items: tuple[MenuItem, ...] = tuple(sorted(items, key=lambda i: i.order))
        actions = [i.action for i in self.items]
        if len(set(actions)) != len(actions):
            raise ValueError(f"menu actions must be unique: {actions}")

    def keyboard(self, t: Translator, customer: CustomerView) -> InlineKeyboardMarkup:
        """Two buttons per row, in `order`."""
        buttons = [
            InlineKeyboardButton(text=i.label(t, customer), callback_data=MenuCb(action=i.action).pack())
            for i in self.items
            if i.visible(customer)
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        return InlineKeyboardMarkup(inline_keyboard=rows)

    def features(self, t: Translator) -> str:
        """The welcome's "what I can do" list: one line per item with a `feature_key`."""
        return "\n".join(
            t("feature-line", text=t(i.feature_key)) for i in self.items if i.feature_key is not None
        )


def back_button(t: Translator) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t("menu-back"), callback_data=MenuCb(action="home").pack())
