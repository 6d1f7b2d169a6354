"""Texts of the messages the engagement worker sends from `loyalty_notices` rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from core.delivery.outgoing import Outgoing
from core.settings import Settings
from dialogs.i18n import Translator
from dialogs.loyalty.format import day, points, zone


def render_notice(
    t: Translator, *, kind: str, params: dict[str, Any], timezone: str | None, default_timezone: str
) -> str:
    """The text of a notice in the customer's language."""
    tz = zone(timezone, default_timezone)
    if kind == "expiry_warning":
        when = datetime.fromisoformat(params["expires_at"])
        return t("notice-expiry_warning", points=points(t, int(params["points"])), date=day(t, when, tz))
    if kind == "referral_referrer":
        return t(
            "notice-referral_referrer",
            points=points(t, int(params["points"])),
            friend=params.get("friend") or "🙂",
        )
    if kind in ("referral_referred", "birthday"):
        return t(f"notice-{kind}", points=points(t, int(params["points"])))
    if kind == "feature_shipped":
        return t("notice-feature_shipped", feature=params.get("feature") or params.get("asked") or "")
    return t(f"notice-{kind}", **{k: v for k, v in params.items() if isinstance(v, str | int)})


def render_notice_message(
    t: Translator, settings: Settings, out: Outgoing
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A loyalty notice as the delivery worker sends it, in the customer's language and zone."""
    text = render_notice(
        t,
        kind=out.data["notice"],
        params=out.data.get("params") or {},
        timezone=out.data.get("timezone"),
        default_timezone=settings.default_timezone,
    )
    return text, None
