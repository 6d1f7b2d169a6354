"""Orders from the backend: record (idempotent), refund (points reversed), look up."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import customers
from core.clock import Clock
from core.errors import Conflict, Invalid, NotFound
from core.loyalty.ledger import _add_entry, _lock_customer
from core.loyalty.referrals import _reward_referral, _void_referral
from core.loyalty.rules import (
    LoyaltyRules,
    from_minor,
    points_to_reverse,
    to_minor,
)
from core.loyalty.views import FUTURE_SKEW, OrderResult, OrderView, _order_view
from storage.models import Customer
from storage.models_loyalty import (
    LedgerEntry,
    Order,
    OrderRefund,
    PromoCode,
)

# ------------------------------------------------------------------ orders


async def _reversed_points(session: AsyncSession, order_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.order_id == order_id,
            LedgerEntry.kind == "reversal",
            LedgerEntry.reverses_id.in_(
                select(LedgerEntry.id).where(LedgerEntry.order_id == order_id, LedgerEntry.kind == "earn")
            ),
        )
    )
    return -int(total or 0)


async def _view_of(session: AsyncSession, row: Order) -> OrderView:
    ext = await session.scalar(select(Customer.external_id).where(Customer.id == row.customer_id))
    return _order_view(row, ext, await _reversed_points(session, row.id))


async def _order_row(session: AsyncSession, order_id: str) -> Order | None:
    return (await session.execute(select(Order).where(Order.external_id == order_id))).scalar_one_or_none()


async def get_order(session: AsyncSession, *, order_id: str) -> OrderView:
    """One order by its own id."""
    row = await _order_row(session, order_id)
    if row is None:
        raise NotFound("order not found", code="order_not_found")
    return await _view_of(session, row)


MAX_ORDER_MINOR = 10**12
"""One order's amount at most (minor units): millions of orders still sum within 64 bits."""


