"""Read-only purchase figures and tiers per customer, which NPS and outreach segment on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core.loyalty.rules import (
    LoyaltyRules,
    tier_for,
)
from core.loyalty.views import COUNTED
from storage.models_loyalty import (
    Order,
)


@dataclass(frozen=True, slots=True)
class PurchaseStats:
    spend_minor: int = 0
    orders: int = 0
    last_purchase_at: datetime | None = None
    first_purchase_at: datetime | None = None


async def purchase_stats(
    session: AsyncSession, *, customer_ids: list[int] | None = None
) -> dict[int, PurchaseStats]:
    """Net spend (loyalty currency), counted orders and purchase dates per customer."""
    stmt = (
        select(
            Order.customer_id,
            func.coalesce(func.sum(Order.base_amount_minor - Order.base_refunded_minor), 0),
            func.count(),
            func.max(Order.placed_at),
            func.min(Order.placed_at),
        )
        .where(Order.status.in_(COUNTED))
        .group_by(Order.customer_id)
    )
    if customer_ids is not None:
        stmt = stmt.where(Order.customer_id.in_(customer_ids))
    try:
        rows = (await session.execute(stmt)).all()
    except DBAPIError as exc:
        if not _sum_overflow(exc):
            raise
        rows = await _purchase_rows_in_python(session, customer_ids)
    return {
        int(cid): PurchaseStats(int(spend), int(count), last, first)
        for cid, spend, count, last, first in rows
    }


def _sum_overflow(exc: Exception) -> bool:
    """SQLite's SUM beyond 64 bits (data stored before amounts were capped); PostgreSQL sums
    bigint as numeric and never overflows. A failed SELECT leaves SQLite's transaction usable."""
    return "integer overflow" in str(exc)


async def _purchase_rows_in_python(session: AsyncSession, customer_ids: list[int] | None) -> list[Any]:
    stmt = select(
        Order.customer_id, Order.base_amount_minor - Order.base_refunded_minor, Order.placed_at
    ).where(Order.status.in_(COUNTED))
    if customer_ids is not None:
        stmt = stmt.where(Order.customer_id.in_(customer_ids))
    acc: dict[int, list[Any]] = {}
    for cid, net, placed_at in (await session.execute(stmt)).all():
        a = acc.setdefault(int(cid), [0, 0, placed_at, placed_at])
        a[0] += int(net)
        a[1] += 1
        a[2], a[3] = max(a[2], placed_at), min(a[3], placed_at)
    return [(cid, *a) for cid, a in acc.items()]


async def customer_tiers(
    session: AsyncSession, *, rules: LoyaltyRules, customer_ids: list[int]
) -> dict[int, str]:
    """The tier of each of these customers."""
    stats = await purchase_stats(session, customer_ids=customer_ids)
    return {
        cid: tier_for(spend_minor=s.spend_minor, orders=s.orders, rules=rules)
        for cid in customer_ids
        for s in [stats.get(cid, PurchaseStats())]
    }
