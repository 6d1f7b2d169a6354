"""Campaign message buttons. A press is a reply: the sequence stops and the answer is kept.

Win-back reasons lead straight into the exit interview: a reason pressed on a campaign message
is the exit flow's (dialogs/exit_interview `on_campaign_reason`, which enters that flow's
states): the interview is opened and the reason recorded there, so its reply that fits the
reason follows at once (a save offer for price, a person for poor support, ...), in place of the
campaign message. The other buttons are this flow's.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from core import exit_interview as exit_svc
from core.delivery.outgoing import Outgoing
from core.outreach import sequences
from core.settings import Settings
from dialogs.common import show
from dialogs.flow import Flow, Turn, on_button
from dialogs.i18n import Translator

EXIT, REPLY = "x", "r"


class CampaignCb(CallbackData, prefix="cr"):
    r: int  # campaign recipient id
    k: str  # x: exit-interview reason | r: reply value
    v: str


def is_campaign_button(data: str | None) -> bool:
    """Whether this callback data is a campaign message's button (see `on_campaign_button`)."""
    return data is not None and data.startswith(CampaignCb.__prefix__ + CampaignCb.__separator__)


# ------------------------------------------------------------------ renderers


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


def render_campaign(
    t: Translator, settings: Settings, out: Outgoing
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A campaign message as it leaves: its text (rendered from the template when claimed,
    in the customer's language) and its buttons."""
    return out.data["text"], keyboard(t, out.data.get("buttons") or (), out.data["recipient_id"])


# ------------------------------------------------------------------ callbacks


async def on_campaign_button(query: CallbackQuery, callback_data: CampaignCb, turn: Turn) -> None:
    """A reply button pressed: the answer is kept, the campaign's text stays, its buttons go."""
    ours = await turn.uow.write(
        sequences.record_choice,
        clock=turn.clock,
        customer_id=turn.who.id,
        recipient_id=callback_data.r,
        choice=callback_data.v,
    )
    if not ours:
        await show(query, turn.t("outreach-gone"))
        return
    # Keep the campaign's text; the buttons go, and the answer comes below it.
    message = query.message
    if isinstance(message, Message):
        with suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)
        await message.answer(turn.t("outreach-thanks"))
    with suppress(TelegramBadRequest):
        await query.answer()


# ------------------------------------------------------------------ the flow

flow = Flow(
    "outreach",
    doc="Buttons on campaign messages: one tap answers (a win-back reason is the exit interview's).",
    on=[
        on_button(
            on_campaign_button,
            # Not a win-back reason: those are dialogs/exit_interview's `on_campaign_reason`.
            CampaignCb.filter((F.k != EXIT) | ~F.v.in_(set(exit_svc.REASONS))),
            when="presses a reply button on a campaign message",
        ),
    ],
)
router = flow.router
