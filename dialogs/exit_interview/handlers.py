"""The exit interview (from the API or the feedback menu) and the feedback menu itself.

One tap gives the reason; the reason decides what comes next (see core.exit_interview).
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import date, datetime, timedelta

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import exit_interview as svc
from core.clock import Clock
from core.customers import CustomerView
from core.delivery.outgoing import Outgoing
from core.errors import DomainError
from core.settings import Settings
from dialogs import menu
from dialogs.common import name_of, show
from dialogs.context import BotContext
from dialogs.flow import Turn
from dialogs.i18n import Translator
from dialogs.loyalty.format import day, zone
from dialogs.nps.handlers import fresh, staff_group, start_rating

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

DATE_RE = re.compile(r"^\s*(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{4})\s*$")
BREAKS = {
    "b2w": ("exit-break-2w", 0, 14),
    "b1m": ("exit-break-1m", 1, 0),
    "b3m": ("exit-break-3m", 3, 0),
    "b6m": ("exit-break-6m", 6, 0),
}
KNOWN_EVENTS = ("subscription_cancelled", "account_closed")


class FeedbackCb(CallbackData, prefix="fbk"):
    a: str  # rate | leave


class ExitCb(CallbackData, prefix="ex"):
    i: int  # interview id
    r: str  # reason


class ExitActCb(CallbackData, prefix="exa"):
    i: int
    a: str  # skip | wy | wn | b2w | b1m | b3m | b6m | bno


class ExitStates(StatesGroup):
    detail = State()
    break_date = State()


# This flow's main-menu item (listed by the composition root, supportbot/runtime.py).
MENU_ITEMS = (
    menu.MenuItem("feedback", 40, lambda t, _c: t("menu-feedback"), feature_key="feature-feedback"),
)


def question(
    t: Translator, *, interview_id: int, customer_name: str, event: str | None
) -> tuple[str, InlineKeyboardMarkup]:
    """Why are you leaving? with one button per reason, two per row."""
    key = f"exit-ask-{event}" if event in KNOWN_EVENTS else "exit-ask"
    buttons = [
        InlineKeyboardButton(text=t(f"exit-reason-{r}"), callback_data=ExitCb(i=interview_id, r=r).pack())
        for r in svc.REASONS
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return t(key, name=customer_name or "👋"), InlineKeyboardMarkup(inline_keyboard=rows)


def _act(t: Translator, interview_id: int, action: str, key: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t(key), callback_data=ExitActCb(i=interview_id, a=action).pack())


def add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    for d in (start.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError("unreachable")


def today_of(customer: CustomerView, settings: Settings, now: datetime) -> date:
    return now.astimezone(zone(customer.timezone, settings.default_timezone)).date()


def parse_date(text: str) -> date | None:
    m = DATE_RE.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None


# ------------------------------------------------------------------ feedback menu


@router.callback_query(menu.MenuCb.filter(F.action == "feedback"))
async def on_feedback_menu(query: CallbackQuery, t: Translator) -> None:
    rows = [
        [InlineKeyboardButton(text=t("feedback-rate"), callback_data=FeedbackCb(a="rate").pack())],
        [InlineKeyboardButton(text=t("feedback-leave"), callback_data=FeedbackCb(a="leave").pack())],
        [menu.back_button(t)],
    ]
    await show(query, t("feedback-title"), InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(FeedbackCb.filter(F.a == "rate"))
async def on_rate(query: CallbackQuery, turn: Turn) -> None:
    await start_rating(query, turn)


@router.callback_query(FeedbackCb.filter(F.a == "leave"))
async def on_leave(
    query: CallbackQuery,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    customer: CustomerView,
    t: Translator,
) -> None:
    async with db.begin() as session:
        interview = await svc.start_from_menu(
            session, clock=clock, customer_id=customer.id, chat_id=query.from_user.id
        )
    text, markup = question(t, interview_id=interview.id, customer_name=name_of(customer, "👋"), event=None)
    await show(query, text, markup)


# ------------------------------------------------------------------ the reason


@router.callback_query(ExitCb.filter())
async def on_reason(
    query: CallbackQuery,
    callback_data: ExitCb,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
    ctx: BotContext,
) -> None:
    iid = callback_data.i
    try:
        async with ctx.db.begin() as session:
            outcome = await svc.choose_reason(
                session,
                clock=ctx.clock,
                rules=ctx.rules.exit,
                interview_id=iid,
                customer_id=customer.id,
                reason=callback_data.r,
            )
    except DomainError:
        await show(query, t("exit-already"))
        return
    reason = outcome.interview.reason or callback_data.r
    head = t("exit-your-answer", reason=t(f"exit-reason-{reason}"))
    if outcome.already:
        await show(query, head + "\n\n" + t("exit-already"))
        return
    tz = zone(customer.timezone, ctx.settings.default_timezone)
    markup: InlineKeyboardMarkup | None = None
    if reason == "price":
        offer = outcome.offer
        body = (
            t(
                "exit-offer",
                percent=offer.discount_percent,
                code=offer.code,
                date=day(t, offer.expires_at, tz) if offer.expires_at else "—",
            )
            if offer
            else t("exit-no-offer")
        )
    elif reason in ("feature", "competitor", "other"):
        await state.set_state(ExitStates.detail)
        msg = query.message.message_id if isinstance(query.message, Message) else None
        await state.set_data(
            {"interview": iid, "since": ctx.clock.now().isoformat(), "reason": reason, "msg": msg}
        )
        body = t(
            {"feature": "exit-feature-ask", "competitor": "exit-competitor-ask", "other": "exit-other-ask"}[
                reason
            ]
        )
        markup = InlineKeyboardMarkup(inline_keyboard=[[_act(t, iid, "skip", "exit-skip")]])
    elif reason == "not_needed":
        body = t("exit-not-needed")
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    _act(t, iid, "wy", "exit-may-write-yes"),
                    _act(t, iid, "wn", "exit-may-write-no"),
                ]
            ]
        )
    elif reason in ("technical", "support"):
        group = staff_group(ctx.settings, customer.language)
        if group is None:
            body = t("exit-handoff-later")
        else:
            async with ctx.db.begin() as session:
                await svc.hand_over(
                    session, clock=ctx.clock, interview_id=iid, customer_id=customer.id, group_chat_id=group
                )
            ctx.notify("group_posts")
            body = t("exit-technical" if reason == "technical" else "exit-support")
    else:  # break
        await state.set_state(ExitStates.break_date)
        await state.set_data({"interview": iid, "since": ctx.clock.now().isoformat()})
        body = t("exit-break-ask")
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [_act(t, iid, "b2w", "exit-break-2w"), _act(t, iid, "b1m", "exit-break-1m")],
                [_act(t, iid, "b3m", "exit-break-3m"), _act(t, iid, "b6m", "exit-break-6m")],
                [_act(t, iid, "bno", "exit-break-never")],
            ]
        )
    await show(query, head + "\n\n" + body, markup)


# ------------------------------------------------------------------ details in words


def _detail_reply(t: Translator, outcome: svc.DetailOutcome, text: str | None) -> str:
    reason = outcome.interview.reason
    if not outcome.completed:
        return t("exit-already")
    if text is None:
        return t("exit-competitor-thanks" if reason == "competitor" else "exit-skipped")
    if reason == "feature":
        key = "exit-feature-exists" if outcome.feature_shipped else "exit-feature-thanks"
        return t(key, feature=(outcome.interview.detail or text)[:200])
    if reason == "competitor":
        return t("exit-competitor-thanks")
    return t("exit-other-thanks")


@router.message(ExitStates.detail, F.text, ~F.text.startswith("/"))
async def on_detail(
    message: Message,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    if not fresh(data, clock.now()) or "interview" not in data:
        await state.clear()
        raise SkipHandler()
    try:
        async with db.begin() as session:
            outcome = await svc.set_detail(
                session,
                clock=clock,
                interview_id=int(data["interview"]),
                customer_id=customer.id,
                text=message.text,
            )
    except DomainError as exc:
        if exc.code == "invalid_feature":
            await message.answer(t("exit-feature-bad"))
            return
        await state.clear()
        await message.answer(t("exit-already"))
        return
    await state.clear()
    if data.get("msg") and message.bot is not None:
        with suppress(TelegramAPIError):
            await message.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=data["msg"], reply_markup=None
            )
    await message.answer(_detail_reply(t, outcome, message.text))


@router.callback_query(ExitActCb.filter(F.a == "skip"))
async def on_skip(
    query: CallbackQuery,
    callback_data: ExitActCb,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    await state.clear()
    try:
        async with db.begin() as session:
            outcome = await svc.set_detail(
                session, clock=clock, interview_id=callback_data.i, customer_id=customer.id, text=None
            )
    except DomainError:
        await show(query, t("exit-already"))
        return
    await show(query, _detail_reply(t, outcome, None))


# ------------------------------------------------------------------ may we write again?


@router.callback_query(ExitActCb.filter(F.a.in_({"wy", "wn"})))
async def on_may_write(
    query: CallbackQuery,
    callback_data: ExitActCb,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    customer: CustomerView,
    t: Translator,
) -> None:
    allowed = callback_data.a == "wy"
    try:
        async with db.begin() as session:
            await svc.set_may_write(
                session, clock=clock, interview_id=callback_data.i, customer_id=customer.id, allowed=allowed
            )
    except DomainError:
        await show(query, t("exit-already"))
        return
    await show(query, t("exit-may-write-ok" if allowed else "exit-may-write-off"))


# ------------------------------------------------------------------ a break


async def _set_break(
    *,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    customer: CustomerView,
    t: Translator,
    interview_id: int,
    until: date | None,
) -> str:
    try:
        async with db.begin() as session:
            await svc.set_break(
                session,
                clock=clock,
                interview_id=interview_id,
                customer_id=customer.id,
                until=until,
                default_timezone=settings.default_timezone,
            )
    except DomainError as exc:
        if exc.code in ("date_in_past", "date_too_far"):
            raise
        return t("exit-already")
    if until is None:
        return t("exit-break-none")
    return t("exit-break-set", date=day(t, until))


@router.callback_query(ExitActCb.filter(F.a.in_({*BREAKS, "bno"})))
async def on_break_choice(
    query: CallbackQuery,
    callback_data: ExitActCb,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    await state.clear()
    until = None
    if callback_data.a in BREAKS:
        _, months, days = BREAKS[callback_data.a]
        until = add_months(today_of(customer, settings, clock.now()), months) + timedelta(days=days)
    text = await _set_break(
        db=db,
        clock=clock,
        settings=settings,
        customer=customer,
        t=t,
        interview_id=callback_data.i,
        until=until,
    )
    await show(query, text)


@router.message(ExitStates.break_date, F.text, ~F.text.startswith("/"))
async def on_break_date(
    message: Message,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    if not fresh(data, clock.now()) or "interview" not in data:
        await state.clear()
        raise SkipHandler()
    until = parse_date(message.text or "")
    if until is None:
        await message.answer(t("exit-break-bad"))
        return
    try:
        text = await _set_break(
            db=db,
            clock=clock,
            settings=settings,
            customer=customer,
            t=t,
            interview_id=int(data["interview"]),
            until=until,
        )
    except DomainError:
        await message.answer(t("exit-break-bad"))
        return
    await state.clear()
    await message.answer(text)


def render_interview(
    t: Translator, settings: Settings, out: Outgoing
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The exit interview's first question as the delivery worker sends it."""
    name = out.data.get("first_name") or (f"@{out.data['username']}" if out.data.get("username") else "")
    return question(t, interview_id=out.id, customer_name=name, event=out.data.get("event"))
