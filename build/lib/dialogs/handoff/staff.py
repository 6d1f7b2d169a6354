"""Staff side: replies, notes, /close, /ban, /unban and edits inside customers' forum topics.

Every staff group has one forum topic per customer (bot/staff_posts_send.py opens it with the
card, dialogs/handoff/card.py). Nothing here waits for an answer: each command or message is
handled on its own, so the flow has no states. The person is the staff member
(`event.from_user`); there is no customer in the update (`turn.customer` is None), the customer
is the topic's (core/support).
"""

from __future__ import annotations

import logging
import time

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import BaseFilter, Command
from aiogram.types import InlineKeyboardMarkup, Message

from core import support
from core.settings import Settings
from dialogs.flow import Flow, Turn, on_edit, on_message
from dialogs.handoff.customer import csat_keyboard, kind_of
from dialogs.handoff.flow import staff_groups
from dialogs.i18n import Translator

log = logging.getLogger(__name__)
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


# ------------------------------------------------------------------ renderers


def staff_t(turn: Turn) -> Translator:
    """Staff read the bot in the staff language, whatever their Telegram's."""
    return turn.ctx.i18n(turn.settings.staff_language)


def queue_text(t: Translator, view: support.QueueView) -> str:
    return t("staff-queue", waiting=view.waiting, open=view.open, queued=view.queued)


def closed_for_customer(t: Translator, case: support.CaseView) -> tuple[str, InlineKeyboardMarkup]:
    """What the customer gets when staff close their case: the closing and a CSAT rating."""
    return t("handoff-closed", number=case.number), csat_keyboard(case.id)


# ------------------------------------------------------------------ callbacks


async def refused(message: Message, turn: Turn) -> bool:
    """Staff commands are for staff: anyone else in the group is told so (True: refused)."""
    user = message.from_user
    if user is None or not await is_staff(turn.ctx.bot, turn.settings, message.chat.id, user.id):
        await message.reply(staff_t(turn)("staff-refused"))
        return True
    return False


def thread_of(message: Message) -> int | None:
    """The customer topic a message is in (None: the group's general chat)."""
    if not message.message_thread_id or not message.is_topic_message:
        return None
    return message.message_thread_id


async def unreachable(turn: Turn, *, telegram_id: int, case_id: int, exc: TelegramForbiddenError) -> str:
    """The customer blocked the bot (or is gone): recorded on the case and the customer."""
    reason = support.unreachable_reason(exc.message)
    await turn.uow.write(
        support.customer_unreachable,
        clock=turn.clock,
        case_id=case_id,
        telegram_id=telegram_id,
        reason=reason,
    )
    return reason


async def on_queue(message: Message, turn: Turn) -> None:
    """/queue: how many cases wait, are open, and how many posts this group has yet to get."""
    if await refused(message, turn):
        return
    view = await turn.uow.read(support.queue_counts, group_chat_id=message.chat.id)
    await message.reply(queue_text(staff_t(turn), view))


async def on_staff_help(message: Message, turn: Turn) -> None:
    await message.reply(staff_t(turn)("staff-commands"))


async def on_close(message: Message, turn: Turn) -> None:
    """/close in a topic: the case closes and its customer is asked for a rating."""
    if await refused(message, turn):
        return
    assert message.from_user is not None  # refused() said no otherwise
    t = staff_t(turn)
    thread = thread_of(message)
    closed = None
    if thread is not None:
        closed = await turn.uow.write(
            support.close_topic_case,
            clock=turn.clock,
            group_chat_id=message.chat.id,
            thread_id=thread,
            closed_by=message.from_user.id,
        )
    if closed is None:
        await message.reply(t("staff-no-case"))
        return
    case, customer = closed.case, closed.customer
    await message.reply(t("staff-case-closed", number=case.number, staff=message.from_user.full_name))
    if customer.telegram_id is None:
        return
    text, keyboard = closed_for_customer(turn.ctx.i18n(customer.language), case)
    try:
        await turn.ctx.bot.send_message(customer.telegram_id, text, reply_markup=keyboard)
    except TelegramForbiddenError as exc:
        await unreachable(turn, telegram_id=customer.telegram_id, case_id=case.id, exc=exc)


