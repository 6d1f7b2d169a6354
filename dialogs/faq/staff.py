"""Staff side of the FAQ, inside customers' forum topics.

Under a customer's question relayed into the topic, staff see the likely FAQ entries (chosen when
the message was queued; only entry ids are stored in the post) with two buttons each:
  * 📤 <entry id> — the bot sends that entry's answer to the customer in the customer's language,
    notes it in the topic and records an assisted answer (not self-service deflection);
  * 🎓 — links the customer's phrasing to that entry (a learned phrasing, pending until approved
    through the API, GET /v1/faq/learned; approved phrasings are matched at once).
When the right entry was not suggested, staff reply to the customer's message with
`/teach <entry-id>` (`/teach` alone lists nothing: it answers with how to use it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import customers as customers_svc
from core import faq_learning, support
from core.clock import Clock
from core.faq import FaqEntry, FaqLibrary
from core.settings import Settings
from dialogs.handoff.flow import staff_groups
from dialogs.handoff.staff import StaffGroup, is_staff
from dialogs.i18n import I18n, Translator
from storage.models import Customer
from storage.models_support import SupportCase, SupportMessage

log = logging.getLogger(__name__)
router = Router(name=__name__)
router.message.filter(StaffGroup())
MAX_SUGGESTIONS = 3


class StaffFaqCb(CallbackData, prefix="sf"):
    """`a`: s = send the entry to the customer, t = teach the phrasing; `m`: support message id."""

    a: str
    e: str  # entry id: [a-z0-9-]{1,40}, so the packed data stays under 64 bytes
    m: int


def suggestion_keyboard(
    suggestion: Mapping[str, Any] | None, support_message_id: int | None, t: Translator
) -> InlineKeyboardMarkup | None:
    """The buttons under a relayed customer message: per suggested entry "send" and "teach"."""
    if not suggestion or support_message_id is None:
        return None
    rows = []
    for entry_id in list(suggestion.get("ids") or [])[:MAX_SUGGESTIONS]:
        rows.append(
            [
                InlineKeyboardButton(
                    text=t("staff-faq-send", id=entry_id),
                    callback_data=StaffFaqCb(a="s", e=entry_id, m=support_message_id).pack(),
                ),
                InlineKeyboardButton(
                    text=t("staff-faq-teach"),
                    callback_data=StaffFaqCb(a="t", e=entry_id, m=support_message_id).pack(),
                ),
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def entry_text(entry: FaqEntry) -> tuple[str, InlineKeyboardMarkup | None]:
    """An entry as the customer receives it from staff: question, answer and its link buttons."""
    rows = [[InlineKeyboardButton(text=b.text, url=b.url)] for b in entry.buttons]
    return f"{entry.question}\n\n{entry.answer}", InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def _customer_message(
    session: AsyncSession, support_message_id: int, group_chat_id: int
) -> tuple[SupportMessage, SupportCase, Customer] | None:
    row = (
        await session.execute(
            select(SupportMessage, SupportCase, Customer)
            .join(SupportCase, SupportCase.id == SupportMessage.case_id)
            .join(Customer, Customer.id == SupportCase.customer_id)
            .where(SupportMessage.id == support_message_id, SupportMessage.group_chat_id == group_chat_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


@router.callback_query(StaffFaqCb.filter())
async def on_staff_faq(
    query: CallbackQuery,
    callback_data: StaffFaqCb,
    bot: Bot,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    i18n: I18n,
    faq: FaqLibrary,
) -> None:
    t = i18n(settings.staff_language)
    message = query.message
    if not isinstance(message, Message) or message.chat.id not in staff_groups(settings):
        await query.answer()
        return
    if not await is_staff(bot, settings, message.chat.id, query.from_user.id):
        await query.answer(t("staff-refused"), show_alert=True)
        return
    async with db() as session:
        found = await _customer_message(session, callback_data.m, message.chat.id)
    if found is None:
        await query.answer(t("staff-faq-gone"), show_alert=True)
        return
    msg, case, customer_row = found
    customer = customers_svc.view(customer_row)
    entry = faq.entry(customer.language, callback_data.e)
    if entry is None:
        await query.answer(t("staff-faq-unknown-entry", id=callback_data.e), show_alert=True)
        return
    if callback_data.a == "t":
        await query.answer()
        await _teach(message, t, db, clock, customer.language, entry, msg, case, query.from_user.id)
        return
    await query.answer()
    await _send_entry(bot, message, t, db, clock, customer, entry, msg, case, query.from_user)


async def _send_entry(  # noqa: PLR0913 - one place for the whole "send this answer" step
    bot: Bot,
    message: Message,
    t: Translator,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    customer: customers_svc.CustomerView,
    entry: FaqEntry,
    msg: SupportMessage,
    case: SupportCase,
    staff: Any,
) -> None:
    if customer.telegram_id is None:
        await message.reply(t("staff-not-delivered", reason="no Telegram chat"))
        return
    text, markup = entry_text(entry)
    try:
        sent = await bot.send_message(customer.telegram_id, text, reply_markup=markup)
    except TelegramForbiddenError as exc:
        await message.reply(t("staff-not-delivered", reason=exc.message))
        return
    except TelegramBadRequest as exc:
        await message.reply(t("staff-not-delivered", reason=exc.message))
        return
    note = await message.reply(
        t("staff-faq-sent", id=entry.id, staff=staff.full_name, question=entry.question)
    )
    async with db.begin() as session:
        _, support_message_id = await support.staff_reply(
            session,
            clock=clock,
            customer_id=case.customer_id,
            group_chat_id=message.chat.id,
            topic_message_id=note.message_id,
            staff_id=staff.id,
            kind="text",
            text=text,
        )
        if support_message_id is not None:
            await support.mark_delivered(
                session, support_message_id=support_message_id, customer_message_id=sent.message_id
            )
        await faq_learning.record_assisted(
            session,
            clock=clock,
            customer_id=case.customer_id,
            language=customer.language,
            text=msg.text or "",
            entry_id=entry.id,
        )


async def _teach(
    message: Message,
    t: Translator,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    language: str,
    entry: FaqEntry,
    msg: SupportMessage,
    case: SupportCase,
    staff_id: int,
) -> None:
    if not (msg.text or "").strip():
        await message.reply(t("staff-faq-teach-no-text"))
        return
    async with db.begin() as session:
        learned, created = await faq_learning.teach(
            session,
            clock=clock,
            language=language,
            entry_id=entry.id,
            text=msg.text or "",
            customer_id=case.customer_id,
            support_message_id=msg.id,
            taught_by=staff_id,
        )
    key = "staff-faq-taught" if created else "staff-faq-already-taught"
    await message.reply(t(key, id=entry.id, text=learned.text, status=learned.status, learned_id=learned.id))


@router.message(Command("teach"))
async def on_teach(
    message: Message,
    command: CommandObject,
    bot: Bot,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    i18n: I18n,
    faq: FaqLibrary,
) -> None:
    """`/teach <entry-id>` in reply to a customer's message in their topic (or, without a reply,
    for the customer's latest message in the topic)."""
    t = i18n(settings.staff_language)
    if message.from_user is None or not await is_staff(bot, settings, message.chat.id, message.from_user.id):
        await message.reply(t("staff-refused"))
        return
    entry_id = (command.args or "").strip().lower()
    if not entry_id or not message.message_thread_id:
        await message.reply(t("staff-faq-teach-usage"))
        return
    async with db() as session:
        found_topic = await support.find_by_thread(
            session, group_chat_id=message.chat.id, thread_id=message.message_thread_id
        )
        if found_topic is None:
            await message.reply(t("staff-no-case"))
            return
        topic, topic_customer = found_topic
        stmt = (
            select(SupportMessage)
            .join(SupportCase, SupportCase.id == SupportMessage.case_id)
            .where(
                SupportCase.customer_id == topic.customer_id,
                SupportMessage.direction == "in",
                SupportMessage.group_chat_id == message.chat.id,
            )
        )
        reply = message.reply_to_message
        if reply is not None and reply.message_id != message.message_thread_id:
            stmt = stmt.where(SupportMessage.topic_message_id == reply.message_id)
        msg = await session.scalar(stmt.order_by(SupportMessage.id.desc()).limit(1))
        case = await session.get(SupportCase, msg.case_id) if msg is not None else None
    language = topic_customer.language
    entry = faq.entry(language, entry_id)
    if entry is None:
        await message.reply(t("staff-faq-unknown-entry", id=entry_id))
        return
    if msg is None or case is None:
        await message.reply(t("staff-faq-teach-usage"))
        return
    await _teach(message, t, db, clock, language, entry, msg, case, message.from_user.id)
