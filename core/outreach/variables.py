"""Template variables for a batch of customers, loaded in a few queries (never one per row)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.outreach import playbooks
from core.outreach.rules import OutreachRules, zone
from core.outreach.segments import tier_of
from storage.models import Customer
from storage.models_loyalty import LedgerEntry
from storage.models_outreach import OutreachStats


def format_date(when: datetime, lang: str, tz: Any) -> str:
    """'15 March 2026' / '15 марта 2026 г.'"""
    from babel.dates import format_date as babel_date

    try:
        return babel_date(when.astimezone(tz).date(), format="long", locale=lang)
    except Exception:  # an unknown locale: ISO is still readable
        return when.astimezone(tz).date().isoformat()


def cart_summary(cart: dict[str, Any] | None) -> str | None:
    if not cart:
        return None
    items = cart.get("items") or []
    names = [str(i.get("name") if isinstance(i, dict) else i) for i in items][:5]
    names = [n for n in names if n and n != "None"]
    if not names:
        return None
    more = len(items) - len(names)
    return ", ".join(names) + (f" (+{more})" if more > 0 else "")


async def balances(session: AsyncSession, *, customer_ids: list[int], now: datetime) -> dict[int, int]:
    """Spendable loyalty points (credits already available), as the loyalty module counts them."""
    rows = await session.execute(
        select(LedgerEntry.customer_id, func.coalesce(func.sum(LedgerEntry.points), 0))
        .where(LedgerEntry.customer_id.in_(customer_ids), LedgerEntry.available_at <= now)
        .group_by(LedgerEntry.customer_id)
    )
    return {int(cid): int(points) for cid, points in rows.all()}


def values_for(
    customer: Any,
    stats: OutreachStats | None,
    *,
    now: datetime,
    rules: OutreachRules,
    balance: int = 0,
    offer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    lang = customer.language or rules.default_language
    tz = zone(customer.timezone, rules.default_timezone)
    orders = stats.orders_count if stats else 0
    spend = stats.spend_minor if stats else 0
    last_order = stats.last_purchase_at if stats else None
    expires = stats.subscription_expires_at if stats else None
    return {
        "name": customer.first_name or (f"@{customer.username}" if customer.username else None),
        "shop": rules.shop,
        "balance": balance,
        "tier": playbooks.tier_label(lang, tier_of(orders, spend, rules)),
        "last_product": stats.last_product if stats else None,
        "days_since_last_order": (now - last_order).days if last_order else None,
        "promo_code": (offer or {}).get("promo_code"),
        "discount": (offer or {}).get("discount_percent"),
        "expires_on": format_date(expires, lang, tz) if expires else None,
        "cart_items": cart_summary(stats.cart) if stats else None,
    }


async def load(
    session: AsyncSession,
    *,
    customer_ids: Iterable[int],
    now: datetime,
    rules: OutreachRules,
    need_balance: bool = True,
) -> dict[int, tuple[Customer, OutreachStats | None, int]]:
    """Customers, their summaries and balances, by id."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    customers = {
        c.id: c for c in (await session.execute(select(Customer).where(Customer.id.in_(ids)))).scalars()
    }
    stats = {
        s.customer_id: s
        for s in (
            await session.execute(select(OutreachStats).where(OutreachStats.customer_id.in_(ids)))
        ).scalars()
    }
    points = await balances(session, customer_ids=ids, now=now) if need_balance else {}
    return {cid: (c, stats.get(cid), points.get(cid, 0)) for cid, c in customers.items()}
