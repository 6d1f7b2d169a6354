"""The NPS survey: 0-10 keyboard, an optional 'why?' that fits the score, thanks and follow-up.

Promoters get their referral link, passives are asked what would make it a 10, detractors are
offered a person and an alert with the customer's card and comment goes to the staff group.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core import customers as customers_svc
from core import loyalty, nps, support
from core.clock import Clock
from core.customers import CustomerView
from core.delivery.outgoing import Outgoing
from core.errors import DomainError
from core.nps.rules import DETRACTOR, PROMOTER
from core.rules import Rules
from core.settings import Settings
from dialogs import menu
from dialogs.common import name_of, show
from dialogs.context import BotContext
from dialogs.i18n import I18n, Translator
from dialogs.loyalty.format import day, money, points, zone
from dialogs.loyalty.handlers import share_button

log = logging.getLogger(__name__)
router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

# A 'why?' left unanswered this long is not waiting any more: later text is probably a new
# question for support or the FAQ, not a comment.
COMMENT_TTL = timedelta(hours=3)


class NpsCb(CallbackData, prefix="nps"):
    s: int  # survey id
    v: int  # score 0-10


class NpsActCb(CallbackData, prefix="npsa"):
    s: int
    a: str  # skip | talk | no


class NpsStates(StatesGroup):
    comment = State()


def staff_group(settings: Settings, language: str) -> int | None:
    """The staff group that serves this customer (support routing), if any."""
    return support.route_group(
        default=settings.support_chat_id,
        routes=getattr(settings, "support_routes", {}) or {},
        language=language,
    )


def score_keyboard(survey_id: int) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=str(v), callback_data=NpsCb(s=survey_id, v=v).pack()) for v in range(11)
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[:6], buttons[6:]])


def survey_message(
    t: Translator, *, survey_id: int, customer_name: str, shop: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The question with its 0-10 keyboard."""
    text = t("nps-question", name=customer_name or "👋", shop=shop)
    return text, score_keyboard(survey_id)


def fresh(data: dict[str, Any], now: datetime) -> bool:
    since = data.get("since")
    try:
        return since is not None and now - datetime.fromisoformat(since) < COMMENT_TTL
    except ValueError:
        return False


async def alert_params(
    session: AsyncSession, *, clock: Clock, rules: Rules, t: Translator, survey_id: int
) -> dict[str, Any]:
    """What the staff alert shows, in the staff's language."""
    survey = await nps.get_survey(session, survey_id=survey_id)
    customer = await customers_svc.get_customer(session, customer_id=survey.customer_id)
    view = await loyalty.balance(session, clock=clock, rules=rules.loyalty, customer_id=customer.id)
    return {
        "score": survey.score if survey.score is not None else "—",
        "trigger": t(f"nps-trigger-{survey.trigger}"),
        "name": customer.display_name,
        "username": f" @{customer.username}" if customer.username else "",
        # Not customer_id/key/...: these are keyword arguments of support.queue_notice.
        "cid": customer.id,
        "ext": customer.external_id or "—",
        "tier": t(f"tier-{view.tier}"),
        "points": points(t, view.spendable),
        "orders": t("orders-n", n=view.orders),
        "spend": money(t, view.spend_minor, view.currency),
        "comment": survey.comment or t("nps-staff-no-comment"),
    }


async def queue_alert(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    i18n: I18n,
    survey_id: int,
    language: str,
) -> bool:
    """Queue the detractor alert for the customer's staff topic (once). Only the survey's id is
    stored: the alert is rendered in the staff language when it is posted (`render_alert`), so
    it shows the figures of that moment and no formatted text sits in the queue."""
    group = staff_group(settings, language)
    if group is None:
        log.warning("NPS detractor (survey %s) but SUPPORT_CHAT_ID is not set: no staff alert", survey_id)
    return await nps.queue_staff_alert(
        session,
        clock=clock,
        survey_id=survey_id,
        group_chat_id=group,
        key="nps-staff-alert",
        params={"render": "nps_alert", "survey_id": survey_id},
    )


