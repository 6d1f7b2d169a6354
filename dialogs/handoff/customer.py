"""Customer side of a case: ask for a person, talk through the bot, cancel, rate (CSAT)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram import Bot, F
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from pydantic import BaseModel

from core import support
from core.customers import CustomerView
from core.faq import FaqLibrary
from dialogs import menu
from dialogs.common import show
from dialogs.flow import END, Flow, Turn, Wait, leave, on_button, on_edit, on_message
from dialogs.handoff.flow import CancelCaseCb, HumanCb, cancel_keyboard, request_human
from dialogs.i18n import Translator
from storage.db import Database

# This flow's main-menu item (listed by the composition root, supportbot/runtime.py).
MENU_ITEMS = (menu.MenuItem("human", 20, lambda t, _c: t("menu-human"), feature_key="feature-human"),)

ACTIVE_CASE = "support_active_case"  # the customer middleware's read for a new message


class CsatCb(CallbackData, prefix="cs"):
    case: int
    score: int


class CsatSkipCb(CallbackData, prefix="cx"):
    case: int


# ------------------------------------------------------------------ states


class Csat(StatesGroup):
    comment = State()


class CsatData(BaseModel):
    csat_case: int  # the case whose CSAT comment is awaited


# A comment is awaited until they write or skip, ask for a person (dialogs/handoff/flow.py
# request_human ends any wait), or for 3 hours: a later text is something new (a question, a
# follow-up), never stored as the old case's comment.
CSAT_COMMENT = Wait(Csat.comment, CsatData, ttl=timedelta(hours=3))


async def active_case_probe(db: Database, customer_id: int) -> tuple[support.CaseView, bool] | None:
    """Read with the customer (bot/middlewares.py `message_probes`): a hot read, no session."""
    return await support.read_active_case_and_ban(db, customer_id=customer_id)


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


def relay_args(message: Message, customer: CustomerView | None, faq: FaqLibrary | None) -> dict[str, Any]:
    """A customer's message as core's relay takes it, with the FAQ entries staff may send in
    answer (ids only)."""
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


def bot_of(event: Message | CallbackQuery) -> Bot:
    assert event.bot is not None  # an update fed by the dispatcher always has its bot
    return event.bot


# ------------------------------------------------------------------ renderers


def csat_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """1-5 stars under the 'case closed' message (sent by dialogs/handoff/staff.py)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=f"{n} ⭐", callback_data=CsatCb(case=case_id, score=n).pack())
                for n in range(1, 6)
            ]
        ]
    )


