"""Onboarding: /start with the welcome and main menu, the menu itself, help, the language,
notifications on and off, and privacy (/forget)."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from core import customers as svc
from core import onboarding
from core.customers import CustomerHooks, CustomerView
from dialogs import menu
from dialogs.common import name_of, show
from dialogs.flow import Flow, FlowError, Turn, on_button, on_message
from dialogs.i18n import Translator
from dialogs.loyalty.handlers import referral_notice
from dialogs.menu import MainMenu

LANGUAGE_NAMES = {"en": "🇬🇧 English", "ru": "🇷🇺 Русский"}


class LangCb(CallbackData, prefix="lang"):
    code: str


class ForgetCb(CallbackData, prefix="forget"):
    confirm: bool


# This flow's main-menu items (listed by the composition root, supportbot/runtime.py).
MENU_ITEMS = (
    menu.MenuItem("language", 80, lambda t, _c: t("menu-language"), feature_key="feature-language"),
    menu.MenuItem(
        "notifications",
        85,
        lambda t, c: t("menu-notifications-on" if c.opted_in else "menu-notifications-off"),
        feature_key="feature-notifications",
    ),
    menu.MenuItem("privacy", 90, lambda t, _c: t("menu-privacy"), feature_key="feature-privacy"),
    menu.MenuItem("help", 95, lambda t, _c: t("menu-help")),
)

# What /start says about a link token (core/onboarding `Started.link`).
LINK_NOTICES = {
    "ok": "link-ok",
    "link_expired": "link-expired",
    "link_used": "link-used",
    "link_not_found": "link-unknown",
    "link_conflict": "link-conflict",
}


def main_menu(turn: Turn) -> MainMenu:
    if turn.main_menu is None:
        raise FlowError(f"{turn.running}: the dispatcher was given no main menu")
    return turn.main_menu


def customer_hooks(turn: Turn) -> CustomerHooks:
    if turn.customer_hooks is None:
        raise FlowError(f"{turn.running}: the dispatcher was given no customer hooks")
    return turn.customer_hooks


# ------------------------------------------------------------------ renderers


def welcome_text(t: Translator, customer: CustomerView, shop: str, main_menu: MainMenu) -> str:
    return t("welcome", name=name_of(customer, "👋"), shop=shop, features=main_menu.features(t))


def start_notice(turn: Turn, started: onboarding.Started) -> str | None:
    """What the payload did (a link, a referral), in the language they wrote in."""
    if started.link is not None:
        return turn.t(LINK_NOTICES.get(started.link, "link-unknown"))
    if started.referral is not None:
        return referral_notice(turn.t, turn.rules.loyalty, started.referral)
    return None


def start_message(turn: Turn, started: onboarding.Started) -> tuple[str, InlineKeyboardMarkup]:
    """The welcome (or welcome back) with the main menu, in the customer's language now (a
    link may have made them the backend's customer, who has a language of their own)."""
    customer = started.customer
    t = turn.ctx.i18n(customer.language)
    home = main_menu(turn)
    if started.back:
        text = t("welcome-back", name=name_of(customer, "👋"))
    else:
        text = welcome_text(t, customer, turn.settings.business_name, home)
    return text, home.keyboard(t, customer)


def menu_message(turn: Turn, key: str) -> tuple[str, InlineKeyboardMarkup]:
    """A text with the main menu under it."""
    return turn.t(key), main_menu(turn).keyboard(turn.t, turn.who)


def language_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=label, callback_data=LangCb(code=code).pack())
                for code, label in LANGUAGE_NAMES.items()
            ],
            [menu.back_button(t)],
        ]
    )


def forget_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=t("forget-yes"), callback_data=ForgetCb(confirm=True).pack()),
                InlineKeyboardButton(text=t("forget-no"), callback_data=ForgetCb(confirm=False).pack()),
            ]
        ]
    )


# ------------------------------------------------------------------ callbacks


async def on_start(message: Message, command: CommandObject, turn: Turn) -> None:
    """/start [payload]: act on a deep link's payload, then the welcome and the main menu."""
    payload = (command.args or "").strip()
    started = onboarding.nothing_to_do(turn.who, payload)
    if started is None:
        started = await turn.uow.write(
            onboarding.start,
            clock=turn.clock,
            hooks=customer_hooks(turn),
            customer=turn.who,
            telegram_id=message.chat.id,
            payload=payload,
        )
    notice = start_notice(turn, started)
    if notice:
        await message.answer(notice)
    text, markup = start_message(turn, started)
    await message.answer(text, reply_markup=markup)


