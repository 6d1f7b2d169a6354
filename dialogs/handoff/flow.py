"""Opening a case, shared by every way a customer reaches a person (menu, /human, FAQ "no",
a low NPS score, an exit interview...): the buttons that lead here, the staff group that
serves a customer, and `request_human`, which the callbacks of dialogs/handoff/customer.py call."""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from core import support
from core.business_hours import BusinessHours
from core.customers import CustomerView
from core.settings import Settings
from dialogs.flow import Turn, leave
from dialogs.i18n import Translator


class HumanCb(CallbackData, prefix="hu"):
    origin: str = "menu"
    q: int = 0  # the FAQ query that led here, if any


class CancelCaseCb(CallbackData, prefix="hx"):
    pass


def business_hours(settings: Settings) -> BusinessHours:
    return BusinessHours(
        days=frozenset(settings.business_hours_days),
        start=settings.business_hours_start,
        end=settings.business_hours_end,
        timezone=settings.business_timezone,
    )


def staff_group_for(settings: Settings, customer: CustomerView, category: str | None = None) -> int | None:
    return support.route_group(
        default=settings.support_chat_id,
        routes=settings.support_routes,
        language=customer.language,
        category=category,
    )


def staff_groups(settings: Settings) -> set[int]:
    groups = set(settings.support_routes.values())
    if settings.support_chat_id is not None:
        groups.add(settings.support_chat_id)
    return groups


def cancel_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=t("handoff-cancel"), callback_data=CancelCaseCb().pack())]
        ]
    )


def human_button(t: Translator, origin: str, query_id: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t("menu-human"), callback_data=HumanCb(origin=origin, q=query_id).pack())


def request_message(t: Translator, request: support.PersonRequest, zone: str) -> str:
    """What happens next: the case's number, and when support opens if it is closed now."""
    assert request.case is not None
    if not request.created:
        text = t("handoff-already", number=request.case.number)
    elif request.with_question:
        text = t("handoff-opened-with-question", number=request.case.number)
    else:
        text = t("handoff-opened", number=request.case.number)
    if request.opens_at is not None:
        opens = request.opens_at
        when = t(
            "handoff-offline-when",
            day=t(f"weekday-{opens.isoweekday()}"),
            time=opens.strftime("%H:%M"),
            zone=zone,
        )
        text += "\n\n" + t("handoff-offline", when=when)
    return text


async def request_human(
    turn: Turn,
    bot: Bot,
    chat_id: int,
    *,
    origin: str,
    faq_query_id: int = 0,
    category: str | None = None,
) -> support.CaseView | None:
    """Open (or point to) the customer's case and tell them what happens next (core
    `support.request_person`; under an FAQ answer, `faq_query_id`'s question goes with it)."""
    # Asking for a person ends whatever the chat waited for (a CSAT comment, a birthday...):
    # what they write next is for the person, not an answer to an older question.
    await leave(turn)
    group = staff_group_for(turn.settings, turn.who, category)
    hours = business_hours(turn.settings)
    request = await turn.uow.write(
        support.request_person,
        clock=turn.clock,
        customer_id=turn.who.id,
        group_chat_id=group,
        origin=origin,
        hours=hours,
        faq_query_id=faq_query_id,
    )
    if request.case is None:
        await bot.send_message(chat_id, turn.t("handoff-unavailable"))
        return None
    if request.with_question:
        turn.ctx.notify("group_posts")
    text = request_message(turn.t, request, hours.timezone)
    await bot.send_message(chat_id, text, reply_markup=cancel_keyboard(turn.t))
    return request.case
