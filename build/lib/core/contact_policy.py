"""The shared budget of proactive messages: at most one per customer per N days (default 7).

Every proactive sender (campaigns, surveys, reminders) asks `may_contact` at send time and
calls `record_contact` when it sent. Support replies are not proactive and are never counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import is_postgres
from storage.models import ContactLog, Customer


async def last_contact(session: AsyncSession, *, customer_id: int) -> datetime | None:
    """When this customer last got a proactive message."""
    return await session.scalar(
        select(func.max(ContactLog.sent_at)).where(ContactLog.customer_id == customer_id)
    )


def block(customer: Any | None, *, opt_in: bool = True) -> str | None:
    """Why nothing may be sent to this customer at all (None: something may): erased, no
    Telegram account, opted out (`opt_in`: whether /stop counts), or unreachable. `customer` is
    a Customer or any row with its columns."""
    if customer is None or customer.erased_at is not None:
        return "erased"
    if customer.telegram_id is None:
        return "no_telegram"
    if opt_in and not customer.opted_in:
        return "opted_out"
    if not customer.reachable:
        return "unreachable"
    return None


def refusal(customer: Any | None, last: datetime | None, *, now: datetime, cap: timedelta) -> str | None:
    """Why a proactive message may not go now (None: it may): `block`, then the budget
    (`last`: when they last got a proactive message)."""
    reason = block(customer)
    if reason is None and last is not None and now - last < cap:
        return "frequency_cap"
    return reason


async def may_contact(
    session: AsyncSession, *, customer_id: int, now: datetime, cap: timedelta
) -> tuple[bool, str | None]:
    """Whether a proactive message may go now, and the reason if not."""
    customer = await session.get(Customer, customer_id)
    last = await last_contact(session, customer_id=customer_id) if block(customer) is None else None
    reason = refusal(customer, last, now=now, cap=cap)
    return reason is None, reason


_COLUMNS = (Customer.id, Customer.erased_at, Customer.telegram_id, Customer.opted_in, Customer.reachable)


async def last_contacts(session: AsyncSession, customer_ids: Iterable[int]) -> dict[int, datetime]:
    """When each of these customers last got a proactive message (absent: never)."""
    rows = await session.execute(
        select(ContactLog.customer_id, func.max(ContactLog.sent_at))
        .where(ContactLog.customer_id.in_(list(customer_ids)))
        .group_by(ContactLog.customer_id)
    )
    return dict(rows.all())


async def may_contact_many(
    session: AsyncSession, *, customer_ids: set[int], now: datetime, cap: timedelta
) -> dict[int, str | None]:
    """`may_contact` for a batch, in two queries: why each customer may not get a proactive
    message now (None: they may)."""
    if not customer_ids:
        return {}
    rows = {r.id: r for r in (await session.execute(select(*_COLUMNS).where(Customer.id.in_(customer_ids))))}
    last = await last_contacts(session, customer_ids)
    return {cid: refusal(rows.get(cid), last.get(cid), now=now, cap=cap) for cid in customer_ids}


async def record_contact(
    session: AsyncSession, *, customer_id: int, kind: str, ref: str | None, now: datetime
) -> None:
    """Count a proactive message against the customer's budget."""
    session.add(ContactLog(customer_id=customer_id, kind=kind, ref=ref, sent_at=now))


# ------------------------------------------------------------------ several queues, several processes

IN_FLIGHT_DELAY = timedelta(seconds=5)


async def lock_customers(session: AsyncSession, customer_ids: Iterable[int]) -> None:
    """Serialise contact decisions per customer across processes: on PostgreSQL the customers'
    rows are locked (in id order, so two claims never deadlock) until the claim commits; a
    second claim for the same person waits, then sees the first one's claimed row. SQLite (one
    process): its write lock already does it."""
    ids = sorted(set(customer_ids))
    if ids and is_postgres(session):
        await session.execute(
            select(Customer.id).where(Customer.id.in_(ids)).order_by(Customer.id).with_for_update()
        )


async def in_flight(
    session: AsyncSession,
    customer_ids: Iterable[int],
    *,
    campaigns: bool = True,
    exclude: tuple[str, int] | None = None,
) -> set[int]:
    """Customers with a proactive message claimed or on the wire right now in any queue (it is
    counted against the budget only once sent, so the weekly cap must also look here). `exclude`:
    (table name, row id) of the row being decided."""
    from storage.models_loyalty import ExitInterview, LoyaltyNotice, Survey
    from storage.models_outreach import OutboxMessage

    ids = list(set(customer_ids))
    if not ids:
        return set()
    queues: list[tuple[str, Any, tuple[str, ...], Any]] = [
        ("nps_surveys", Survey, ("claimed", "sending"), None),
        ("exit_interviews", ExitInterview, ("claimed", "sending"), None),
        ("loyalty_notices", LoyaltyNotice, ("claimed", "sending"), LoyaltyNotice.policy != "service"),
    ]
    if campaigns:
        queues.append(("outbox", OutboxMessage, ("claimed", "inflight"), None))
    busy: set[int] = set()
    for name, model, statuses, extra in queues:
        stmt = select(model.customer_id).where(model.customer_id.in_(ids), model.status.in_(statuses))
        if extra is not None:
            stmt = stmt.where(extra)
        if exclude is not None and exclude[0] == name:
            stmt = stmt.where(model.id != exclude[1])
        busy.update((await session.execute(stmt)).scalars())
    return busy
