"""Handlers: translate the update, call one core function, render the answer."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import customers as svc
from core.clock import Clock
from core.customers import CustomerHooks, CustomerView
from core.errors import DomainError
from core.settings import Settings
from dialogs import menu
from dialogs.common import name_of, show
from dialogs.context import BotContext
from dialogs.i18n import I18n, Translator
from dialogs.loyalty.handlers import referral_notice
from dialogs.menu import MainMenu

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

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


def welcome_text(t: Translator, customer: CustomerView, settings: Settings, main_menu: MainMenu) -> str:
    return t(
        "welcome",
        name=name_of(customer, "👋"),
        shop=settings.business_name,
        features=main_menu.features(t),
    )


LINK_ERRORS = {
    "link_expired": "link-expired",
    "link_used": "link-used",
    "link_not_found": "link-unknown",
    "link_conflict": "link-conflict",
}


@router.message(CommandStart())
async def on_start(
    message: Message,
    command: CommandObject,
    ctx: BotContext,
    customer: CustomerView,
    main_menu: MainMenu,
    customer_hooks: CustomerHooks,
) -> None:
    t = ctx.i18n(customer.language)
    payload = (command.args or "").strip()
    notice: str | None = None
    was_opted_out = not customer.opted_in
    # A returning customer's plain /start needs no write at all (the hot path).
    if payload or was_opted_out or customer.onboarded_at is None:
        async with ctx.db.begin() as session:
            if payload:
                kind = await svc.record_deep_link(
                    session, clock=ctx.clock, customer_id=customer.id, payload=payload
                )
                if kind == "link":
                    try:
                        customer = await svc.redeem_link_token(
                            session,
                            clock=ctx.clock,
                            hooks=customer_hooks,
                            token=payload,
                            telegram_id=message.chat.id,
                        )
                        notice = t("link-ok")
                    except DomainError as exc:
                        notice = t(LINK_ERRORS.get(exc.code, "link-unknown"))
                elif kind == "referral":
                    notice = await referral_notice(
                        session,
                        clock=ctx.clock,
                        rules=ctx.rules.loyalty,
                        customer=customer,
                        payload=payload,
                        t=t,
                    )
            if was_opted_out:
                customer = await svc.set_opt_in(
                    session, clock=ctx.clock, telegram_id=message.chat.id, opted_in=True
                )
            await svc.mark_onboarded(session, clock=ctx.clock, telegram_id=message.chat.id)
    t = ctx.i18n(customer.language)
    if notice:
        await message.answer(notice)
    if was_opted_out:
        await message.answer(
            t("welcome-back", name=name_of(customer, "👋")), reply_markup=main_menu.keyboard(t, customer)
        )
        return
    await message.answer(
        welcome_text(t, customer, ctx.settings, main_menu), reply_markup=main_menu.keyboard(t, customer)
    )


@router.message(Command("menu"))
async def on_menu(message: Message, customer: CustomerView, t: Translator, main_menu: MainMenu) -> None:
    await message.answer(t("menu-title"), reply_markup=main_menu.keyboard(t, customer))


@router.callback_query(menu.MenuCb.filter(F.action == "home"))
async def on_home(query: CallbackQuery, customer: CustomerView, t: Translator, main_menu: MainMenu) -> None:
    await show(query, t("menu-title"), main_menu.keyboard(t, customer))


@router.message(Command("help"))
async def on_help(message: Message, customer: CustomerView, t: Translator, main_menu: MainMenu) -> None:
    await message.answer(t("help"), reply_markup=main_menu.keyboard(t, customer))


@router.callback_query(menu.MenuCb.filter(F.action == "help"))
async def on_help_button(query: CallbackQuery, t: Translator) -> None:
    await show(query, t("help"), InlineKeyboardMarkup(inline_keyboard=[[menu.back_button(t)]]))


# ------------------------------------------------------------------ language


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


@router.message(Command("language"))
async def on_language_command(message: Message, t: Translator) -> None:
    await message.answer(t("language-prompt"), reply_markup=language_keyboard(t))


@router.callback_query(menu.MenuCb.filter(F.action == "language"))
async def on_language_button(query: CallbackQuery, t: Translator) -> None:
    await show(query, t("language-prompt"), language_keyboard(t))


@router.callback_query(LangCb.filter())
async def on_language_chosen(
    query: CallbackQuery,
    callback_data: LangCb,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    i18n: I18n,
    main_menu: MainMenu,
) -> None:
    code = callback_data.code if callback_data.code in LANGUAGE_NAMES else "en"
    async with db.begin() as session:
        customer = await svc.set_language(session, clock=clock, telegram_id=query.from_user.id, language=code)
    t = i18n(customer.language)
    await show(query, t("language-set") + "\n\n" + t("menu-title"), main_menu.keyboard(t, customer))


# ------------------------------------------------------------------ notifications


@router.message(Command("stop"))
async def on_stop(
    message: Message,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    customer: CustomerView,
    t: Translator,
) -> None:
    if not customer.opted_in:
        await message.answer(t("stop-already"))
        return
    async with db.begin() as session:
        await svc.set_opt_in(session, clock=clock, telegram_id=message.chat.id, opted_in=False)
    await message.answer(t("stop-done"))


@router.callback_query(menu.MenuCb.filter(F.action == "notifications"))
async def on_notifications_toggle(
    query: CallbackQuery,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    customer: CustomerView,
    t: Translator,
    main_menu: MainMenu,
) -> None:
    async with db.begin() as session:
        customer = await svc.set_opt_in(
            session, clock=clock, telegram_id=query.from_user.id, opted_in=not customer.opted_in
        )
    text = t("notifications-on" if customer.opted_in else "notifications-off")
    await show(query, text + "\n\n" + t("menu-title"), main_menu.keyboard(t, customer))


# ------------------------------------------------------------------ privacy


def forget_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=t("forget-yes"), callback_data=ForgetCb(confirm=True).pack()),
                InlineKeyboardButton(text=t("forget-no"), callback_data=ForgetCb(confirm=False).pack()),
            ]
        ]
    )


@router.callback_query(menu.MenuCb.filter(F.action == "privacy"))
async def on_privacy(query: CallbackQuery, t: Translator) -> None:
    markup = forget_keyboard(t)
    markup.inline_keyboard.append([menu.back_button(t)])
    await show(query, t("privacy-info"), markup)


@router.message(Command("forget"))
async def on_forget(message: Message, t: Translator) -> None:
    await message.answer(t("forget-confirm"), reply_markup=forget_keyboard(t))


@router.callback_query(ForgetCb.filter())
async def on_forget_answer(
    query: CallbackQuery,
    callback_data: ForgetCb,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    t: Translator,
    customer_hooks: CustomerHooks,
) -> None:
    if not callback_data.confirm:
        await show(query, t("forget-cancelled"))
        return
    async with db.begin() as session:
        await svc.forget(session, clock=clock, hooks=customer_hooks, telegram_id=query.from_user.id)
    await show(query, t("forget-done"))
