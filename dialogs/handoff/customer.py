"""Customer side of a case: ask for a person, talk through the bot, cancel, rate (CSAT)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import BaseFilter, Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import faq_stats, support
from core.clock import Clock
from core.customers import CustomerView
from core.faq import FaqLibrary
from core.settings import Settings
from dialogs import menu
from dialogs.common import show
from dialogs.context import BotContext
from dialogs.handoff.flow import CancelCaseCb, HumanCb, cancel_keyboard, request_human
from dialogs.i18n import Translator
from dialogs.menu import MainMenu
from storage.db import Database

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.edited_message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

# This flow's main-menu item (listed by the composition root, supportbot/runtime.py).
MENU_ITEMS = (menu.MenuItem("human", 20, lambda t, _c: t("menu-human"), feature_key="feature-human"),)


class CsatCb(CallbackData, prefix="cs"):
    case: int
    score: int


class CsatSkipCb(CallbackData, prefix="cx"):
    case: int


class Csat(StatesGroup):
    comment = State()


def kind_of(message: Message) -> str:
    for kind in (
        "text",
        "photo",
        "document",
        "voice",
        "video",
        "video_note",
        "sticker",
        "animation",
        "audio",
        "location",
        "contact",
        "venue",
        "poll",
    ):
        if getattr(message, kind, None):
            return kind
    return "other"


ACTIVE_CASE = "support_active_case"  # the customer middleware's read for a new message


async def active_case_probe(db: Database, customer_id: int) -> tuple[support.CaseView, bool] | None:
    """Read with the customer (bot/middlewares.py `message_probes`): a hot read, no session."""
    return await support.read_active_case_and_ban(db, customer_id=customer_id)


class InActiveCase(BaseFilter):
    """Passes when the customer has a waiting or open case; hands it to the handler as `case`
    (and `banned`: staff stopped relaying this customer)."""

    async def __call__(
        self,
        message: Message,
        customer: CustomerView | None,
        db: Database,
        **data: Any,
    ) -> bool | dict[str, Any]:
        if customer is None:
            return False
        if ACTIVE_CASE in data:  # read with the customer
            found = data[ACTIVE_CASE]
        else:
            found = await support.read_active_case_and_ban(db, customer_id=customer.id)
        if found is None:
            return False
        case, banned = found
        return {"case": case, "banned": banned}


async def _ask_for_person(
    bot: Bot,
    chat_id: int,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    t: Translator,
    ctx: BotContext,
    origin: str,
    origin_text: str | None = None,
) -> None:
    await request_human(
        bot=bot,
        chat_id=chat_id,
        customer=customer,
        db=db,
        clock=clock,
        settings=settings,
        t=t,
        notify=ctx.notify,
        origin=origin,
        origin_text=origin_text,
    )


@router.message(Command("human", "support", "operator"))
async def on_human_command(
    message: Message,
    bot: Bot,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    t: Translator,
    ctx: BotContext,
) -> None:
    await _ask_for_person(bot, message.chat.id, customer, db, clock, settings, t, ctx, "command")


@router.callback_query(menu.MenuCb.filter(F.action == "human"))
async def on_human_menu(
    query: CallbackQuery,
    bot: Bot,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    t: Translator,
    ctx: BotContext,
) -> None:
    await query.answer()
    await _ask_for_person(bot, query.from_user.id, customer, db, clock, settings, t, ctx, "menu")


@router.callback_query(HumanCb.filter())
async def on_human_button(
    query: CallbackQuery,
    callback_data: HumanCb,
    bot: Bot,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    t: Translator,
    ctx: BotContext,
) -> None:
    """ "Talk to a person" under an FAQ answer: the question travels with the request."""
    await query.answer()
    origin_text = None
    if callback_data.q:
        async with db.begin() as session:
            asked = await faq_stats.escalate(session, query_id=callback_data.q, customer_id=customer.id)
        if asked is not None:
            origin_text = asked.text
    origin = callback_data.origin if callback_data.origin in {"faq_no", "faq_none", "menu"} else "menu"
    await _ask_for_person(bot, query.from_user.id, customer, db, clock, settings, t, ctx, origin, origin_text)


@router.callback_query(CancelCaseCb.filter())
async def on_cancel(
    query: CallbackQuery,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    t: Translator,
    main_menu: MainMenu,
    ctx: BotContext,
) -> None:
    async with db.begin() as session:
        case = await support.close_case(
            session, clock=clock, customer_id=customer.id, closed_by=None, status="cancelled"
        )
        if case is not None:
            await support.queue_notice(
                session,
                clock=clock,
                customer_id=customer.id,
                group_chat_id=case.group_chat_id,
                case_id=case.id,
                key="staff-case-cancelled",
                number=case.number,
            )
    if case is None:
        await show(query, t("handoff-nothing-to-cancel"), main_menu.keyboard(t, customer))
        return
    ctx.notify("group_posts")
    await show(query, t("handoff-cancelled", number=case.number), main_menu.keyboard(t, customer))


# ------------------------------------------------------------------ CSAT


def csat_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=f"{n} ⭐", callback_data=CsatCb(case=case_id, score=n).pack())
                for n in range(1, 6)
            ]
        ]
    )


@router.callback_query(CsatCb.filter())
async def on_csat(
    query: CallbackQuery,
    callback_data: CsatCb,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    t: Translator,
    state: FSMContext,
    ctx: BotContext,
) -> None:
    score = max(1, min(5, callback_data.score))
    async with db.begin() as session:
        case = await support.get_case(session, case_id=callback_data.case)
        if case.customer_id != customer.id:
            await query.answer()
            return
        if case.csat_score is not None:
            await show(query, t("csat-expired"))
            return
        case = await support.rate_case(
            session, clock=clock, case_id=case.id, customer_id=customer.id, score=score
        )
        await support.queue_notice(
            session,
            clock=clock,
            customer_id=customer.id,
            group_chat_id=case.group_chat_id,
            case_id=case.id,
            key="staff-csat",
            number=case.number,
            score=score,
        )
    ctx.notify("group_posts")
    await state.set_state(Csat.comment)
    await state.update_data(csat_case=case.id)
    skip = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=t("csat-skip"), callback_data=CsatSkipCb(case=case.id).pack())]
        ]
    )
    await show(query, t("csat-thanks-score"), skip)


@router.callback_query(CsatSkipCb.filter())
async def on_csat_skip(
    query: CallbackQuery, t: Translator, main_menu: MainMenu, state: FSMContext, customer: CustomerView
) -> None:
    await state.clear()
    await show(query, t("csat-thanks"), main_menu.keyboard(t, customer))


@router.message(StateFilter(Csat.comment), F.text, ~F.text.startswith("/"))
async def on_csat_comment(
    message: Message,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    t: Translator,
    main_menu: MainMenu,
    state: FSMContext,
    ctx: BotContext,
) -> None:
    data = await state.get_data()
    await state.clear()
    case_id = int(data.get("csat_case", 0))
    async with db.begin() as session:
        case = await support.rate_case(
            session, clock=clock, case_id=case_id, customer_id=customer.id, comment=message.text
        )
        await support.queue_notice(
            session,
            clock=clock,
            customer_id=customer.id,
            group_chat_id=case.group_chat_id,
            case_id=case.id,
            key="staff-csat-comment",
            number=case.number,
            comment=(message.text or "")[:1000],
        )
    ctx.notify("group_posts")
    await message.answer(t("csat-thanks"), reply_markup=main_menu.keyboard(t, customer))


# ------------------------------------------------------------------ relaying


@router.message(~F.text.startswith("/"), InActiveCase())
async def on_message_in_case(
    message: Message,
    case: support.CaseView,
    banned: bool,
    db: Database,
    clock: Clock,
    ctx: BotContext,
    customer: CustomerView | None = None,
    faq: FaqLibrary | None = None,
) -> None:
    """While a case is active every message goes to staff (nothing is answered by the bot)."""
    if banned:
        return  # relaying stopped by staff; ignored on purpose
    await support.relay_into_case(db, clock=clock, case=case, **_relay_args(message, customer, faq))
    ctx.notify("group_posts")


async def _relay(
    session: AsyncSession,
    clock: Clock,
    case: support.CaseView,
    message: Message,
    customer: CustomerView | None = None,
    faq: FaqLibrary | None = None,
) -> None:
    """Queue the message for the topic, with the FAQ entries staff may send in answer (ids only)."""
    args = _relay_args(message, customer, faq)
    await support.relay_customer_message(session, clock=clock, case=case, **args)


def _relay_args(message: Message, customer: CustomerView | None, faq: FaqLibrary | None) -> dict[str, Any]:
    text = message.text or message.caption
    suggested = faq.suggestions(customer.language, text) if faq and customer and text else []
    return dict(
        chat_id=message.chat.id,
        message_id=message.message_id,
        kind=kind_of(message),
        text=text,
        media_group_id=message.media_group_id,
        faq_suggestions={"ids": suggested, "lang": customer.language} if suggested and customer else None,
    )


class FollowUp(BaseFilter):
    """A message soon after staff closed the customer's case: it opens the next case."""

    async def __call__(
        self,
        message: Message,
        customer: CustomerView | None,
        db: Database,
        clock: Clock,
        settings: Settings,
    ) -> bool | dict[str, Any]:
        if customer is None or settings.support_followup_days == 0:
            return False
        since = clock.now() - timedelta(days=settings.support_followup_days)
        async with db.read() as session:
            last = await support.recent_case(session, customer_id=customer.id, since=since)
            if last is None or await support.is_banned(session, customer_id=customer.id):
                return False
        return {"last_case": last}


