"""Staff side: replies, notes, /close, /ban, /unban and edits inside customers' forum topics."""

from __future__ import annotations

import logging
import time

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import BaseFilter, Command
from aiogram.types import Message
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import customers as customers_svc
from core import support
from core.clock import Clock
from core.customers import CustomerView
from core.settings import Settings
from dialogs.context import BotContext
from dialogs.handoff.customer import csat_keyboard, kind_of
from dialogs.handoff.flow import staff_groups
from dialogs.i18n import I18n
from storage.db import Database
from storage.models_support import GroupPost, SupportCase

log = logging.getLogger(__name__)
router = Router(name=__name__)
STAFF_STATUSES = {"creator", "administrator", "member", "restricted"}
ANONYMOUS_ADMIN = 1087968824  # Telegram's GroupAnonymousBot: an admin posting as the group
_membership: dict[tuple[int, int], tuple[bool, float]] = {}


class StaffGroup(BaseFilter):
    """Messages in a configured support group, inside a topic."""

    async def __call__(self, message: Message, settings: Settings) -> bool:
        return message.chat.id in staff_groups(settings)


async def is_staff(bot: Bot, settings: Settings, chat_id: int, user_id: int) -> bool:
    """A member of the support group, or a configured admin id (cached for 5 minutes)."""
    if user_id in settings.admin_ids or user_id == ANONYMOUS_ADMIN:
        return True
    cached = _membership.get((chat_id, user_id))
    if cached and cached[1] > time.monotonic():
        return cached[0]
    try:
        member = await bot.get_chat_member(chat_id, user_id)
        ok = member.status in STAFF_STATUSES
    except TelegramBadRequest:
        ok = False
    _membership[(chat_id, user_id)] = (ok, time.monotonic() + 300)
    return ok


router.message.filter(StaffGroup())
router.edited_message.filter(StaffGroup())


async def _topic_customer(
    db: async_sessionmaker[AsyncSession], message: Message
) -> tuple[support.TopicView, CustomerView] | None:
    if not message.message_thread_id or not message.is_topic_message:
        return None
    async with db() as session:
        return await support.find_by_thread(
            session, group_chat_id=message.chat.id, thread_id=message.message_thread_id
        )


@router.message(Command("queue"))
async def on_queue(
    message: Message, db: async_sessionmaker[AsyncSession], i18n: I18n, settings: Settings, bot: Bot
) -> None:
    t = i18n(settings.staff_language)
    if message.from_user is None or not await is_staff(bot, settings, message.chat.id, message.from_user.id):
        await message.reply(t("staff-refused"))
        return
    async with db() as session:
        counts = dict(
            (
                await session.execute(
                    select(SupportCase.status, func.count())
                    .where(SupportCase.status.in_(support.ACTIVE))
                    .group_by(SupportCase.status)
                )
            ).all()
        )
        queued = await session.scalar(
            select(func.count()).where(
                GroupPost.status == "queued", GroupPost.group_chat_id == message.chat.id
            )
        )
    await message.reply(
        t("staff-queue", waiting=counts.get("waiting", 0), open=counts.get("open", 0), queued=queued or 0)
    )


@router.message(Command("help"))
async def on_staff_help(message: Message, i18n: I18n, settings: Settings) -> None:
    await message.reply(i18n(settings.staff_language)("staff-commands"))


@router.message(Command("close", "ban", "unban"))
async def on_staff_command(
    message: Message,
    bot: Bot,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    i18n: I18n,
    ctx: BotContext,
) -> None:
    t = i18n(settings.staff_language)
    if message.from_user is None or not await is_staff(bot, settings, message.chat.id, message.from_user.id):
        await message.reply(t("staff-refused"))
        return
    found = await _topic_customer(db, message)
    if found is None:
        await message.reply(t("staff-no-case"))
        return
    topic, customer = found
    command = (message.text or "").split()[0].split("@")[0].lstrip("/").lower()
    if command in ("ban", "unban"):
        async with db.begin() as session:
            await support.set_banned(
                session,
                clock=clock,
                customer_id=topic.customer_id,
                group_chat_id=message.chat.id,
                banned=command == "ban",
            )
        await message.reply(t("staff-banned" if command == "ban" else "staff-unbanned"))
        return
    async with db.begin() as session:
        case = await support.close_case(
            session, clock=clock, customer_id=topic.customer_id, closed_by=message.from_user.id
        )
    if case is None:
        await message.reply(t("staff-no-case"))
        return
    staff_name = message.from_user.full_name
    await message.reply(t("staff-case-closed", number=case.number, staff=staff_name))
    ct = i18n(customer.language)
    if customer.telegram_id is not None:
        try:
            await bot.send_message(
                customer.telegram_id,
                ct("handoff-closed", number=case.number),
                reply_markup=csat_keyboard(case.id),
            )
        except TelegramForbiddenError as exc:
            await _unreachable(db, clock, customer.telegram_id, case.id, exc)


