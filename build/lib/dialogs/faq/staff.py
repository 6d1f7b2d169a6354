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

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, User

from core import faq_learning
from core.faq import FaqEntry
from core.faq_learning import TopicQuestion
from dialogs.faq.handlers import library
from dialogs.flow import Flow, Turn, on_button, on_message
from dialogs.handoff.flow import staff_groups
from dialogs.handoff.staff import StaffGroup, is_staff
from dialogs.i18n import Translator

log = logging.getLogger(__name__)
MAX_SUGGESTIONS = 3


class StaffFaqCb(CallbackData, prefix="sf"):
    """`a`: s = send the entry to the customer, t = teach the phrasing; `m`: support message id."""

    a: str
    e: str  # entry id: [a-z0-9-]{1,40}, so the packed data stays under 64 bytes
    m: int


def staff_t(turn: Turn) -> Translator:
    """Staff read the bot in the staff language, whoever presses."""
    return turn.ctx.i18n(turn.settings.staff_language)


def command_args(message: Message) -> str:
    """What follows the command, as aiogram's CommandObject.args reads it (the Command filter
    matched the text or caption already)."""
    parts = (message.text or message.caption or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


# ------------------------------------------------------------------ renderers


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


def taught_text(t: Translator, entry: FaqEntry, learned: faq_learning.LearnedView, created: bool) -> str:
    key = "staff-faq-taught" if created else "staff-faq-already-taught"
    return t(key, id=entry.id, text=learned.text, status=learned.status, learned_id=learned.id)


# ------------------------------------------------------------------ callbacks


async def on_staff_faq(query: CallbackQuery, callback_data: StaffFaqCb, turn: Turn) -> None:
    """📤 (send the entry to the customer) or 🎓 (teach their phrasing) under a relayed message."""
    t = staff_t(turn)
    message = query.message
    if not isinstance(message, Message) or message.chat.id not in staff_groups(turn.settings):
        await query.answer()
        return
    if not await is_staff(turn.ctx.bot, turn.settings, message.chat.id, query.from_user.id):
        await query.answer(t("staff-refused"), show_alert=True)
        return
    question = await turn.uow.read(
        faq_learning.topic_question, support_message_id=callback_data.m, group_chat_id=message.chat.id
    )
    if question is None:
        await query.answer(t("staff-faq-gone"), show_alert=True)
        return
    entry = library(turn).entry(question.customer.language, callback_data.e)
    if entry is None:
        await query.answer(t("staff-faq-unknown-entry", id=callback_data.e), show_alert=True)
        return
    await query.answer()
    if callback_data.a == "t":
        await teach(message, turn, t, entry, question, query.from_user.id)
        return
    await send_entry(message, turn, t, entry, question, query.from_user)


async def send_entry(
    message: Message, turn: Turn, t: Translator, entry: FaqEntry, question: TopicQuestion, staff: User
) -> None:
    """The entry to the customer in their language, a note in the topic, then the records."""
    customer = question.customer
    if customer.telegram_id is None:
        await message.reply(t("staff-not-delivered", reason="no Telegram chat"))
        return
    text, markup = entry_text(entry)
    try:
        sent = await turn.ctx.bot.send_message(customer.telegram_id, text, reply_markup=markup)
    except TelegramForbiddenError as exc:
        await message.reply(t("staff-not-delivered", reason=exc.message))
        return
    except TelegramBadRequest as exc:
        await message.reply(t("staff-not-delivered", reason=exc.message))
        return
    note = await message.reply(
        t("staff-faq-sent", id=entry.id, staff=staff.full_name, question=entry.question)
    )
    await turn.uow.write(
        faq_learning.record_sent_entry,
        clock=turn.clock,
        question=question,
        entry_id=entry.id,
        text=text,
        group_chat_id=message.chat.id,
        note_message_id=note.message_id,
        staff_id=staff.id,
        customer_message_id=sent.message_id,
    )


async def teach(
    message: Message, turn: Turn, t: Translator, entry: FaqEntry, question: TopicQuestion, staff_id: int
) -> None:
    """Link the customer's phrasing to the entry (pending until approved through the API)."""
    if not question.text.strip():
        await message.reply(t("staff-faq-teach-no-text"))
        return
    learned, created = await turn.uow.write(
        faq_learning.teach,
        clock=turn.clock,
        language=question.customer.language,
        entry_id=entry.id,
        text=question.text,
        customer_id=question.customer.id,
        support_message_id=question.support_message_id,
        taught_by=staff_id,
    )
    await message.reply(taught_text(t, entry, learned, created))


async def on_teach(message: Message, turn: Turn) -> None:
    """`/teach <entry-id>` in reply to a customer's message in their topic (or, without a reply,
    for the customer's latest message in the topic)."""
    t = staff_t(turn)
    if message.from_user is None or not await is_staff(
        turn.ctx.bot, turn.settings, message.chat.id, message.from_user.id
    ):
        await message.reply(t("staff-refused"))
        return
    entry_id = command_args(message).strip().lower()
    if not entry_id or not message.message_thread_id:
        await message.reply(t("staff-faq-teach-usage"))
        return
    reply = message.reply_to_message
    # A message in a topic without a reply is a "reply" to the topic's first message: not a pick.
    picked = reply.message_id if reply is not None and reply.message_id != message.message_thread_id else None
    target = await turn.uow.read(
        faq_learning.teach_target,
        group_chat_id=message.chat.id,
        thread_id=message.message_thread_id,
        reply_to=picked,
    )
    if target is None:
        await message.reply(t("staff-no-case"))
        return
    entry = library(turn).entry(target.customer.language, entry_id)
    if entry is None:
        await message.reply(t("staff-faq-unknown-entry", id=entry_id))
        return
    if target.question is None:
        await message.reply(t("staff-faq-teach-usage"))
        return
    await teach(message, turn, t, entry, target.question, message.from_user.id)


# ------------------------------------------------------------------ the flow

flow = Flow(
    "faq_staff",
    # The module's router had one filter, StaffGroup() on messages (a configured support group);
    # FAQ buttons check the group themselves (an old button in another chat gets a silent answer).
    chats=None,
    doc="Staff in a customer's topic: send a suggested FAQ entry to the customer, or teach the FAQ "
    "the customer's phrasing (buttons or /teach). No waits.",
    on=[
        on_button(on_staff_faq, StaffFaqCb.filter(), when="staff press send or teach under a question"),
        on_message(on_teach, StaffGroup(), Command("teach"), when="staff send /teach with an entry id"),
    ],
)
router = flow.router
