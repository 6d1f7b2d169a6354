"""Lines about loyalty, the last NPS answer and the exit reason on the staff's customer card.

`card_section(clock=..., rules=...)` makes the section (dialogs.handoff.card.CardSection); the
composition root (supportbot/runtime.py `card_sections()`) builds it once with the runtime's
clock and loyalty rules, so the card's balance and tier are those every other part uses.
"""

from __future__ import annotations

from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from core import exit_interview, loyalty, nps
from core.clock import Clock
from core.loyalty.rules import LoyaltyRules
from dialogs.handoff.card import CardSection
from dialogs.i18n import Translator
from dialogs.loyalty.format import day, money, points


def card_section(*, clock: Clock, rules: LoyaltyRules) -> CardSection:
    """The card section: tier, points, orders and spend, the last NPS answer, the exit reason."""

    async def loyalty_section(session: AsyncSession, customer_id: int, t: Translator) -> list[str]:
        view = await loyalty.balance(session, clock=clock, rules=rules, customer_id=customer_id)
        lines = [
            t(
                "card-loyalty",
                tier=t(f"tier-{view.tier}"),
                points=points(t, view.spendable),
                orders=t("orders-n", n=view.orders),
                spend=money(t, view.spend_minor, view.currency),
            )
        ]
        last = await nps.last_response(session, customer_id=customer_id)
        if last is not None and last.answered_at is not None:
            when = day(t, last.answered_at)
            if last.comment:
                lines.append(
                    t("card-nps-comment", score=last.score, date=when, comment=escape(last.comment[:300]))
                )
            else:
                lines.append(t("card-nps", score=last.score, date=when))
        left = await exit_interview.last_interview(session, customer_id=customer_id)
        if left is not None and left.answered_at is not None:
            reason = t(f"exit-reason-{left.reason}")
            when = day(t, left.answered_at)
            if left.detail:
                lines.append(
                    t("card-exit-detail", reason=reason, date=when, detail=escape(left.detail[:300]))
                )
            else:
                lines.append(t("card-exit", reason=reason, date=when))
        return lines

    return loyalty_section