async def on_ban(message: Message, turn: Turn) -> None:
    """/ban or /unban in a topic: the customer's messages stop (or again) reaching staff."""
    if await refused(message, turn):
        return
    t = staff_t(turn)
    banned = (message.text or "").split()[0].split("@")[0].lstrip("/").lower() == "ban"
    thread = thread_of(message)
    found = thread is not None and await turn.uow.write(
        support.ban_topic, clock=turn.clock, group_chat_id=message.chat.id, thread_id=thread, banned=banned
    )
    await message.reply(t(("staff-banned" if banned else "staff-unbanned") if found else "staff-no-case"))


async def on_staff_message(message: Message, turn: Turn) -> None:
    """A staff message in a customer's topic goes to the customer (notes stay in the group)."""
    thread = thread_of(message)
    if message.from_user is None or thread is None:
        return  # general chatter outside customers' topics
    note = support.is_note(message.text or message.caption)
    if (message.text or "").startswith("/") and not note:
        return  # other commands are not relayed
    # The hot path of every reply: statements on the database itself, not a session
    # (core/support/staff.py record_staff_message).
    recorded = await support.record_staff_message(
        turn.uow.db,
        clock=turn.clock,
        group_chat_id=message.chat.id,
        thread_id=thread,
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
    t = staff_t(turn)
    try:
        sent = await turn.ctx.bot.copy_message(
            chat_id=telegram_id, from_chat_id=message.chat.id, message_id=message.message_id
        )
    except TelegramForbiddenError as exc:
        reason = await unreachable(turn, telegram_id=telegram_id, case_id=case.id, exc=exc)
        await message.reply(t("staff-unreachable", reason=reason))
        return
    except TelegramBadRequest as exc:
        await message.reply(t("staff-not-delivered", reason=exc.message))
        return
    assert support_message_id is not None
    # Committed with the update's done mark.
    await turn.uow.db.record(
        [support.delivered_step(support_message_id=support_message_id, customer_message_id=sent.message_id)]
    )


async def on_staff_edit(message: Message, turn: Turn) -> None:
    """A staff edit updates the copy the customer has."""
    copy = await turn.uow.write(
        support.mirror_staff_edit,
        clock=turn.clock,
        group_chat_id=message.chat.id,
        topic_message_id=message.message_id,
        text=message.text or message.caption,
    )
    if copy is None:
        return
    try:
        if message.text is not None:
            await turn.ctx.bot.edit_message_text(
                text=message.text,
                chat_id=copy.customer_chat_id,
                message_id=copy.customer_message_id,
                entities=message.entities,
            )
        else:
            await turn.ctx.bot.edit_message_caption(
                chat_id=copy.customer_chat_id,
                message_id=copy.customer_message_id,
                caption=message.caption or "",
                caption_entities=message.caption_entities,
            )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            log.warning("staff edit not mirrored: %s", exc.message)


# ------------------------------------------------------------------ the flow

# Staff groups only: every callback carries StaffGroup() (the module's router filter before),
# so the flow adds no chat-type filter of its own.
flow = Flow(
    "handoff_staff",
    chats=None,
    doc="Staff in a customer's forum topic: replies and notes, /close, /ban, /unban, /queue, edits.",
    on=[
        on_message(on_queue, StaffGroup(), Command("queue"), when="staff: /queue"),
        on_message(on_staff_help, StaffGroup(), Command("help"), when="staff: /help"),
        on_message(on_close, StaffGroup(), Command("close"), when="staff: /close"),
        on_message(on_ban, StaffGroup(), Command("ban", "unban"), when="staff: /ban or /unban"),
        on_message(on_staff_message, StaffGroup(), F.from_user.is_bot.is_(False), when="staff: writes"),
        on_edit(on_staff_edit, StaffGroup(), F.from_user.is_bot.is_(False), when="staff: edits a reply"),
    ],
)
router = flow.router
