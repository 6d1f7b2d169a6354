"""Last router: whatever no flow claimed gets a short helpful answer, never silence or a crash.

Also where the bot learns it was blocked or unblocked in a private chat (`my_chat_member`).
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import JOIN_TRANSITION, LEAVE_TRANSITION, ChatMemberUpdatedFilter
from aiogram.types import CallbackQuery, ChatMemberUpdated, InlineKeyboardMarkup, Message

from core import customers as svc
from core.customers import CustomerView
from dialogs.common import show
from dialogs.flow import Flow, FlowError, Turn, on_button, on_membership, on_message

MAX_TEXT = 4000
PRIVATE = F.chat.type == "private"


# ------------------------------------------------------------------ renderers


def menu_keyboard(turn: Turn, customer: CustomerView) -> InlineKeyboardMarkup:
    if turn.main_menu is None:
        raise FlowError(f"{turn.running}: the dispatcher was given no main menu")
    return turn.main_menu.keyboard(turn.t, customer)


def unknown_command_text(turn: Turn, text: str) -> str:
    command = (text or "/").split()[0].split("@")[0][:64]
    return turn.t("unknown-command", command=command)


# ------------------------------------------------------------------ callbacks


async def on_blocked(event: ChatMemberUpdated, turn: Turn) -> None:
    """The person blocked the bot: unreachable until they unblock (a churn signal)."""
    await turn.uow.write(
        svc.set_reachable, clock=turn.clock, telegram_id=event.chat.id, reachable=False, reason="blocked"
    )


async def on_unblocked(event: ChatMemberUpdated, turn: Turn) -> None:
    await turn.uow.write(svc.set_reachable, clock=turn.clock, telegram_id=event.chat.id, reachable=True)


async def on_unknown_command(message: Message, turn: Turn) -> None:
    await message.answer(
        unknown_command_text(turn, message.text or "/"), reply_markup=menu_keyboard(turn, turn.who)
    )


async def on_huge_text(message: Message, turn: Turn) -> None:
    await message.answer(turn.t("text-too-long", limit=MAX_TEXT))


async def on_text(message: Message, turn: Turn) -> None:
    await message.answer(turn.t("fallback-text"), reply_markup=menu_keyboard(turn, turn.who))


async def on_other_content(message: Message, turn: Turn) -> None:
    """Stickers, voice, photos... outside a support case: say what the bot understands."""
    await message.answer(turn.t("unsupported-content"), reply_markup=menu_keyboard(turn, turn.who))


async def on_stale_button(query: CallbackQuery, turn: Turn) -> None:
    """A button from an old message whose flow is gone: show the current menu instead (in any
    chat: a button nobody claims in a group is only acknowledged)."""
    if turn.customer is None:
        await query.answer()
        return
    await show(query, turn.t("button-expired"), menu_keyboard(turn, turn.customer))


# ------------------------------------------------------------------ the flow

# chats=None: messages are answered in private chats only, but a stale button is acknowledged
# wherever it was pressed, and membership updates carry their own filters.
flow = Flow(
    "fallback",
    chats=None,
    doc="Whatever no other flow claimed; the bot blocked or unblocked. Included last.",
    on=[
        on_membership(on_blocked, PRIVATE, ChatMemberUpdatedFilter(LEAVE_TRANSITION), when="blocks the bot"),
        on_membership(
            on_unblocked, PRIVATE, ChatMemberUpdatedFilter(JOIN_TRANSITION), when="unblocks the bot"
        ),
        on_message(on_unknown_command, PRIVATE, F.text.startswith("/"), when="an unknown /command"),
        on_message(on_huge_text, PRIVATE, F.text.len() > MAX_TEXT, when="a text too long"),
        on_message(on_text, PRIVATE, F.text, when="text nobody claimed"),
        on_message(on_other_content, PRIVATE, when="a sticker, voice, photo..."),
        on_button(on_stale_button, when="a button nobody claimed"),
    ],
)
router = flow.router