@router.message(~F.text.startswith("/"), FollowUp())
async def on_follow_up(
    message: Message,
    last_case: support.CaseView,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    ctx: BotContext,
    t: Translator,
    faq: FaqLibrary | None = None,
) -> None:
    async with db.begin() as session:
        case, created = await support.open_case(
            session,
            clock=clock,
            customer_id=customer.id,
            group_chat_id=last_case.group_chat_id,
            origin="message",
        )
        await _relay(session, clock, case, message, customer, faq)
    ctx.notify("group_posts")
    if created:  # once per case, not for every message of an album
        await message.answer(
            t("handoff-opened-with-question", number=case.number), reply_markup=cancel_keyboard(t)
        )


@router.edited_message()
async def on_customer_edit(
    message: Message, db: async_sessionmaker[AsyncSession], clock: Clock, ctx: BotContext
) -> None:
    """An edit of a relayed message is mirrored in the topic; other edits are ignored."""
    async with db.begin() as session:
        relayed = await support.customer_edited(
            session,
            clock=clock,
            chat_id=message.chat.id,
            message_id=message.message_id,
            text=message.text or message.caption,
        )
    if relayed:
        ctx.notify("group_posts")


@router.message(Command("close", "ban", "unban", "note"))
async def on_staff_command_in_private(message: Message, t: Translator) -> None:
    await message.answer(t("handoff-staff-only"))
