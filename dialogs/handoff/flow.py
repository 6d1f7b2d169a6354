"""Opening a case, shared by every way a customer reaches a person (menu, /human, FAQ "no",
a low NPS score, an exit interview...)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import support
from core.business_hours import BusinessHours
from core.clock import Clock
from core.customers import CustomerView
from core.settings import Settings
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


async def request_human(
    *,
    bot: Bot,
    chat_id: int,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    t: Translator,
    notify: object,
    origin: str,
    origin_text: str | None = None,
    category: str | None = None,
) -> support.CaseView | None:
    """Open (or point to) the customer's case and tell them what happens next."""
    group = staff_group_for(settings, customer, category)
    if group is None:
        await bot.send_message(chat_id, t("handoff-unavailable"))
        return None
    async with db.begin() as session:
        case, created = await support.open_case(
            session,
            clock=clock,
            customer_id=customer.id,
            group_chat_id=group,
            origin=origin,
            origin_text=origin_text,
        )
    if origin_text:
        notify("group_posts")  # type: ignore[operator]
    if not created:
        text = t("handoff-already", number=case.number)
    elif origin_text:
        text = t("handoff-opened-with-question", number=case.number)
    else:
        text = t("handoff-opened", number=case.number)
    hours = business_hours(settings)
    now = clock.now()
    if not hours.is_open(now):
        opens = hours.next_open(now)
        when = t(
            "handoff-offline-when",
            day=t(f"weekday-{opens.isoweekday()}"),
            time=opens.strftime("%H:%M"),
            zone=hours.timezone,
        )
        text += "\n\n" + t("handoff-offline", when=when)
    await bot.send_message(chat_id, text, reply_markup=cancel_keyboard(t))
    return case
