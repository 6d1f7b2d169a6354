"""The NPS survey: 0-10 keyboard, an optional 'why?' that fits the score, thanks and follow-up.

Promoters get their referral link, passives are asked what would make it a 10, detractors are
offered a person and an alert with the customer's card and comment goes to the staff group.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from aiogram import F
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core import customers as customers_svc
from core import loyalty, nps, support
from core.clock import Clock
from core.delivery.outgoing import Outgoing
from core.errors import DomainError
from core.loyalty.views import ReferralInfo
from core.nps.rules import DETRACTOR, PROMOTER
from core.nps.surveys import SurveyView
from core.rules import Rules
from core.settings import Settings
from dialogs import menu
from dialogs.common import name_of, show
from dialogs.flow import END, Flow, Turn, Wait, leave, on_button, on_message
from dialogs.i18n import I18n, Translator
from dialogs.loyalty.format import day, money, points, zone
from dialogs.loyalty.handlers import share_button

log = logging.getLogger(__name__)

# A 'why?' left unanswered this long is not waiting any more: later text is probably a new
# question for support or the FAQ, not a comment.
COMMENT_TTL = timedelta(hours=3)


class NpsCb(CallbackData, prefix="nps"):
    s: int  # survey id
    v: int  # score 0-10


class NpsActCb(CallbackData, prefix="npsa"):
    s: int
    a: str  # skip | talk | no


# ------------------------------------------------------------------ states


class NpsStates(StatesGroup):
    comment = State()


class WhyData(BaseModel):
    survey: int  # the survey whose 'why?' is awaited
    msg: int | None = None  # the question's message, whose 'Skip' goes once they write


WHY = Wait(NpsStates.comment, WhyData, ttl=COMMENT_TTL)


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


ALERT_KEY = "nps-staff-alert"


def queued_alert(survey_id: int) -> dict[str, Any]:
    """What a queued alert keeps: only the survey's id (`render_alert` renders it when posted)."""
    return {"render": "nps_alert", "survey_id": survey_id}


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
        key=ALERT_KEY,
        params=queued_alert(survey_id),
    )


async def render_alert(
    session: AsyncSession, *, clock: Clock, rules: Rules, t: Translator, payload: dict[str, Any]
) -> str:
    """The detractor alert's text, rendered when the staff post is sent."""
    survey_id = int(payload["survey_id"])
    params = await alert_params(session, clock=clock, rules=rules, t=t, survey_id=survey_id)
    return t("nps-staff-alert", **params)


# ------------------------------------------------------------------ renderers


def why_message(t: Translator, result: nps.ScoreResult) -> tuple[str, InlineKeyboardMarkup]:
    """The score they gave and the 'why?' that fits it, with 'Skip'."""
    skip = InlineKeyboardButton(
        text=t("nps-skip"), callback_data=NpsActCb(s=result.survey_id, a="skip").pack()
    )
    text = (
        t("nps-your-score", score=result.score) + "\n\n" + t(f"nps-ask-{result.category}", score=result.score)
    )
    return text, InlineKeyboardMarkup(inline_keyboard=[[skip]])


def thanks_message(
    turn: Turn, survey: SurveyView, referral: ReferralInfo | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The thanks as the score deserves: the promoter's referral link, a person for a detractor."""
    t = turn.t
    if survey.category == PROMOTER and referral is not None:
        reward = turn.rules.loyalty
        text = t(
            "nps-thanks-promoter",
            link=referral.link or referral.start_command,
            referrer=points(t, reward.referral_reward_referrer),
            referred=points(t, reward.referral_reward_referred),
        )
        shop = turn.settings.business_name
        share = [[share_button(t, referral.link, shop)]] if referral.link else None
        return text, InlineKeyboardMarkup(inline_keyboard=share) if share else None
    if survey.category == DETRACTOR:
        if staff_group(turn.settings, turn.who.language) is None:
            return t("nps-handoff-later"), None
        buttons = [
            InlineKeyboardButton(text=t("nps-talk"), callback_data=NpsActCb(s=survey.id, a="talk").pack()),
            InlineKeyboardButton(text=t("nps-no-thanks"), callback_data=NpsActCb(s=survey.id, a="no").pack()),
        ]
        return t("nps-thanks-detractor"), InlineKeyboardMarkup(inline_keyboard=[buttons])
    return t("nps-thanks-passive"), None


def recently_message(turn: Turn, last: SurveyView) -> tuple[str, InlineKeyboardMarkup]:
    t = turn.t
    assert last.answered_at is not None
    when = day(t, last.answered_at, zone(turn.who.timezone, turn.settings.default_timezone))
    back = InlineKeyboardMarkup(inline_keyboard=[[menu.back_button(t)]])
    return t("nps-rated-recently", score=last.score, date=when), back


# ------------------------------------------------------------------ callbacks


async def on_score(query: CallbackQuery, callback_data: NpsCb, turn: Turn) -> None:
    """A score pressed: the first one counts; then 'why?' in place of the question."""
    try:
        result = await turn.uow.write(
            nps.record_score,
            clock=turn.clock,
            loyalty_rules=turn.rules.loyalty,
            survey_id=callback_data.s,
            customer_id=turn.who.id,
            score=callback_data.v,
        )
    except DomainError:
        await show(query, turn.t("nps-closed"))
        return
    if result.already:
        await show(query, turn.t("nps-your-score", score=result.score) + "\n\n" + turn.t("nps-already"))
        return
    question = query.message.message_id if isinstance(query.message, Message) else None
    await WHY.enter(turn, WhyData(survey=result.survey_id, msg=question))
    await show(query, *why_message(turn.t, result))


async def on_comment(message: Message, turn: Turn) -> None:
    """Their 'why?' (a wait older than COMMENT_TTL is over: the text goes to whoever is next)."""
    wait = await WHY.read(turn)
    if wait is None:
        raise SkipHandler()
    await leave(turn)
    if wait.msg and message.bot is not None:
        # The 'Skip' under the question has no purpose once they wrote.
        with contextlib.suppress(TelegramAPIError):
            await message.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=wait.msg, reply_markup=None
            )
    await finish(message, turn, survey_id=wait.survey, comment=message.text)


