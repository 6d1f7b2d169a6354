"""The exit interview (from the API, the feedback menu or a win-back campaign) and the feedback
menu itself.

One tap gives the reason; the reason decides what comes next (see core.exit_interview).
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import date, timedelta

from aiogram import F
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from pydantic import BaseModel

from core import exit_interview as svc
from core.delivery.outgoing import Outgoing
from core.errors import DomainError
from core.outreach import sequences
from core.settings import Settings
from dialogs import menu
from dialogs.common import name_of, show
from dialogs.flow import END, Flow, Turn, Wait, leave, on_button, on_message
from dialogs.i18n import Translator
from dialogs.loyalty.format import day, zone
from dialogs.nps.handlers import staff_group, start_rating
from dialogs.outreach.handlers import EXIT, CampaignCb

DATE_RE = re.compile(r"^\s*(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{4})\s*$")
# The break buttons: their label and the break's length (months, days).
BREAKS = {
    "b2w": ("exit-break-2w", 0, 14),
    "b1m": ("exit-break-1m", 1, 0),
    "b3m": ("exit-break-3m", 3, 0),
    "b6m": ("exit-break-6m", 6, 0),
}
KNOWN_EVENTS = ("subscription_cancelled", "account_closed")
# An answer in words (a detail, a date) left this long is not awaited any more: later text is
# probably a new question for support or the FAQ (as the NPS 'why?', dialogs/nps).
ANSWER_TTL = timedelta(hours=3)


class FeedbackCb(CallbackData, prefix="fbk"):
    a: str  # rate | leave


class ExitCb(CallbackData, prefix="ex"):
    i: int  # interview id
    r: str  # reason


class ExitActCb(CallbackData, prefix="exa"):
    i: int
    a: str  # skip | wy | wn | b2w | b1m | b3m | b6m | bno


# This flow's main-menu item (listed by the composition root, supportbot/runtime.py).
MENU_ITEMS = (
    menu.MenuItem("feedback", 40, lambda t, _c: t("menu-feedback"), feature_key="feature-feedback"),
)


def parse_date(text: str) -> date | None:
    """A date as customers type it: day, month, year (01.06.2026, 1/6/2026, ...)."""
    m = DATE_RE.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None


# ------------------------------------------------------------------ states


class ExitStates(StatesGroup):
    detail = State()
    break_date = State()


class DetailData(BaseModel):
    interview: int  # the interview whose detail in words is awaited
    reason: str  # feature | competitor | other
    msg: int | None = None  # the question's message, whose 'Skip' goes once they write


class BreakData(BaseModel):
    interview: int  # the interview whose break date is awaited


DETAIL = Wait(ExitStates.detail, DetailData, ttl=ANSWER_TTL)
BREAK_DATE = Wait(ExitStates.break_date, BreakData, ttl=ANSWER_TTL)


# ------------------------------------------------------------------ renderers


def feedback_menu(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [InlineKeyboardButton(text=t("feedback-rate"), callback_data=FeedbackCb(a="rate").pack())],
        [InlineKeyboardButton(text=t("feedback-leave"), callback_data=FeedbackCb(a="leave").pack())],
        [menu.back_button(t)],
    ]
    return t("feedback-title"), InlineKeyboardMarkup(inline_keyboard=rows)


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


def render_interview(
    t: Translator, settings: Settings, out: Outgoing
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The exit interview's first question as the delivery worker sends it."""
    name = out.data.get("first_name") or (f"@{out.data['username']}" if out.data.get("username") else "")
    return question(t, interview_id=out.id, customer_name=name, event=out.data.get("event"))


def _act(t: Translator, interview_id: int, action: str, key: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t(key), callback_data=ExitActCb(i=interview_id, a=action).pack())