async def on_menu(message: Message, turn: Turn) -> None:
    text, markup = menu_message(turn, "menu-title")
    await message.answer(text, reply_markup=markup)


async def on_home(query: CallbackQuery, turn: Turn) -> None:
    await show(query, *menu_message(turn, "menu-title"))


async def on_help(message: Message, turn: Turn) -> None:
    text, markup = menu_message(turn, "help")
    await message.answer(text, reply_markup=markup)


async def on_help_button(query: CallbackQuery, turn: Turn) -> None:
    await show(query, turn.t("help"), InlineKeyboardMarkup(inline_keyboard=[[menu.back_button(turn.t)]]))


async def on_language_command(message: Message, turn: Turn) -> None:
    await message.answer(turn.t("language-prompt"), reply_markup=language_keyboard(turn.t))


async def on_language_button(query: CallbackQuery, turn: Turn) -> None:
    await show(query, turn.t("language-prompt"), language_keyboard(turn.t))


async def on_language_chosen(query: CallbackQuery, callback_data: LangCb, turn: Turn) -> None:
    """A language pressed: the menu comes back in it."""
    code = callback_data.code if callback_data.code in LANGUAGE_NAMES else "en"
    customer = await turn.uow.write(
        svc.set_language, clock=turn.clock, telegram_id=query.from_user.id, language=code
    )
    t = turn.ctx.i18n(customer.language)
    await show(query, t("language-set") + "\n\n" + t("menu-title"), main_menu(turn).keyboard(t, customer))


async def on_stop(message: Message, turn: Turn) -> None:
    """/stop: no more proactive messages."""
    if not turn.who.opted_in:
        await message.answer(turn.t("stop-already"))
        return
    await turn.uow.write(svc.set_opt_in, clock=turn.clock, telegram_id=message.chat.id, opted_in=False)
    await message.answer(turn.t("stop-done"))


async def on_notifications_toggle(query: CallbackQuery, turn: Turn) -> None:
    """The menu's notifications button turns them off if on, on if off."""
    customer = await turn.uow.write(
        svc.set_opt_in, clock=turn.clock, telegram_id=query.from_user.id, opted_in=not turn.who.opted_in
    )
    text = turn.t("notifications-on" if customer.opted_in else "notifications-off")
    await show(query, text + "\n\n" + turn.t("menu-title"), main_menu(turn).keyboard(turn.t, customer))


async def on_privacy(query: CallbackQuery, turn: Turn) -> None:
    markup = forget_keyboard(turn.t)
    markup.inline_keyboard.append([menu.back_button(turn.t)])
    await show(query, turn.t("privacy-info"), markup)


async def on_forget(message: Message, turn: Turn) -> None:
    await message.answer(turn.t("forget-confirm"), reply_markup=forget_keyboard(turn.t))


async def on_forget_answer(query: CallbackQuery, callback_data: ForgetCb, turn: Turn) -> None:
    """Yes: their personal data is erased (the other domains' too, through the hooks)."""
    if not callback_data.confirm:
        await show(query, turn.t("forget-cancelled"))
        return
    await turn.uow.write(
        svc.forget, clock=turn.clock, hooks=customer_hooks(turn), telegram_id=query.from_user.id
    )
    await show(query, turn.t("forget-done"))


# ------------------------------------------------------------------ the flow

flow = Flow(
    "onboarding",
    doc="/start and the welcome, the main menu, help, language, notifications and privacy.",
    on=[
        on_message(on_start, CommandStart(), when="/start [payload]"),
        on_message(on_menu, Command("menu"), when="/menu"),
        on_button(on_home, menu.MenuCb.filter(F.action == "home"), when="presses Back to the menu"),
        on_message(on_help, Command("help"), when="/help"),
        on_button(on_help_button, menu.MenuCb.filter(F.action == "help"), when="presses Help"),
        on_message(on_language_command, Command("language"), when="/language"),
        on_button(on_language_button, menu.MenuCb.filter(F.action == "language"), when="presses Language"),
        on_button(on_language_chosen, LangCb.filter(), when="picks a language"),
        on_message(on_stop, Command("stop"), when="/stop"),
        on_button(
            on_notifications_toggle,
            menu.MenuCb.filter(F.action == "notifications"),
            when="presses Notifications",
        ),
        on_button(on_privacy, menu.MenuCb.filter(F.action == "privacy"), when="presses Privacy"),
        on_message(on_forget, Command("forget"), when="/forget"),
        on_button(on_forget_answer, ForgetCb.filter(), when="answers forget me?"),
    ],
)
router = flow.router