async def _unreachable(
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    telegram_id: int,
    case_id: int,
    exc: TelegramForbiddenError,
) -> str:
    reason = "deactivated" if "deactivated" in exc.message.lower() else "blocked"
    async with db.begin() as session:
        await support.record_unreachable(session, case_id=case_id, reason=reason)
        await customers_svc.set_reachable(
            session, clock=clock, telegram_id=telegram_id, reachable=False, reason=reason
        )
    return reason


def _is_note(message: Message) -> bool:
    text = (message.text or message.caption or "").lstrip()
    return text.startswith("//") or text.split(maxsplit=1)[0:1] == ["/note"] or text.startswith("/note@")


@router.message(F.from_user.is_bot.is_(False))
async def on_staff_message(
    message: Message,
    bot: Bot,
    db: Database,
    clock: Clock,
    settings: Settings,
    i18n: I18n,
) -> None:
    """A staff message in a customer's topic goes to the customer (notes stay in the group)."""
    if message.from_user is None or not message.message_thread_id or not message.is_topic_message:
        return  # general chatter outside customers' topics
    if (message.text or "").startswith("/") and not _is_note(message):
        return  # other commands are not relayed
    note = _is_note(message)
    recorded = await support.record_staff_message(
        db,
        clock=clock,
        group_chat_id=message.chat.id,
        thread_id=message.message_thread_id,
        topic_message_id=message.message_id,
        staff_id=message.from_user.id,
        kind=kind_of(message),
        text=message.text or message.caption,
        note=note,
    )
    if recorded is None:
        return  # a topic that is no customer's (made by hand, or forgotten)
    case, support_message_id = recorded.case, recorded.support_message_id
    telegram_id = recorded.customer.telegram_id
    if note or case is None or telegram_id is None:
        return
    t = i18n(settings.staff_language)
    try:
        sent = await bot.copy_message(
            chat_id=telegram_id, from_chat_id=message.chat.id, message_id=message.message_id
        )
    except TelegramForbiddenError as exc:
        reason = await _unreachable(db, clock, telegram_id, case.id, exc)
        await message.reply(t("staff-unreachable", reason=reason))
        return
    except TelegramBadRequest as exc:
        await message.reply(t("staff-not-delivered", reason=exc.message))
        return
    assert support_message_id is not None
    landed = sent.message_id

    # Committed with the update's done mark.
    await db.record(
        [support.delivered_step(support_message_id=support_message_id, customer_message_id=landed)]
    )


@router.edited_message(F.from_user.is_bot.is_(False))
async def on_staff_edit(
    message: Message, bot: Bot, db: async_sessionmaker[AsyncSession], clock: Clock
) -> None:
    """A staff edit updates the copy the customer has."""
    async with db.begin() as session:
        msg = await support.staff_edited(
            session,
            clock=clock,
            group_chat_id=message.chat.id,
            topic_message_id=message.message_id,
            text=message.text or message.caption,
        )
    if msg is None or msg.customer_message_id is None:
        return
    try:
        if message.text is not None:
            await bot.edit_message_text(
                text=message.text,
                chat_id=msg.customer_chat_id,
                message_id=msg.customer_message_id,
                entities=message.entities,
            )
        else:
            await bot.edit_message_caption(
                chat_id=msg.customer_chat_id,
                message_id=msg.customer_message_id,
                caption=message.caption or "",
                caption_entities=message.caption_entities,
            )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            log.warning("staff edit not mirrored: %s", exc.message)
