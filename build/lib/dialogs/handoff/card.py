"""The customer card that opens every case in the staff topic.

Other features add lines (loyalty tier and balance, orders, last NPS, exit reason) through
sections, `async def section(session, customer_id, t) -> list[str]`, listed in order by the
composition root (supportbot/runtime.py `card_sections()`) and passed to the support worker
(`BotContext.card_sections`), which hands them to `render_card`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from core.customers import CustomerView
from core.support import CaseView
from core.text_limits import truncate, utf16_len
from dialogs.i18n import Translator

CardSection = Callable[[AsyncSession, int, Translator], Awaitable[list[str]]]


def topic_name(customer: CustomerView) -> str:
    """Forum topic titles are limited to 128 (UTF-16 units, as Telegram counts)."""
    name = customer.display_name
    if customer.username and not name.startswith("@"):
        name = f"{name} @{customer.username}"
    suffix = f" · #{customer.id}"
    return truncate(name, 128 - utf16_len(suffix)) + suffix  # the id always shows


async def render_card(
    session: AsyncSession,
    *,
    customer: CustomerView,
    case: CaseView,
    t: Translator,
    sections: Sequence[CardSection] = (),
) -> str:
    """HTML text of the card (names are escaped); each of `sections` adds its lines, in order."""
    lines = [
        t("card-title", name=escape(customer.display_name)),
        t("card-username", username=escape(customer.username)) if customer.username else None,
        t(
            "card-ids",
            telegram_id=str(customer.telegram_id or "-"),
            customer_id=str(customer.id),
            external_id=escape(customer.external_id or "-"),
        ),
        t("card-language", language=customer.language),
        t("card-case", number=case.number, origin=t(f"origin-{case.origin}")),
    ]
    if case.origin_text:
        lines.append(t("card-question", text=escape(case.origin_text[:500])))
    if not customer.opted_in:
        lines.append(t("card-opted-out"))
    for section in sections:
        lines.extend(await section(session, customer.id, t))
    lines.append(t("card-help"))
    return "\n".join(line for line in lines if line)