async def render_alert(
    session: AsyncSession, *, clock: Clock, rules: Rules, t: Translator, payload: dict[str, Any]
) -> str:
    """The detractor alert's text, rendered when the staff post is sent."""
    survey_id = int(payload["survey_id"])
    params = await alert_params(session, clock=clock, rules=rules, t=t, survey_id=survey_id)
    return t("nps-staff-alert", **params)


# ------------------------------------------------------------------ score


@router.callback_query(NpsCb.filter())
async def on_score(
    query: CallbackQuery,
    callback_data: NpsCb,
    ctx: BotContext,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    try:
        async with ctx.db.begin() as session:
            result = await nps.record_score(
                session,
                clock=ctx.clock,
                loyalty_rules=ctx.rules.loyalty,
                survey_id=callback_data.s,
                customer_id=customer.id,
                score=callback_data.v,
            )
    except DomainError:
        await show(query, t("nps-closed"))
        return
    if result.already:
        await show(query, t("nps-your-score", score=result.score) + "\n\n" + t("nps-already"))
        return
    await state.set_state(NpsStates.comment)
    question = query.message.message_id if isinstance(query.message, Message) else None
    await state.set_data({"survey": result.survey_id, "since": ctx.clock.now().isoformat(), "msg": question})
    skip = InlineKeyboardButton(
        text=t("nps-skip"), callback_data=NpsActCb(s=result.survey_id, a="skip").pack()
    )
    ask = t(f"nps-ask-{result.category}", score=result.score)
    text = t("nps-your-score", score=result.score) + "\n\n" + ask
    await show(query, text, InlineKeyboardMarkup(inline_keyboard=[[skip]]))


# ------------------------------------------------------------------ why?


@router.message(NpsStates.comment, F.text, ~F.text.startswith("/"))
async def on_comment(
    message: Message,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
    ctx: BotContext,
) -> None:
    data = await state.get_data()
    if not fresh(data, ctx.clock.now()) or "survey" not in data:
        await state.clear()
        raise SkipHandler()
    await state.clear()
    if data.get("msg") and message.bot is not None:
        # The 'Skip' under the question has no purpose once they wrote.
        with contextlib.suppress(TelegramAPIError):
            await message.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=data["msg"], reply_markup=None
            )
    await finish(
        message, ctx=ctx, customer=customer, t=t, survey_id=int(data["survey"]), comment=message.text
    )


@router.callback_query(NpsActCb.filter(F.a == "skip"))
async def on_skip(
    query: CallbackQuery,
    callback_data: NpsActCb,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
    ctx: BotContext,
) -> None:
    await state.clear()
    try:
        async with ctx.db() as session:
            survey = await nps.get_survey(session, survey_id=callback_data.s)
    except DomainError:
        await show(query, t("nps-closed"))
        return
    # The question stays in the chat with the score; the thanks comes as the next message.
    await show(query, t("nps-your-score", score=survey.score))
    if isinstance(query.message, Message):
        await finish(query.message, ctx=ctx, customer=customer, t=t, survey_id=callback_data.s, comment=None)