async def on_skip(query: CallbackQuery, callback_data: NpsActCb, turn: Turn) -> None:
    """'Skip' under the 'why?': the question stays with the score; the thanks comes next."""
    await leave(turn)
    try:
        survey = await turn.uow.read(nps.own_survey, survey_id=callback_data.s, customer_id=turn.who.id)
    except DomainError:
        await show(query, turn.t("nps-closed"))
        return
    await show(query, turn.t("nps-your-score", score=survey.score))
    if isinstance(query.message, Message):
        await finish(query.message, turn, survey_id=callback_data.s, comment=None)


async def finish(message: Message, turn: Turn, *, survey_id: int, comment: str | None) -> None:
    """Store the 'why?' (or its skip), alert staff of a detractor, thank as the score deserves."""
    group = staff_group(turn.settings, turn.who.language)
    try:
        done = await turn.uow.write(
            nps.finish,
            clock=turn.clock,
            survey_id=survey_id,
            customer_id=turn.who.id,
            comment=comment,
            staff_group=group,
            alert_key=ALERT_KEY,
            alert_params=queued_alert(survey_id),
        )
    except DomainError:
        await message.answer(turn.t("nps-closed"))
        return
    if done.alerted and group is None:
        log.warning("NPS detractor (survey %s) but SUPPORT_CHAT_ID is not set: no staff alert", survey_id)
    elif done.alerted:
        turn.ctx.notify("group_posts")
    if not done.completed:
        await message.answer(turn.t("nps-already"))
        return
    referral = None
    if done.survey.category == PROMOTER:
        referral = await turn.uow.write(loyalty.referral_info, clock=turn.clock, customer_id=turn.who.id)
    text, markup = thanks_message(turn, done.survey, referral)
    await message.answer(text, reply_markup=markup)


async def on_talk(query: CallbackQuery, callback_data: NpsActCb, turn: Turn) -> None:
    """A detractor wants a person: a support case opens in their staff topic."""
    group = staff_group(turn.settings, turn.who.language)
    if group is None:
        await show(query, turn.t("nps-handoff-later"))
        return
    try:
        await turn.uow.write(
            nps.open_detractor_case,
            clock=turn.clock,
            survey_id=callback_data.s,
            customer_id=turn.who.id,
            group_chat_id=group,
        )
    except DomainError:
        await show(query, turn.t("nps-closed"))
        return
    turn.ctx.notify("group_posts")
    await show(query, turn.t("nps-handoff"))


async def on_no_thanks(query: CallbackQuery, turn: Turn) -> None:
    await show(query, turn.t("nps-declined"))


async def start_rating(query: CallbackQuery, turn: Turn) -> None:
    """'Rate us' in the feedback menu (dialogs/exit_interview): the 0-10 question, or the score
    they gave recently (one answer per cooldown counts: core/nps rate_from_menu)."""
    rating = await turn.uow.write(
        nps.rate_from_menu,
        clock=turn.clock,
        rules=turn.rules.nps,
        customer_id=turn.who.id,
        chat_id=query.from_user.id,
    )
    if rating.survey is None:
        assert rating.last is not None
        await show(query, *recently_message(turn, rating.last))
        return
    text, markup = survey_message(
        turn.t,
        survey_id=rating.survey.id,
        customer_name=name_of(turn.who, "👋"),
        shop=turn.settings.business_name,
    )
    await show(query, text, markup)


def render_survey(
    t: Translator, settings: Settings, out: Outgoing
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The NPS question as the delivery worker sends it (from plain data, at send time)."""
    name = out.data.get("first_name") or (f"@{out.data['username']}" if out.data.get("username") else "")
    return survey_message(t, survey_id=out.id, customer_name=name, shop=settings.business_name)


# ------------------------------------------------------------------ the flow

flow = Flow(
    "nps",
    states=NpsStates,
    doc="The NPS survey: a score, an optional 'why?', thanks that fit the score.",
    on=[
        on_button(on_score, NpsCb.filter(), when="presses a score", goes_to=[WHY]),
        on_message(
            on_comment,
            F.text,
            ~F.text.startswith("/"),
            when="writes why",
            runs_in=WHY,
            goes_to=[END],
        ),
        on_button(on_skip, NpsActCb.filter(F.a == "skip"), when="presses Skip", goes_to=[END]),
        on_button(on_talk, NpsActCb.filter(F.a == "talk"), when="detractor: talk to a person"),
        on_button(on_no_thanks, NpsActCb.filter(F.a == "no"), when="detractor: no, thanks"),
    ],
)
router = flow.router