def reason_message(
    turn: Turn, outcome: svc.ReasonOutcome, chosen: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Their reason, and what comes next for it: the save offer, a question in words, may we
    write again?, a person (or why not now), or how long a break."""
    t = turn.t
    iid = outcome.interview.id
    reason = outcome.interview.reason or chosen
    head = t("exit-your-answer", reason=t(f"exit-reason-{reason}"))
    if outcome.already:
        return head + "\n\n" + t("exit-already"), None
    markup: InlineKeyboardMarkup | None = None
    if reason == "price":
        offer = outcome.offer
        tz = zone(turn.who.timezone, turn.settings.default_timezone)
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
    elif reason in svc.DETAIL_REASONS:
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
    elif reason in svc.HANDOVER_REASONS:
        if not outcome.handed_over:  # no staff group to hand them to
            body = t("exit-handoff-later")
        else:
            body = t("exit-technical" if reason == "technical" else "exit-support")
    else:  # break
        body = t("exit-break-ask")
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [_act(t, iid, "b2w", "exit-break-2w"), _act(t, iid, "b1m", "exit-break-1m")],
                [_act(t, iid, "b3m", "exit-break-3m"), _act(t, iid, "b6m", "exit-break-6m")],
                [_act(t, iid, "bno", "exit-break-never")],
            ]
        )
    return head + "\n\n" + body, markup


def detail_reply(t: Translator, outcome: svc.DetailOutcome, text: str | None) -> str:
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


def break_reply(t: Translator, until: date | None) -> str:
    if until is None:
        return t("exit-break-none")
    return t("exit-break-set", date=day(t, until))


# ------------------------------------------------------------------ callbacks: the feedback menu


async def on_feedback_menu(query: CallbackQuery, turn: Turn) -> None:
    await show(query, *feedback_menu(turn.t))


async def on_rate(query: CallbackQuery, turn: Turn) -> None:
    await start_rating(query, turn)


async def on_leave(query: CallbackQuery, turn: Turn) -> None:
    interview = await turn.uow.write(
        svc.start_from_menu, clock=turn.clock, customer_id=turn.who.id, chat_id=query.from_user.id
    )
    text, markup = question(
        turn.t, interview_id=interview.id, customer_name=name_of(turn.who, "👋"), event=None
    )
    await show(query, text, markup)


# ------------------------------------------------------------------ callbacks: the reason


async def on_reason(query: CallbackQuery, callback_data: ExitCb, turn: Turn) -> None:
    """A reason pressed under the interview's question."""
    try:
        outcome = await turn.uow.write(
            svc.answer_reason,
            clock=turn.clock,
            rules=turn.rules.exit,
            interview_id=callback_data.i,
            customer_id=turn.who.id,
            reason=callback_data.r,
            staff_group=staff_group(turn.settings, turn.who.language),
        )
    except DomainError:
        await show(query, turn.t("exit-already"))
        return
    await follow_reason(query, turn, outcome, chosen=callback_data.r)


async def on_campaign_reason(query: CallbackQuery, callback_data: CampaignCb, turn: Turn) -> None:
    """A win-back reason pressed on a campaign message: a reply to the campaign, and the exit
    interview opened with that reason, whose answer comes in place of the campaign message.
    (Declared here, not in dialogs/outreach, because it enters this flow's states; other
    campaign buttons are dialogs/outreach's.)"""
    try:
        outcome = await turn.uow.write(
            sequences.answer_with_reason,
            clock=turn.clock,
            exit_rules=turn.rules.exit,
            customer_id=turn.who.id,
            recipient_id=callback_data.r,
            reason=callback_data.v,
            chat_id=query.from_user.id,
            staff_group=staff_group(turn.settings, turn.who.language),
        )
    except DomainError:  # as under the interview's own question
        await show(query, turn.t("exit-already"))
        return
    if outcome is None:
        await show(query, turn.t("outreach-gone"))
        return
    await follow_reason(query, turn, outcome, chosen=callback_data.v)


async def follow_reason(query: CallbackQuery, turn: Turn, outcome: svc.ReasonOutcome, *, chosen: str) -> None:
    """What a reason given (`on_reason`, `on_campaign_reason`) leads to: a wait for words or a
    date where the reason asks for one, the staff told of a hand-over, the reply in place of the
    question."""
    if not outcome.already:
        reason = outcome.interview.reason or chosen
        iid = outcome.interview.id
        if reason in svc.DETAIL_REASONS:
            msg = query.message.message_id if isinstance(query.message, Message) else None
            await DETAIL.enter(turn, DetailData(interview=iid, reason=reason, msg=msg))
        elif reason == "break":
            await BREAK_DATE.enter(turn, BreakData(interview=iid))
        if outcome.handed_over:
            turn.ctx.notify("group_posts")
    await show(query, *reason_message(turn, outcome, chosen))


# ------------------------------------------------------------------ callbacks: details in words


async def on_detail(message: Message, turn: Turn) -> None:
    """Which feature, which provider, or what else (a wait older than ANSWER_TTL is over: the
    text goes to whoever is next)."""
    wait = await DETAIL.read(turn)
    if wait is None:
        raise SkipHandler()
    try:
        outcome = await turn.uow.write(
            svc.set_detail,
            clock=turn.clock,
            interview_id=wait.interview,
            customer_id=turn.who.id,
            text=message.text,
        )
    except DomainError as exc:
        if exc.code == "invalid_feature":  # still waiting for the feature in words
            await message.answer(turn.t("exit-feature-bad"))
            return
        await leave(turn)
        await message.answer(turn.t("exit-already"))
        return
    await leave(turn)
    if wait.msg and message.bot is not None:
        # The 'Skip' under the question has no purpose once they wrote.
        with suppress(TelegramAPIError):
            await message.bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=wait.msg, reply_markup=None
            )
    await message.answer(detail_reply(turn.t, outcome, message.text))


