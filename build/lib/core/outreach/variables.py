"""Template variables for a batch of customers, loaded in a few queries (never one per row)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import zone
from core.outreach import playbooks
from core.outreach.rules import OutreachRules
from core.outreach.segments import tier_of
from storage.models import Customer
from storage.models_loyalty import LedgerEntry
from storage.models_outreach import OutreachStats

log = logging.getLogger(__name__)


def format_date(when: datetime, lang: str, tz: Any) -> str:
    """'15 March 2026' / '15 марта 2026 г.'"""
    from babel.dates import format_date as babel_date

    try:
        return babel_date(when.astimezone(tz).date(), format="long", locale=lang)
    except Exception:  # an unknown locale: ISO is still readable
        return when.astimezone(tz).date().isoformat()


def _item_name(item: Any) -> str | None:
    if isinstance(item, dict):
        item = item.get("name")
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, str | int | float):
        text = str(item).strip()
        return text or None
    return None


def cart_summary(cart: Any) -> str | None:
    """'Boots, Hat (+2)' from a cart's items; None for anything without usable item names.

    Total: a cart of any shape (stored before validation existed, or an unknown layout) gives
    None, so the template's fallback is used; it never raises.
    """
    if not isinstance(cart, dict):
        return None
    items = cart.get("items")
    if not isinstance(items, list | tuple) or not items:
        return None
    names = [n for n in (_item_name(i) for i in items[:5]) if n]
    if not names:
        return None
    more = len(items) - len(names)
    return ", ".join(names) + (f" (+{more})" if more > 0 else "")


async def balances(session: AsyncSession, *, customer_ids: list[int], now: datetime) -> dict[int, int]:
    """Spendable loyalty points (credits already available), as the loyalty module counts them."""
    try:
        rows = (
            await session.execute(
                select(LedgerEntry.customer_id, func.coalesce(func.sum(LedgerEntry.points), 0))
                .where(LedgerEntry.customer_id.in_(customer_ids), LedgerEntry.available_at <= now)
                .group_by(LedgerEntry.customer_id)
            )
        ).all()
    except DBAPIError as exc:  # SQLite's SUM beyond 64 bits (data from before the caps): exact in Python
        if "integer overflow" not in str(exc):
            raise
        out: dict[int, int] = {}
        for cid, points in (
            await session.execute(
                select(LedgerEntry.customer_id, LedgerEntry.points).where(
                    LedgerEntry.customer_id.in_(customer_ids), LedgerEntry.available_at <= now
                )
            )
        ).all():
            out[int(cid)] = out.get(int(cid), 0) + int(points)
        return out
    return {int(cid): int(points) for cid, points in rows}


def _safe(name: str, customer: Any, compute: Any) -> Any:
    """One variable's value, or None (the template's fallback) if its data has a wrong shape."""
    try:
        return compute()
    except Exception:  # a bad stored value must never stop a render (issue 11)
        log.warning(
            "outreach: variable {%s} of customer %s could not be computed; fallback used",
            name,
            getattr(customer, "id", None),
            exc_info=True,
        )
        return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def values_for(
    customer: Any,
    stats: OutreachStats | None,
    *,
    now: datetime,
    rules: OutreachRules,
    balance: int = 0,
    offer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every template variable for one customer. Total: a value that cannot be computed is None."""
    lang = _safe("lang", customer, lambda: customer.language or rules.default_language) or "en"
    tz = _safe("tz", customer, lambda: zone(customer.timezone, rules.default_timezone)) or UTC
    orders = _int(stats.orders_count if stats else 0)
    spend = _int(stats.spend_minor if stats else 0)
    last_order = stats.last_purchase_at if stats else None
    expires = stats.subscription_expires_at if stats else None
    offer = offer if isinstance(offer, dict) else {}
    return {
        "name": _safe(
            "name",
            customer,
            lambda: customer.first_name or (f"@{customer.username}" if customer.username else None),
        ),
        "shop": rules.shop,
        "balance": _int(balance),
        "tier": _safe("tier", customer, lambda: playbooks.tier_label(lang, tier_of(orders, spend, rules))),
        "last_product": _safe("last_product", customer, lambda: stats.last_product if stats else None),
        "days_since_last_order": _safe(
            "days_since_last_order", customer, lambda: (now - last_order).days if last_order else None
        ),
        "promo_code": offer.get("promo_code"),
        "discount": offer.get("discount_percent"),
        "expires_on": _safe(
            "expires_on", customer, lambda: format_date(expires, lang, tz) if expires else None
        ),
        "cart_items": _safe("cart_items", customer, lambda: cart_summary(stats.cart) if stats else None),
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