async def record_order(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    customer_external_id: str,
    order_id: str,
    amount: Decimal,
    currency: str,
    placed_at: datetime,
    promo_code: str | None = None,
) -> OrderResult:
    """Record a purchase and credit its points, once per order id.

    The customer is created if your system has not synced them yet. The same order reported
    again is acknowledged (`created` False); the same id with other data is a conflict.
    """
    now = clock.now()
    currency = currency.upper()
    amount_minor = to_minor(amount, currency)
    if amount_minor <= 0:
        raise Invalid("amount must be positive", code="invalid_amount")
    if amount_minor > MAX_ORDER_MINOR:
        raise Invalid(f"amount is at most {MAX_ORDER_MINOR} minor units", code="invalid_amount")
    if placed_at > now + FUTURE_SKEW:
        raise Invalid(
            "placed_at is in the future",
            code="placed_at_in_future",
            details={"placed_at": placed_at.isoformat(), "now": now.isoformat()},
        )
    base_minor = rules.to_base_minor(amount_minor, currency)

    existing = await _order_row(session, order_id)
    if existing is not None:
        return await _acknowledge(session, existing, customer_external_id, amount_minor, currency)
    found = await session.scalar(select(Customer.id).where(Customer.external_id == customer_external_id))
    if found is None:
        created, _ = await customers.upsert_by_external_id(
            session, clock=clock, external_id=customer_external_id, data=customers.CustomerData()
        )
        found = created.id
    customer = await _lock_customer(session, int(found))

    row = Order(
        external_id=order_id,
        customer_id=customer.id,
        amount_minor=amount_minor,
        currency=currency,
        base_amount_minor=base_minor,
        refunded_minor=0,
        base_refunded_minor=0,
        status="completed",
        points_earned=0,
        promo_code=promo_code,
        placed_at=placed_at,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same order arrived twice at the same moment
        again = (await session.execute(select(Order).where(Order.external_id == order_id))).scalar_one()
        return await _acknowledge(session, again, customer_external_id, amount_minor, currency)

    points = rules.points_for(base_minor)
    if points > 0:
        row.points_earned = points
        await _add_entry(
            session,
            now=now,
            customer_id=customer.id,
            kind="earn",
            points=points,
            reason=f"Order {order_id}",
            key=f"order:{order_id}:earn",
            order_id=row.id,
            available_at=max(now, placed_at + rules.pending),
        )
    if promo_code:
        await _mark_promo_redeemed(session, now=now, code=promo_code, order_id=order_id)
    rewarded = await _reward_referral(session, clock=clock, rules=rules, referred_id=customer.id, order=row)
    await session.flush()
    return OrderResult(_order_view(row, customer_external_id), True, points, rewarded)


async def _acknowledge(
    session: AsyncSession, row: Order, customer_external_id: str, amount_minor: int, currency: str
) -> OrderResult:
    ext = await session.scalar(select(Customer.external_id).where(Customer.id == row.customer_id))
    if (ext, row.amount_minor, row.currency) != (customer_external_id, amount_minor, currency):
        raise Conflict(
            "an order with this id was already recorded with different data",
            code="order_conflict",
            details={
                "order_id": row.external_id,
                "customer_external_id": ext,
                "amount": str(from_minor(row.amount_minor, row.currency)),
                "currency": row.currency,
            },
        )
    return OrderResult(await _view_of(session, row), False, 0)


async def _mark_promo_redeemed(session: AsyncSession, *, now: datetime, code: str, order_id: str) -> None:
    # Codes are matched regardless of case; should a pool hold two that differ only in case,
    # the exact one wins.
    promo = (
        await session.execute(
            select(PromoCode)
            .where(func.upper(PromoCode.code) == code.upper())
            .order_by((PromoCode.code == code).desc(), PromoCode.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if promo is not None and promo.redeemed_at is None:
        promo.redeemed_at, promo.redeemed_order = now, order_id


async def refund_order(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    order_id: str,
    refund_id: str | None = None,
    amount: Decimal | None = None,
    reason: str | None = None,
    cancel: bool = False,
) -> tuple[OrderView, bool]:
    """Refund all or part of an order (or cancel it) and take back the points it earned.

    Idempotent by `refund_id` (a full refund or a cancellation needs none). Returns the order
    and whether this call changed anything.
    """
    now = clock.now()
    row = await _order_row(session, order_id)
    if row is None:
        raise NotFound("order not found", code="order_not_found")
    await _lock_customer(session, row.customer_id)
    if cancel:
        key = "cancel"
    elif refund_id is not None:
        key = f"r:{refund_id}"
    elif amount is None:
        key = "full"
    else:
        raise Invalid(
            "a partial refund needs its refund_id (to make retries safe)", code="refund_id_required"
        )
    done = (
        await session.execute(
            select(OrderRefund).where(OrderRefund.order_id == row.id, OrderRefund.refund_key == key)
        )
    ).scalar_one_or_none()
    if done is not None:
        return await _view_of(session, row), False
    if row.status == "cancelled" or (row.status == "refunded" and not cancel):
        if key in ("full", "cancel"):
            return await _view_of(session, row), False
        raise Conflict("the order has been refunded in full already", code="order_already_refunded")
    remaining = row.amount_minor - row.refunded_minor
    refund_minor = remaining if (amount is None or cancel) else to_minor(amount, row.currency)
    if refund_minor <= 0 and not cancel:
        raise Invalid("refund amount must be positive", code="invalid_amount")
    if refund_minor > remaining:
        raise Conflict(
            "the refund is larger than what is left of the order",
            code="refund_exceeds_order",
            details={"refundable": str(from_minor(remaining, row.currency)), "currency": row.currency},
        )
    row.refunded_minor += refund_minor
    base_refunded = row.base_amount_minor * row.refunded_minor // row.amount_minor
    row.base_refunded_minor = base_refunded
    full = row.refunded_minor >= row.amount_minor
    row.status = "cancelled" if cancel else ("refunded" if full else "partially_refunded")
    row.updated_at = now

    reversed_now = 0
    earn_entry = (
        await session.execute(
            select(LedgerEntry).where(LedgerEntry.order_id == row.id, LedgerEntry.kind == "earn")
        )
    ).scalar_one_or_none()
    if earn_entry is not None:
        reversed_now = points_to_reverse(
            points_earned=earn_entry.points,
            amount_minor=row.amount_minor,
            refunded_minor=row.refunded_minor,
            already_reversed=await _reversed_points(session, row.id),
        )
        if reversed_now > 0:
            await _add_entry(
                session,
                now=now,
                customer_id=row.customer_id,
                kind="reversal",
                points=-reversed_now,
                reason=f"{'Cancelled' if cancel else 'Refund of'} order {order_id}",
                key=f"order:{order_id}:{key}",
                order_id=row.id,
                reverses_id=earn_entry.id,
                # A reversal of points still pending stays pending, so the two net out.
                available_at=earn_entry.available_at,
            )
    session.add(
        OrderRefund(
            order_id=row.id,
            refund_key=key,
            amount_minor=refund_minor,
            points_reversed=reversed_now,
            reason=(reason or None) and reason[:256],
            created_at=now,
        )
    )
    if full:
        await _void_referral(session, now=now, order=row)
    await session.flush()
    return await _view_of(session, row), True