async def on_skip(query: CallbackQuery, callback_data: ExitActCb, turn: Turn) -> None:
    await leave(turn)
    try:
        outcome = await turn.uow.write(
            svc.set_detail, clock=turn.clock, interview_id=callback_data.i, customer_id=turn.who.id, text=None
        )
    except DomainError:
        await show(query, turn.t("exit-already"))
        return
    await show(query, detail_reply(turn.t, outcome, None))


# ------------------------------------------------------------------ callbacks: may we write again?


async def on_may_write(query: CallbackQuery, callback_data: ExitActCb, turn: Turn) -> None:
    allowed = callback_data.a == "wy"
    try:
        await turn.uow.write(
            svc.set_may_write,
            clock=turn.clock,
            interview_id=callback_data.i,
            customer_id=turn.who.id,
            allowed=allowed,
        )
    except DomainError:
        await show(query, turn.t("exit-already"))
        return
    await show(query, turn.t("exit-may-write-ok" if allowed else "exit-may-write-off"))


# ------------------------------------------------------------------ callbacks: a break


async def on_break_choice(query: CallbackQuery, callback_data: ExitActCb, turn: Turn) -> None:
    """A break's length pressed (or no reminder at all): counted from their today in core."""
    await leave(turn)
    try:
        if callback_data.a in BREAKS:
            _, months, days = BREAKS[callback_data.a]
            interview = await turn.uow.write(
                svc.take_break,
                clock=turn.clock,
                interview_id=callback_data.i,
                customer_id=turn.who.id,
                months=months,
                days=days,
                default_timezone=turn.settings.default_timezone,
            )
        else:
            interview = await turn.uow.write(
                svc.set_break,
                clock=turn.clock,
                interview_id=callback_data.i,
                customer_id=turn.who.id,
                until=None,
                default_timezone=turn.settings.default_timezone,
            )
    except DomainError:
        await show(query, turn.t("exit-already"))
        return
    await show(query, break_reply(turn.t, interview.break_until))


async def on_break_date(message: Message, turn: Turn) -> None:
    """A date typed for the break's end (a wait older than ANSWER_TTL is over)."""
    wait = await BREAK_DATE.read(turn)
    if wait is None:
        raise SkipHandler()
    until = parse_date(message.text or "")
    if until is None:
        await message.answer(turn.t("exit-break-bad"))
        return
    try:
        interview = await turn.uow.write(
            svc.set_break,
            clock=turn.clock,
            interview_id=wait.interview,
            customer_id=turn.who.id,
            until=until,
            default_timezone=turn.settings.default_timezone,
        )
    except DomainError as exc:
        if exc.code in ("date_in_past", "date_too_far"):  # still waiting for a date that fits
            await message.answer(turn.t("exit-break-bad"))
            return
        await leave(turn)
        await message.answer(turn.t("exit-already"))
        return
    await leave(turn)
    await message.answer(break_reply(turn.t, interview.break_until))


# ------------------------------------------------------------------ the flow

flow = Flow(
    "exit_interview",
    states=ExitStates,
    doc="The feedback menu and the exit interview: a reason, then what fits it (an offer, "
    "words, a person, a break).",
    on=[
        on_button(on_feedback_menu, menu.MenuCb.filter(F.action == "feedback"), when="opens Feedback"),
        on_button(on_rate, FeedbackCb.filter(F.a == "rate"), when="presses Rate us"),
        on_button(on_leave, FeedbackCb.filter(F.a == "leave"), when="presses I want to leave"),
        on_button(on_reason, ExitCb.filter(), when="presses a reason", goes_to=[DETAIL, BREAK_DATE]),
        on_button(
            on_campaign_reason,
            CampaignCb.filter((F.k == EXIT) & F.v.in_(set(svc.REASONS))),
            when="presses a reason on a win-back message",
            goes_to=[DETAIL, BREAK_DATE],
        ),
        on_message(
            on_detail,
            F.text,
            ~F.text.startswith("/"),
            when="writes the detail in words",
            runs_in=DETAIL,
            goes_to=[END],
        ),
        on_button(on_skip, ExitActCb.filter(F.a == "skip"), when="presses Skip", goes_to=[END]),
        on_button(on_may_write, ExitActCb.filter(F.a.in_({"wy", "wn"})), when="answers may we write again"),
        on_button(
            on_break_choice,
            ExitActCb.filter(F.a.in_({*BREAKS, "bno"})),
            when="presses a break length",
            goes_to=[END],
        ),
        on_message(
            on_break_date,
            F.text,
            ~F.text.startswith("/"),
            when="writes a date",
            runs_in=BREAK_DATE,
            goes_to=[END],
        ),
    ],
)
router = flow.router
