"""The shared budget of proactive messages: at most one per customer per N days (default 7).

Every proactive sender (campaigns, surveys, reminders) asks `may_contact` at send time and
calls `record_contact` when it sent. Support replies are not proactive and are never counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ContactLog, Customer


async def last_contact(session: AsyncSession, *, customer_id: int) -> datetime | None:
    """When this customer last got a proactive message."""
    return await session.scalar(
        select(func.max(ContactLog.sent_at)).where(ContactLog.customer_id == customer_id)
    )


async def may_contact(
    session: AsyncSession, *, customer_id: int, now: datetime, cap: timedelta
) -> tuple[bool, str | None]:
    """Whether a proactive message may go now, and the reason if not."""
    customer = await session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        return False, "erased"
    if customer.telegram_id is None:
        return False, "no_telegram"
    if not customer.opted_in:
        return False, "opted_out"
    if not customer.reachable:
        return False, "unreachable"
    last = await last_contact(session, customer_id=customer_id)
    if last is not None and now - last < cap:
        return False, "frequency_cap"
    return True, None


async def record_contact(
    session: AsyncSession, *, customer_id: int, kind: str, ref: str | None, now: datetime
) -> None:
    """Count a proactive message against the customer's budget."""
    session.add(ContactLog(customer_id=customer_id, kind=kind, ref=ref, sent_at=now))
