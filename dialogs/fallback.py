"""Last router: whatever no flow claimed gets a short helpful answer, never silence or a crash."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import JOIN_TRANSITION, LEAVE_TRANSITION, ChatMemberUpdatedFilter
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import customers as svc
from core.clock import Clock
from core.customers import CustomerView
from dialogs.common import show
from dialogs.i18n import Translator
from dialogs.menu import MainMenu

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
MAX_TEXT = 4000


@router.my_chat_member(F.chat.type == "private", ChatMemberUpdatedFilter(LEAVE_TRANSITION))
async def on_blocked(event: ChatMemberUpdated, db: async_sessionmaker[AsyncSession], clock: Clock) -> None:
    """The person blocked the bot: unreachable until they unblock (a churn signal)."""
    async with db.begin() as session:
        await svc.set_reachable(
            session, clock=clock, telegram_id=event.chat.id, reachable=False, reason="blocked"
        )


@router.my_chat_member(F.chat.type == "private", ChatMemberUpdatedFilter(JOIN_TRANSITION))
async def on_unblocked(event: ChatMemberUpdated, db: async_sessionmaker[AsyncSession], clock: Clock) -> None:
    async with db.begin() as session:
        await svc.set_reachable(session, clock=clock, telegram_id=event.chat.id, reachable=True)


@router.message(F.text.startswith("/"))
async def on_unknown_command(
    message: Message, customer: CustomerView, t: Translator, main_menu: MainMenu
) -> None:
    command = (message.text or "/").split()[0].split("@")[0][:64]
    await message.answer(t("unknown-command", command=command), reply_markup=main_menu.keyboard(t, customer))


@router.message(F.text.len() > MAX_TEXT)
async def on_huge_text(message: Message, t: Translator) -> None:
    await message.answer(t("text-too-long", limit=MAX_TEXT))


@router.message(F.text)
async def on_text(message: Message, customer: CustomerView, t: Translator, main_menu: MainMenu) -> None:
    await message.answer(t("fallback-text"), reply_markup=main_menu.keyboard(t, customer))


@router.message()
async def on_other_content(
    message: Message, customer: CustomerView, t: Translator, main_menu: MainMenu
) -> None:
    """Stickers, voice, photos... outside a support case: say what the bot understands."""
    await message.answer(t("unsupported-content"), reply_markup=main_menu.keyboard(t, customer))


@router.callback_query()
async def on_stale_button(
    query: CallbackQuery, customer: CustomerView | None, t: Translator, main_menu: MainMenu
) -> None:
    """A button from an old message whose flow is gone: show the current menu instead."""
    if customer is None:
        await query.answer()
        return
    await show(query, t("button-expired"), main_menu.keyboard(t, customer))
