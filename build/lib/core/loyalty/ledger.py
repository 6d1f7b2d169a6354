"""The points ledger: append-only entries, balance = their sum, earn / redeem / adjust.

A credit is *pending* until its `available_at` and only then spendable. Every movement carries
an idempotency key, so a retried API call or a job that runs twice never counts anything twice.
Writes for one customer are serialised by locking their customer row (PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers).

`card_facts` is the staff card's loyalty section (tier, balance, spend).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.errors import Conflict, Invalid, NotFound
from core.loyalty.queries import PurchaseStats, _sum_overflow, purchase_stats
from core.loyalty.rules import (
    LoyaltyRules,
    expiry_at,
    expiry_stage,
    next_tier,
    tier_for,
)
from core.loyalty.views import (
    ACTIVITY_KINDS,
    KINDS,
    BalanceScreen,
    BalanceView,
    EntryView,
    MovementResult,
    _entry_view,
)
from storage.models import Customer
from storage.models_loyalty import (
    LedgerEntry,
    Order,
)

# ------------------------------------------------------------------ customers


async def customer_id_for(session: AsyncSession, *, external_id: str) -> int:
    """The internal id of the customer your system calls `external_id` (404 if unknown)."""
    cid = await session.scalar(select(Customer.id).where(Customer.external_id == external_id))
    if cid is None:
        raise NotFound("customer not found", code="customer_not_found")
    return int(cid)


async def _lock_customer(session: AsyncSession, customer_id: int) -> Customer:
    row = (
        await session.execute(select(Customer).where(Customer.id == customer_id).with_for_update())
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("customer not found", code="customer_not_found")
    return row


# ------------------------------------------------------------------ ledger


async def _add_entry(
    session: AsyncSession,
    *,
    now: datetime,
    customer_id: int,
    kind: str,
    points: int,
    reason: str,
    key: str,
    order_id: int | None = None,
    reverses_id: int | None = None,
    available_at: datetime | None = None,
) -> tuple[LedgerEntry, bool]:
    """Append a movement once per key; returns (entry, duplicate)."""
    assert kind in KINDS
    existing = (
        await session.execute(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    ).scalar_one_or_none()
    if existing is not None:
        if (existing.customer_id, existing.kind, existing.points) != (customer_id, kind, points):
            raise Conflict(
                "this idempotency key was already used for a different movement",
                code="idempotency_conflict",
                details={
                    "idempotency_key": key,
                    "existing": {"kind": existing.kind, "points": existing.points},
                },
            )
        return existing, True
    row = LedgerEntry(
        customer_id=customer_id,
        kind=kind,
        points=points,
        reason=reason[:256],
        idempotency_key=key,
        order_id=order_id,
        reverses_id=reverses_id,
        available_at=available_at or now,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(
            "this idempotency key is being used right now; retry",
            code="idempotency_conflict",
            details={"idempotency_key": key},
        ) from None
    return row, False


async def _sums(session: AsyncSession, customer_id: int, now: datetime) -> tuple[int, int, datetime | None]:
    try:
        return await _sums_sql(session, customer_id, now)
    except DBAPIError as exc:
        if not _sum_overflow(exc):
            raise
    spendable = pending = 0
    pending_until: datetime | None = None
    rows = await session.execute(
        select(LedgerEntry.points, LedgerEntry.available_at).where(LedgerEntry.customer_id == customer_id)
    )
    for points, available_at in rows.all():
        if available_at <= now:
            spendable += int(points)
        else:
            pending += int(points)
            if points > 0 and (pending_until is None or available_at < pending_until):
                pending_until = available_at
    return spendable, pending, pending_until


async def _sums_sql(
    session: AsyncSession, customer_id: int, now: datetime
) -> tuple[int, int, datetime | None]:
    spendable, pending, pending_until = (
        await session.execute(
            select(
                func.coalesce(
                    func.sum(case((LedgerEntry.available_at <= now, LedgerEntry.points), else_=0)), 0
                ),
                func.coalesce(
                    func.sum(case((LedgerEntry.available_at > now, LedgerEntry.points), else_=0)), 0
                ),
                func.min(
                    case(
                        (
                            and_(LedgerEntry.available_at > now, LedgerEntry.points > 0),
                            LedgerEntry.available_at,
                        ),
                        else_=None,
                    )
                ),
            ).where(LedgerEntry.customer_id == customer_id)
        )
    ).one()
    return int(spendable), int(pending), pending_until


async def balance(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, customer_id: int
) -> BalanceView:
    """Spendable and pending points, tier and what the next tier needs, expiry."""
    now = clock.now()
    spendable, pending, pending_until = await _sums(session, customer_id, now)
    stats = (await purchase_stats(session, customer_ids=[customer_id])).get(customer_id, PurchaseStats())
    last_ledger = await session.scalar(
        select(func.max(LedgerEntry.created_at)).where(
            LedgerEntry.customer_id == customer_id, LedgerEntry.kind.in_(ACTIVITY_KINDS)
        )
    )
    last_activity = max((d for d in (last_ledger, stats.last_purchase_at) if d), default=None)
    expires = expiry_at(last_activity=last_activity, rules=rules) if spendable > 0 else None
    stage = expiry_stage(spendable=spendable, last_activity=last_activity, now=now, rules=rules)
    return BalanceView(
        customer_id=customer_id,
        spendable=spendable,
        pending=pending,
        pending_until=pending_until,
        currency=rules.currency,
        spend_minor=stats.spend_minor,
        orders=stats.orders,
        tier=tier_for(spend_minor=stats.spend_minor, orders=stats.orders, rules=rules),
        next_tier=next_tier(spend_minor=stats.spend_minor, orders=stats.orders, rules=rules),
        last_purchase_at=stats.last_purchase_at,
        last_activity_at=last_activity,
        expires_at=expires,
        expiring_soon=stage in ("warn", "expire"),
    )


async def history(
    session: AsyncSession, *, customer_id: int, limit: int = 20, before_id: int | None = None
) -> tuple[list[EntryView], int | None]:
    """Movements newest first (keyset paging); returns the page and the next `before` id."""
    stmt = (
        select(LedgerEntry, Order.external_id)
        .outerjoin(Order, Order.id == LedgerEntry.order_id)
        .where(LedgerEntry.customer_id == customer_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        stmt = stmt.where(LedgerEntry.id < before_id)
    rows = (await session.execute(stmt)).all()
    page = [_entry_view(entry, order_ext) for entry, order_ext in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)


async def balance_screen(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, customer_id: int, recent: int
) -> BalanceScreen:
    """What /balance shows: the balance and the `recent` latest movements, read together so
    the two agree."""
    view = await balance(session, clock=clock, rules=rules, customer_id=customer_id)
    moves, older = await history(session, customer_id=customer_id, limit=recent)
    return BalanceScreen(balance=view, recent=moves, more=older is not None)


async def _movement(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    customer_id: int,
    kind: str,
    points: int,
    reason: str,
    idempotency_key: str,
    at_most_spendable: bool = False,
) -> MovementResult:
    """Record an API movement once per key (a debit past the spendable balance is refused)."""
    await _lock_customer(session, customer_id)
    key = f"api:{idempotency_key}"
    now = clock.now()
    if (
        at_most_spendable
        and await session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key)) is None
    ):
        spendable, pending, _ = await _sums(session, customer_id, now)
        if -points > spendable:
            raise Conflict(
                f"not enough points: {spendable} spendable, {-points} requested",
                code="insufficient_points",
                details={"spendable": spendable, "pending": pending, "requested": -points},
            )
    entry, dup = await _add_entry(
        session, now=now, customer_id=customer_id, kind=kind, points=points, reason=reason, key=key
    )
    return MovementResult(
        _entry_view(entry), dup, await balance(session, clock=clock, rules=rules, customer_id=customer_id)
    )


async def earn(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    customer_id: int,
    points: int,
    reason: str,
    idempotency_key: str,
) -> MovementResult:
    """Credit points outside an order (a goodwill gesture, a campaign bonus); spendable at once."""
    if points <= 0:
        raise Invalid("points to earn must be positive", code="invalid_points")
    return await _movement(
        session,
        clock=clock,
        rules=rules,
        customer_id=customer_id,
        kind="earn",
        points=points,
        reason=reason,
        idempotency_key=idempotency_key,
    )


async def redeem(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    customer_id: int,
    points: int,
    reason: str,
    idempotency_key: str,
) -> MovementResult:
    """Spend points; more than the spendable balance is refused and nothing changes."""
    if points <= 0:
        raise Invalid("points to redeem must be positive", code="invalid_points")
    return await _movement(
        session,
        clock=clock,
        rules=rules,
        customer_id=customer_id,
        kind="redeem",
        points=-points,
        reason=reason,
        idempotency_key=idempotency_key,
        at_most_spendable=True,
    )


async def adjust(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    customer_id: int,
    points: int,
    reason: str,
    idempotency_key: str,
) -> MovementResult:
    """A manual correction either way (may take the balance below zero: it is a correction)."""
    if points == 0:
        raise Invalid("an adjustment cannot be zero", code="invalid_points")
    return await _movement(
        session,
        clock=clock,
        rules=rules,
        customer_id=customer_id,
        kind="adjust",
        points=points,
        reason=reason,
        idempotency_key=idempotency_key,
    )


# ------------------------------------------------------------------ staff card


async def card_facts(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, customer_id: int
) -> dict[str, Any]:
    """Tier, balance and spend for the staff card."""
    view = await balance(session, clock=clock, rules=rules, customer_id=customer_id)
    return {
        "tier": view.tier,
        "points": view.spendable,
        "pending": view.pending,
        "orders": view.orders,
        "spend_minor": view.spend_minor,
        "currency": view.currency,
    }