async def finish(
    message: Message,
    *,
    customer: CustomerView,
    t: Translator,
    survey_id: int,
    comment: str | None,
    ctx: BotContext,
) -> None:
    """Store the 'why?' (or its skip) and answer as the score deserves."""
    alerted = False
    try:
        async with ctx.db.begin() as session:
            survey, completed = await nps.record_comment(
                session, clock=ctx.clock, survey_id=survey_id, customer_id=customer.id, comment=comment
            )
            if completed and survey.category == DETRACTOR:
                alerted = await queue_alert(
                    session,
                    clock=ctx.clock,
                    settings=ctx.settings,
                    i18n=ctx.i18n,
                    survey_id=survey_id,
                    language=customer.language,
                )
    except DomainError:
        await message.answer(t("nps-closed"))
        return
    if alerted:
        ctx.notify("group_posts")
    if not completed:
        await message.answer(t("nps-already"))
        return
    if survey.category == PROMOTER:
        async with ctx.db.begin() as session:
            info = await loyalty.referral_info(session, clock=ctx.clock, customer_id=customer.id)
        link = info.link or info.start_command
        reward = ctx.rules.loyalty
        text = t(
            "nps-thanks-promoter",
            link=link,
            referrer=points(t, reward.referral_reward_referrer),
            referred=points(t, reward.referral_reward_referred),
        )
        shop = ctx.settings.business_name
        markup = (
            InlineKeyboardMarkup(inline_keyboard=[[share_button(t, info.link, shop)]]) if info.link else None
        )
        await message.answer(text, reply_markup=markup)
    elif survey.category == DETRACTOR:
        if staff_group(ctx.settings, customer.language) is None:
            await message.answer(t("nps-handoff-later"))
            return
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=t("nps-talk"), callback_data=NpsActCb(s=survey_id, a="talk").pack()
                    ),
                    InlineKeyboardButton(
                        text=t("nps-no-thanks"), callback_data=NpsActCb(s=survey_id, a="no").pack()
                    ),
                ]
            ]
        )
        await message.answer(t("nps-thanks-detractor"), reply_markup=markup)
    else:
        await message.answer(t("nps-thanks-passive"))


# ------------------------------------------------------------------ detractor follow-up


@router.callback_query(NpsActCb.filter(F.a == "talk"))
async def on_talk(
    query: CallbackQuery,
    callback_data: NpsActCb,
    customer: CustomerView,
    t: Translator,
    ctx: BotContext,
) -> None:
    group = staff_group(ctx.settings, customer.language)
    if group is None:
        await show(query, t("nps-handoff-later"))
        return
    try:
        async with ctx.db.begin() as session:
            await nps.open_detractor_case(
                session,
                clock=ctx.clock,
                survey_id=callback_data.s,
                customer_id=customer.id,
                group_chat_id=group,
            )
    except DomainError:
        await show(query, t("nps-closed"))
        return
    ctx.notify("group_posts")
    await show(query, t("nps-handoff"))


@router.callback_query(NpsActCb.filter(F.a == "no"))
async def on_no_thanks(query: CallbackQuery, t: Translator) -> None:
    await show(query, t("nps-declined"))


# ------------------------------------------------------------------ from the menu


async def start_rating(
    query: CallbackQuery,
    *,
    ctx: BotContext,
    customer: CustomerView,
    t: Translator,
) -> None:
    """The customer chose 'Rate us' in the feedback menu (one answer per cooldown counts)."""
    cooldown = ctx.rules.nps.answered_cooldown
    async with ctx.db.begin() as session:
        last = await nps.last_response(session, customer_id=customer.id)
        if last is not None and last.answered_at and ctx.clock.now() - last.answered_at < cooldown:
            survey = None
        else:
            survey = await nps.start_from_menu(
                session,
                clock=ctx.clock,
                rules=ctx.rules.nps,
                customer_id=customer.id,
                chat_id=query.from_user.id,
            )
    if survey is None:
        assert last is not None and last.answered_at is not None
        when = day(t, last.answered_at, zone(customer.timezone, ctx.settings.default_timezone))
        back = InlineKeyboardMarkup(inline_keyboard=[[menu.back_button(t)]])
        await show(query, t("nps-rated-recently", score=last.score, date=when), back)
        return
    text, markup = survey_message(
        t, survey_id=survey.id, customer_name=name_of(customer, "👋"), shop=ctx.settings.business_name
    )
    await show(query, text, markup)


def render_survey(
    t: Translator, settings: Settings, out: Outgoing
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The NPS question as the delivery worker sends it (from plain data, at send time)."""
    name = out.data.get("first_name") or (f"@{out.data['username']}" if out.data.get("username") else "")
    return survey_message(t, survey_id=out.id, customer_name=name, shop=settings.business_name)