def csat_comment_message(t: Translator, case_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """Thanks for the score, and a comment is welcome ('Skip' if not)."""
    skip = InlineKeyboardButton(text=t("csat-skip"), callback_data=CsatSkipCb(case=case_id).pack())
    return t("csat-thanks-score"), InlineKeyboardMarkup(inline_keyboard=[[skip]])


def menu_keyboard(turn: Turn) -> InlineKeyboardMarkup:
    assert turn.main_menu is not None  # the composition root always gives the menu
    return turn.main_menu.keyboard(turn.t, turn.who)


# ------------------------------------------------------------------ callbacks


async def on_human_command(message: Message, turn: Turn) -> None:
    await request_human(turn, bot_of(message), message.chat.id, origin="command")


async def on_human_menu(query: CallbackQuery, turn: Turn) -> None:
    await query.answer()
    await request_human(turn, bot_of(query), query.from_user.id, origin="menu")


async def on_human_button(query: CallbackQuery, callback_data: HumanCb, turn: Turn) -> None:
    """ "Talk to a person" under an FAQ answer: the question travels with the request."""
    await query.answer()
    origin = callback_data.origin if callback_data.origin in {"faq_no", "faq_none", "menu"} else "menu"
    await request_human(turn, bot_of(query), query.from_user.id, origin=origin, faq_query_id=callback_data.q)


async def on_cancel(query: CallbackQuery, turn: Turn) -> None:
    case = await turn.uow.write(support.cancel_case, clock=turn.clock, customer_id=turn.who.id)
    if case is None:
        await show(query, turn.t("handoff-nothing-to-cancel"), menu_keyboard(turn))
        return
    turn.ctx.notify("group_posts")
    await show(query, turn.t("handoff-cancelled", number=case.number), menu_keyboard(turn))


async def on_csat(query: CallbackQuery, callback_data: CsatCb, turn: Turn) -> None:
    """A score pressed under 'case closed': the first one counts; then a comment is welcome."""
    rating = await turn.uow.write(
        support.rate_case,
        clock=turn.clock,
        case_id=callback_data.case,
        customer_id=turn.who.id,
        score=max(1, min(5, callback_data.score)),
    )
    if rating.case is None:  # not their case
        await query.answer()
        return
    if not rating.stored:
        await show(query, turn.t("csat-expired"))
        return
    turn.ctx.notify("group_posts")
    await CSAT_COMMENT.enter(turn, CsatData(csat_case=rating.case.id))
    await show(query, *csat_comment_message(turn.t, rating.case.id))


async def on_csat_skip(query: CallbackQuery, turn: Turn) -> None:
    await leave(turn)
    await show(query, turn.t("csat-thanks"), menu_keyboard(turn))


async def on_csat_comment(message: Message, turn: Turn) -> None:
    """Their CSAT comment goes to staff with the score."""
    wait = await CSAT_COMMENT.read(turn)
    if wait is None:
        raise SkipHandler()
    await leave(turn)
    rating = await turn.uow.write(
        support.rate_case,
        clock=turn.clock,
        case_id=wait.csat_case,
        customer_id=turn.who.id,
        comment=message.text,
    )
    if rating.stored:
        turn.ctx.notify("group_posts")
    await message.answer(turn.t("csat-thanks"), reply_markup=menu_keyboard(turn))


# ------------------------------------------------------------------ relaying


async def on_message_in_case(message: Message, turn: Turn) -> None:
    """While a case is active every message goes to staff (nothing is answered by the bot);
    without one, the message is someone else's (a follow-up, the FAQ)."""
    if turn.customer is None:
        raise SkipHandler()
    if ACTIVE_CASE in turn.data:  # read with the customer
        found = turn.data[ACTIVE_CASE]
    else:
        found = await support.read_active_case_and_ban(turn.ctx.db, customer_id=turn.customer.id)
    if found is None:
        raise SkipHandler()
    case, banned = found
    if banned:
        return  # relaying stopped by staff; ignored on purpose
    # Hot statements on the database itself, not a session (core/support/relay.py): this runs
    # for every message a customer writes in a case.
    args = relay_args(message, turn.customer, turn.faq)
    await support.relay_into_case(turn.ctx.db, clock=turn.clock, case=case, **args)
    turn.ctx.notify("group_posts")


async def on_follow_up(message: Message, turn: Turn) -> None:
    """A message soon after staff closed the customer's case: it opens the next case."""
    if turn.customer is None:
        raise SkipHandler()
    last = await turn.uow.read(
        support.follow_up_case,
        clock=turn.clock,
        customer_id=turn.customer.id,
        days=turn.settings.support_followup_days,
    )
    if last is None:
        raise SkipHandler()
    done = await turn.uow.write(
        support.follow_up, clock=turn.clock, last=last, message=relay_args(message, turn.customer, turn.faq)
    )
    turn.ctx.notify("group_posts")
    if done.created:  # once per case, not for every message of an album
        await message.answer(
            turn.t("handoff-opened-with-question", number=done.case.number),
            reply_markup=cancel_keyboard(turn.t),
        )


async def on_customer_edit(message: Message, turn: Turn) -> None:
    """An edit of a relayed message is mirrored in the topic; other edits are ignored."""
    relayed = await turn.uow.write(
        support.customer_edited,
        clock=turn.clock,
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=message.text or message.caption,
    )
    if relayed:
        turn.ctx.notify("group_posts")


async def on_staff_command_in_private(message: Message, turn: Turn) -> None:
    await message.answer(turn.t("handoff-staff-only"))


# ------------------------------------------------------------------ the flow

flow = Flow(
    "handoff_customer",
    states=Csat,
    doc="The customer's side of a case: a person asked for, messages relayed, the case rated.",
    on=[
        on_message(on_human_command, Command("human", "support", "operator"), when="/human", goes_to=[END]),
        on_button(
            on_human_menu, menu.MenuCb.filter(F.action == "human"), when="menu: a person", goes_to=[END]
        ),
        on_button(on_human_button, HumanCb.filter(), when="FAQ: talk to a person", goes_to=[END]),
        on_button(on_cancel, CancelCaseCb.filter(), when="cancels the request"),
        on_button(on_csat, CsatCb.filter(), when="rates the closed case", goes_to=[CSAT_COMMENT]),
        on_button(on_csat_skip, CsatSkipCb.filter(), when="skips the comment", goes_to=[END]),
        on_message(
            on_csat_comment,
            F.text,
            ~F.text.startswith("/"),
            when="writes a comment",
            runs_in=CSAT_COMMENT,
            goes_to=[END],
        ),
        on_message(on_message_in_case, ~F.text.startswith("/"), when="writes in an active case"),
        on_message(on_follow_up, ~F.text.startswith("/"), when="writes soon after a case closed"),
        on_edit(on_customer_edit, F.chat.type == "private", when="edits a relayed message"),
        on_message(
            on_staff_command_in_private, Command("close", "ban", "unban", "note"), when="a staff command"
        ),
    ],
)
router = flow.router
