"""Campaign message buttons. A press is a reply: the sequence stops and the answer is kept.

Win-back reasons lead straight into the exit interview (dialogs.exit_interview): the interview
is opened and the reason recorded there, so its reply that fits the reason follows at once (a
save offer for price, a person for poor support, ...), in place of the campaign message.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import exit_interview as exit_svc
from core.clock import Clock
from core.customers import CustomerView
from core.delivery.outgoing import Outgoing
from core.outreach import sequences
from core.settings import Settings
from dialogs.common import show
from dialogs.exit_interview import handlers as exit_flow
from dialogs.i18n import Translator

router = Router(name=__name__)
router.callback_query.filter(F.message.chat.type == "private")

EXIT, REPLY = "x", "r"


class CampaignCb(CallbackData, prefix="cr"):
    r: int  # campaign recipient id
    k: str  # x: exit-interview reason | r: reply value
    v: str


def is_campaign_button(data: str | None) -> bool:
    """Whether this callback data is a campaign message's button (see `on_campaign_button`)."""
    return data is not None and data.startswith(CampaignCb.__prefix__ + CampaignCb.__separator__)


def keyboard(
    t: Translator, buttons: tuple[dict[str, Any], ...] | list[dict[str, Any]], recipient_id: int
) -> InlineKeyboardMarkup | None:
    """The inline keyboard of one campaign message (labels already in the customer's language)."""
    rows: list[list[InlineKeyboardButton]] = []
    for b in buttons:
        if b["kind"] == "exit_interview":
            reasons = [
                InlineKeyboardButton(
                    text=t(f"exit-reason-{r}"), callback_data=CampaignCb(r=recipient_id, k=EXIT, v=r).pack()
                )
                for r in exit_svc.REASONS
            ]
            rows.extend(reasons[i : i + 2] for i in range(0, len(reasons), 2))
        elif b["kind"] == "reply":
            rows.append(
                [
                    InlineKeyboardButton(
                        text=b["text"], callback_data=CampaignCb(r=recipient_id, k=REPLY, v=b["value"]).pack()
                    )
                ]
            )
        elif b["kind"] == "url":
            rows.append([InlineKeyboardButton(text=b["text"], url=b["url"])])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


@router.callback_query(CampaignCb.filter())
async def on_campaign_button(
    query: CallbackQuery,
    callback_data: CampaignCb,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
    ctx: Any = None,
) -> None:
    async with db.begin() as session:
        ours = await sequences.record_choice(
            session,
            clock=clock,
            customer_id=customer.id,
            recipient_id=callback_data.r,
            choice=callback_data.v,
        )
    if not ours:
        await show(query, t("outreach-gone"))
        return
    if callback_data.k == EXIT and callback_data.v in exit_svc.REASONS:
        async with db.begin() as session:
            interview = await exit_svc.start_from_menu(
                session, clock=clock, customer_id=customer.id, chat_id=query.from_user.id
            )
        await exit_flow.on_reason(
            query,
            exit_flow.ExitCb(i=interview.id, r=callback_data.v),
            customer=customer,
            t=t,
            state=state,
            ctx=ctx,
        )
        return
    # Keep the campaign's text; the buttons go, and the answer comes below it.
    message = query.message
    if isinstance(message, Message):
        with suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)
        await message.answer(t("outreach-thanks"))
    with suppress(TelegramBadRequest):
        await query.answer()


def render_campaign(
    t: Translator, settings: Settings, out: Outgoing
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A campaign message as it leaves: its text (rendered from the template when claimed,
    in the customer's language) and its buttons."""
    return out.data["text"], keyboard(t, out.data.get("buttons") or (), out.data["recipient_id"])
