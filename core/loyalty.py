"""Orders and loyalty points: an append-only ledger, tiers, referrals, birthdays and expiry.

Balance = the sum of the ledger. A credit is *pending* until its `available_at` and only then
spendable. Every movement carries an idempotency key, so a retried API call or a job that runs
twice never counts anything twice. Writes for one customer are serialised by locking their
customer row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import customers
from core.clock import Clock
from core.errors import Conflict, Invalid, NotFound
from core.jobs import guarded
from core.loyalty_notices import PROACTIVE, SERVICE, queue_notice
from core.loyalty_rules import (
    LoyaltyRules,
    NextTier,
    birthday_in,
    birthday_refusal,
    expiry_at,
    expiry_stage,
    from_minor,
    next_tier,
    points_to_reverse,
    referral_refusal,
    tier_for,
    to_minor,
)
from core.outreach.rules import zone
from storage.models import Customer
from storage.models_loyalty import (
    LedgerEntry,
    LoyaltyProfile,
    Order,
    OrderRefund,
    PromoCode,
    Referral,
    ReferralCode,
)
from storage.state import get_state

KINDS = ("earn", "redeem", "expire", "adjust", "referral", "birthday", "reversal")
COUNTED = ("completed", "partially_refunded")
ACTIVITY_KINDS = ("earn", "redeem", "adjust", "referral", "birthday")
REFERRAL_PREFIX = "ref_"
_CODE_ALPHABET = string.ascii_lowercase + string.digits
# An order "placed" this far in the future is a clock or time-zone bug on the sender's side.
FUTURE_SKEW = timedelta(minutes=10)


# ------------------------------------------------------------------ views


@dataclass(frozen=True, slots=True)
class OrderView:
    order_id: str
    customer_id: int
    customer_external_id: str | None
    amount_minor: int
    currency: str
    refunded_minor: int
    status: str
    points_earned: int
    points_reversed: int
    promo_code: str | None
    placed_at: datetime
    created_at: datetime

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def refunded(self) -> Decimal:
        return from_minor(self.refunded_minor, self.currency)


@dataclass(frozen=True, slots=True)
class OrderResult:
    order: OrderView
    created: bool  # False: the same order was reported before and is acknowledged
    points: int  # credited by this call
    referral_rewarded: bool = False


@dataclass(frozen=True, slots=True)
class EntryView:
    id: int
    customer_id: int
    kind: str
    points: int
    reason: str
    idempotency_key: str
    order_id: str | None
    available_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BalanceView:
    customer_id: int
    spendable: int
    pending: int
    pending_until: datetime | None  # when the earliest pending credit becomes spendable
    currency: str
    spend_minor: int  # net spend in the loyalty currency
    orders: int
    tier: str
    next_tier: NextTier | None
    last_purchase_at: datetime | None
    last_activity_at: datetime | None
    expires_at: datetime | None  # when the spendable balance burns without activity
    expiring_soon: bool  # inside the warning period

    @property
    def total(self) -> int:
        return self.spendable + self.pending


@dataclass(frozen=True, slots=True)
class MovementResult:
    entry: EntryView
    duplicate: bool  # the idempotency key was seen before: nothing new happened
    balance: BalanceView


@dataclass(frozen=True, slots=True)
class ReferralOutcome:
    status: str  # attributed | unknown_code | self | already_referred | not_new | loop
    referrer_id: int | None = None
    referrer_name: str | None = None


@dataclass(frozen=True, slots=True)
class ReferralInfo:
    code: str
    link: str | None  # None until the bot has started once and recorded its username
    start_command: str
    invited: int
    rewarded: int


def _order_view(row: Order, external_id: str | None, reversed_points: int = 0) -> OrderView:
    return OrderView(
        order_id=row.external_id, customer_id=row.customer_id, customer_external_id=external_id,
        amount_minor=row.amount_minor, currency=row.currency, refunded_minor=row.refunded_minor,
        status=row.status, points_earned=row.points_earned, points_reversed=reversed_points,
        promo_code=row.promo_code, placed_at=row.placed_at, created_at=row.created_at,
    )


def _entry_view(row: LedgerEntry, order_external_id: str | None = None) -> EntryView:
    return EntryView(
        id=row.id, customer_id=row.customer_id, kind=row.kind, points=row.points, reason=row.reason,
        idempotency_key=row.idempotency_key, order_id=order_external_id,
        available_at=row.available_at, created_at=row.created_at,
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
                details={"idempotency_key": key, "existing": {
                    "kind": existing.kind, "points": existing.points}},
            )
        return existing, True
    row = LedgerEntry(
        customer_id=customer_id, kind=kind, points=points, reason=reason[:256], idempotency_key=key,
        order_id=order_id, reverses_id=reverses_id, available_at=available_at or now, created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict("this idempotency key is being used right now; retry",
                       code="idempotency_conflict", details={"idempotency_key": key}) from None
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
                func.coalesce(func.sum(case((LedgerEntry.available_at <= now, LedgerEntry.points),
                                            else_=0)), 0),
                func.coalesce(func.sum(case((LedgerEntry.available_at > now, LedgerEntry.points),
                                            else_=0)), 0),
                func.min(case((and_(LedgerEntry.available_at > now, LedgerEntry.points > 0),
                               LedgerEntry.available_at), else_=None)),
            ).where(LedgerEntry.customer_id == customer_id)
        )
    ).one()
    return int(spendable), int(pending), pending_until


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
        customer_id=customer_id, spendable=spendable, pending=pending, pending_until=pending_until,
        currency=rules.currency, spend_minor=stats.spend_minor, orders=stats.orders,
        tier=tier_for(spend_minor=stats.spend_minor, orders=stats.orders, rules=rules),
        next_tier=next_tier(spend_minor=stats.spend_minor, orders=stats.orders, rules=rules),
        last_purchase_at=stats.last_purchase_at, last_activity_at=last_activity,
        expires_at=expires, expiring_soon=stage in ("warn", "expire"),
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


async def _movement(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, customer_id: int, kind: str,
    points: int, reason: str, idempotency_key: str, at_most_spendable: bool = False,
) -> MovementResult:
    """Record an API movement once per key (a debit past the spendable balance is refused)."""
    await _lock_customer(session, customer_id)
    key = f"api:{idempotency_key}"
    now = clock.now()
    if at_most_spendable and await session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key)
    ) is None:
        spendable, pending, _ = await _sums(session, customer_id, now)
        if -points > spendable:
            raise Conflict(
                f"not enough points: {spendable} spendable, {-points} requested",
                code="insufficient_points",
                details={"spendable": spendable, "pending": pending, "requested": -points},
            )
    entry, dup = await _add_entry(session, now=now, customer_id=customer_id, kind=kind, points=points,
                                  reason=reason, key=key)
    return MovementResult(_entry_view(entry), dup,
                          await balance(session, clock=clock, rules=rules, customer_id=customer_id))


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
    return await _movement(session, clock=clock, rules=rules, customer_id=customer_id, kind="earn",
                           points=points, reason=reason, idempotency_key=idempotency_key)


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
    return await _movement(session, clock=clock, rules=rules, customer_id=customer_id, kind="redeem",
                           points=-points, reason=reason, idempotency_key=idempotency_key,
                           at_most_spendable=True)


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
    return await _movement(session, clock=clock, rules=rules, customer_id=customer_id, kind="adjust",
                           points=points, reason=reason, idempotency_key=idempotency_key)


# ------------------------------------------------------------------ orders


async def _reversed_points(session: AsyncSession, order_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.order_id == order_id, LedgerEntry.kind == "reversal",
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
    return (
        await session.execute(select(Order).where(Order.external_id == order_id))
    ).scalar_one_or_none()


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
        raise Invalid("placed_at is in the future", code="placed_at_in_future",
                      details={"placed_at": placed_at.isoformat(), "now": now.isoformat()})
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
        external_id=order_id, customer_id=customer.id, amount_minor=amount_minor, currency=currency,
        base_amount_minor=base_minor, refunded_minor=0, base_refunded_minor=0, status="completed",
        points_earned=0, promo_code=promo_code, placed_at=placed_at, created_at=now, updated_at=now,
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
            session, now=now, customer_id=customer.id, kind="earn", points=points,
            reason=f"Order {order_id}", key=f"order:{order_id}:earn", order_id=row.id,
            available_at=max(now, placed_at + rules.pending),
        )
    if promo_code:
        await _mark_promo_redeemed(session, now=now, code=promo_code, order_id=order_id)
    rewarded = await _reward_referral(session, clock=clock, rules=rules, referred_id=customer.id,
                                      order=row)
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
            details={"order_id": row.external_id, "customer_external_id": ext,
                     "amount": str(from_minor(row.amount_minor, row.currency)),
                     "currency": row.currency},
        )
    return OrderResult(await _view_of(session, row), False, 0)


async def _mark_promo_redeemed(session: AsyncSession, *, now: datetime, code: str, order_id: str) -> None:
    # Codes are matched regardless of case; should a pool hold two that differ only in case,
    # the exact one wins.
    promo = (
        await session.execute(
            select(PromoCode).where(func.upper(PromoCode.code) == code.upper())
            .order_by((PromoCode.code == code).desc(), PromoCode.id).limit(1)
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
        raise Invalid("a partial refund needs its refund_id (to make retries safe)",
                      code="refund_id_required")
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
            points_earned=earn_entry.points, amount_minor=row.amount_minor,
            refunded_minor=row.refunded_minor,
            already_reversed=await _reversed_points(session, row.id),
        )
        if reversed_now > 0:
            await _add_entry(
                session, now=now, customer_id=row.customer_id, kind="reversal", points=-reversed_now,
                reason=f"{'Cancelled' if cancel else 'Refund of'} order {order_id}",
                key=f"order:{order_id}:{key}", order_id=row.id, reverses_id=earn_entry.id,
                # A reversal of points still pending stays pending, so the two net out.
                available_at=earn_entry.available_at,
            )
    session.add(
        OrderRefund(order_id=row.id, refund_key=key, amount_minor=refund_minor,
                    points_reversed=reversed_now, reason=(reason or None) and reason[:256],
                    created_at=now)
    )
    if full:
        await _void_referral(session, now=now, order=row)
    await session.flush()
    return await _view_of(session, row), True


# ------------------------------------------------------------------ referrals


async def bot_username(session: AsyncSession) -> str | None:
    value = await get_state(session, key="bot_username")
    return (value or "").strip().removeprefix("@") or None


def referral_link(username: str | None, code: str) -> str | None:
    return f"https://t.me/{username}?start={REFERRAL_PREFIX}{code}" if username else None


async def referral_code(session: AsyncSession, *, clock: Clock, customer_id: int) -> str:
    """The customer's personal referral code, created on first use."""
    code = await session.scalar(
        select(ReferralCode.code).where(ReferralCode.customer_id == customer_id).order_by(ReferralCode.id)
    )
    if code is not None:
        return str(code)
    for _ in range(10):
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        try:
            async with session.begin_nested():
                session.add(ReferralCode(customer_id=customer_id, code=code, created_at=clock.now()))
        except IntegrityError:
            continue
        return code
    raise RuntimeError("could not find a free referral code")


async def referral_info(session: AsyncSession, *, clock: Clock, customer_id: int) -> ReferralInfo:
    """The personal link and how many friends came and bought through it."""
    code = await referral_code(session, clock=clock, customer_id=customer_id)
    invited, rewarded = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Referral.status == "rewarded", 1), else_=0)), 0),
            ).where(Referral.referrer_id == customer_id)
        )
    ).one()
    return ReferralInfo(
        code=code, link=referral_link(await bot_username(session), code),
        start_command=f"/start {REFERRAL_PREFIX}{code}", invited=int(invited), rewarded=int(rewarded),
    )


async def _referrer_chain(session: AsyncSession, customer_id: int, limit: int = 50) -> list[int]:
    chain: list[int] = []
    current = customer_id
    for _ in range(limit):
        up = await session.scalar(select(Referral.referrer_id).where(Referral.referred_id == current))
        if up is None or up in chain:
            break
        chain.append(int(up))
        current = int(up)
    return chain


async def attribute_referral(
    session: AsyncSession, *, clock: Clock, customer_id: int, payload: str
) -> ReferralOutcome:
    """Credit the owner of a `ref_<code>` link with bringing this customer (first link wins)."""
    code = payload.removeprefix(REFERRAL_PREFIX).lower()
    owner = await session.scalar(select(ReferralCode.customer_id).where(ReferralCode.code == code))
    already = await session.scalar(select(Referral.id).where(Referral.referred_id == customer_id))
    has_orders = await session.scalar(select(Order.id).where(Order.customer_id == customer_id).limit(1))
    chain = await _referrer_chain(session, int(owner)) if owner is not None else []
    refusal = referral_refusal(
        referrer_id=int(owner) if owner is not None else None, referred_id=customer_id,
        referred_has_orders=has_orders is not None, already_referred=already is not None,
        referrer_chain=chain,
    )
    if refusal is not None:
        return ReferralOutcome(refusal, int(owner) if owner is not None else None)
    referrer = await session.get(Customer, int(owner))  # type: ignore[arg-type]
    if referrer is None or referrer.erased_at is not None:
        return ReferralOutcome("unknown_code")
    try:
        async with session.begin_nested():
            session.add(Referral(referrer_id=referrer.id, referred_id=customer_id, code=code,
                                 status="pending", created_at=clock.now()))
    except IntegrityError:
        return ReferralOutcome("already_referred", referrer.id)
    return ReferralOutcome("attributed", referrer.id, referrer.first_name)


async def _reward_referral(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, referred_id: int, order: Order
) -> bool:
    now = clock.now()
    ref = (
        await session.execute(
            select(Referral).where(Referral.referred_id == referred_id, Referral.status == "pending")
        )
    ).scalar_one_or_none()
    if ref is None:
        return False
    referrer = await session.get(Customer, ref.referrer_id)
    referred = await session.get(Customer, referred_id)
    available = max(now, order.placed_at + rules.pending)
    sides = [
        (ref.referrer_id, "referrer", rules.referral_reward_referrer,
         {"friend": (referred.first_name if referred else None) or ""}),
        (referred_id, "referred", rules.referral_reward_referred, {}),
    ]
    for customer_id, side, points, params in sides:
        if points <= 0 or (side == "referrer" and (referrer is None or referrer.erased_at is not None)):
            continue
        await _add_entry(
            session, now=now, customer_id=customer_id, kind="referral", points=points,
            reason=f"Referral #{ref.id}: first purchase ({side})", key=f"referral:{ref.id}:{side}",
            order_id=order.id if side == "referred" else None, available_at=available,
        )
        await queue_notice(
            session, clock=clock, customer_id=customer_id, kind=f"referral_{side}",
            dedupe_key=f"referral:{ref.id}:{side}", policy=SERVICE, params={"points": points, **params},
        )
    ref.status, ref.rewarded_at, ref.order_id = "rewarded", now, order.id
    return True


async def _void_referral(session: AsyncSession, *, now: datetime, order: Order) -> None:
    """The purchase that paid a referral was undone: take both rewards back."""
    ref = (
        await session.execute(
            select(Referral).where(Referral.order_id == order.id, Referral.status == "rewarded")
        )
    ).scalar_one_or_none()
    if ref is None:
        return
    rewards = (
        await session.execute(
            select(LedgerEntry).where(LedgerEntry.idempotency_key.in_(
                [f"referral:{ref.id}:referrer", f"referral:{ref.id}:referred"]))
        )
    ).scalars().all()
    for entry in rewards:
        await _add_entry(
            session, now=now, customer_id=entry.customer_id, kind="reversal", points=-entry.points,
            reason=f"Referral #{ref.id}: the qualifying order {order.external_id} was undone",
            key=f"{entry.idempotency_key}:reversal", reverses_id=entry.id,
            available_at=entry.available_at,
        )
    ref.status = "void"


# ------------------------------------------------------------------ birthdays


async def set_birthday(session: AsyncSession, *, clock: Clock, customer_id: int, birthday: date) -> None:
    """The customer told the bot their birthday (remembered with when, for the notice rule)."""
    now = clock.now()
    if birthday > now.date() or birthday.year < 1900:
        raise Invalid("not a plausible birthday", code="invalid_birthday")
    row = await _lock_customer(session, customer_id)
    row.birthday, row.updated_at = birthday, now
    profile = await session.get(LoyaltyProfile, customer_id)
    if profile is None:
        session.add(LoyaltyProfile(customer_id=customer_id, birthday=birthday, birthday_set_at=now,
                                   updated_at=now))
    elif profile.birthday != birthday:
        profile.birthday, profile.birthday_set_at, profile.updated_at = birthday, now, now
    await session.flush()


async def run_birthdays(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, default_timezone: str = "UTC"
) -> list[int]:
    """Credit today's birthdays (in each customer's time zone), once a year; returns who got one.

    When a birthday was set is learnt here: a new or changed birthday is dated at the
    customer's last update (the latest it can have been set), so nobody gains by setting one
    a few days before.
    """
    if rules.birthday_reward <= 0:
        return []
    now = clock.now()
    rows = (
        await session.execute(
            select(Customer, LoyaltyProfile)
            .outerjoin(LoyaltyProfile, LoyaltyProfile.customer_id == Customer.id)
            .where(Customer.birthday.is_not(None), Customer.erased_at.is_(None))
        )
    ).all()
    rewarded: list[int] = []
    for customer, profile in rows:
        ok, got = await guarded(
            session, job="loyalty birthdays", customer_id=customer.id,
            step=lambda c=customer, p=profile: _birthday_one(  # type: ignore[misc]
                session, clock=clock, rules=rules, now=now, customer=c, profile=p,
                default_timezone=default_timezone,
            ),
        )
        if ok and got:
            rewarded.append(customer.id)
    await session.flush()
    return rewarded


async def _birthday_one(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, now: datetime, customer: Customer,
    profile: LoyaltyProfile | None, default_timezone: str,
) -> bool:
    if customer.birthday is None:
        return False
    if profile is None:
        profile = LoyaltyProfile(customer_id=customer.id, birthday=customer.birthday,
                                 birthday_set_at=min(customer.updated_at, now), updated_at=now)
        session.add(profile)
    elif profile.birthday != customer.birthday:
        profile.birthday = customer.birthday
        profile.birthday_set_at = min(customer.updated_at, now)
        profile.updated_at = now
    today = now.astimezone(zone(customer.timezone, default_timezone)).date()
    if birthday_refusal(birthday=customer.birthday, today=today, set_at=profile.birthday_set_at,
                        rules=rules):
        return False
    _, dup = await _add_entry(
        session, now=now, customer_id=customer.id, kind="birthday", points=rules.birthday_reward,
        reason=f"Birthday {today.year}", key=f"birthday:{customer.id}:{today.year}",
    )
    if dup:
        return False
    await queue_notice(
        session, clock=clock, customer_id=customer.id, kind="birthday",
        dedupe_key=f"birthday:{customer.id}:{today.year}", policy=PROACTIVE,
        params={"points": rules.birthday_reward}, deadline=now + timedelta(days=2),
    )
    return True


def next_birthday(birthday: date, today: date) -> date:
    this_year = birthday_in(today.year, birthday)
    return this_year if this_year >= today else birthday_in(today.year + 1, birthday)


# ------------------------------------------------------------------ expiry


async def run_expiry(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules
) -> tuple[list[int], list[int]]:
    """Warn before balances burn and burn those past their date; returns (warned, expired)."""
    if rules.expiry is None:
        return [], []
    now = clock.now()
    try:
        async with session.begin_nested():
            rows = list(
                (
                    await session.execute(
                        select(
                            LedgerEntry.customer_id,
                            func.sum(case((LedgerEntry.available_at <= now, LedgerEntry.points), else_=0)),
                            func.max(case((LedgerEntry.kind.in_(ACTIVITY_KINDS), LedgerEntry.created_at),
                                          else_=None)),
                        )
                        .group_by(LedgerEntry.customer_id)
                        .having(func.sum(case((LedgerEntry.available_at <= now, LedgerEntry.points),
                                              else_=0)) > 0)
                    )
                ).all()
            )
    except (DBAPIError, OverflowError) as exc:  # a sum beyond 64 bits (data from before the limits)
        if isinstance(exc, DBAPIError) and not _sum_overflow(exc):
            raise  # a real database error is not hidden behind the slow path
        rows = await _expiry_rows_in_python(session, now=now)
    if not rows:
        return [], []
    stats = await purchase_stats(session, customer_ids=[int(r[0]) for r in rows])
    warned: list[int] = []
    expired: list[int] = []
    for cid, spendable, last_ledger in rows:
        ok, outcome = await guarded(
            session, job="loyalty expiry", customer_id=int(cid),
            step=lambda c=int(cid), p=int(spendable), ll=last_ledger: _expiry_one(  # type: ignore[misc]
                session, clock=clock, rules=rules, now=now, cid=c, spendable=p, last_ledger=ll,
                last_purchase=stats.get(c, PurchaseStats()).last_purchase_at,
            ),
        )
        if ok and outcome == "warned":
            warned.append(int(cid))
        elif ok and outcome == "expired":
            expired.append(int(cid))
    await session.flush()
    return warned, expired


async def _expiry_rows_in_python(session: AsyncSession, *, now: datetime) -> list[Any]:
    totals: dict[int, int] = {}
    last: dict[int, datetime] = {}
    result = await session.execute(
        select(LedgerEntry.customer_id, LedgerEntry.points, LedgerEntry.available_at, LedgerEntry.kind,
               LedgerEntry.created_at)
    )
    for cid, points, available_at, kind, created_at in result:
        if available_at <= now:
            totals[cid] = totals.get(cid, 0) + int(points)
        if kind in ACTIVITY_KINDS and (cid not in last or created_at > last[cid]):
            last[cid] = created_at
    return [(cid, total, last.get(cid)) for cid, total in totals.items() if total > 0]


async def _expiry_one(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, now: datetime, cid: int, spendable: int,
    last_ledger: datetime | None, last_purchase: datetime | None,
) -> str | None:
    assert rules.expiry is not None
    last = max((d for d in (last_ledger, last_purchase) if d), default=None)
    stage = expiry_stage(spendable=spendable, last_activity=last, now=now, rules=rules)
    when = expiry_at(last_activity=last, rules=rules)
    if stage == "none" or last is None or when is None:
        return None
    anchor = last.strftime("%Y%m%dT%H%M%S")
    if stage == "warn":
        queued = await queue_notice(
            session, clock=clock, customer_id=cid, kind="expiry_warning",
            dedupe_key=f"expiry_warning:{cid}:{anchor}", policy=PROACTIVE,
            params={"points": spendable, "expires_at": when.isoformat()},
            deadline=when - timedelta(hours=12),
        )
        return "warned" if queued else None
    await _lock_customer(session, cid)
    _, dup = await _add_entry(
        session, now=now, customer_id=cid, kind="expire", points=-spendable,
        reason=f"Expired after {rules.expiry.days} days without activity",
        key=f"expire:{cid}:{anchor}",
    )
    return None if dup else "expired"


# ------------------------------------------------------------------ staff card


async def card_facts(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, customer_id: int
) -> dict[str, Any]:
    """Tier, balance and spend for the staff card."""
    view = await balance(session, clock=clock, rules=rules, customer_id=customer_id)
    return {"tier": view.tier, "points": view.spendable, "pending": view.pending,
            "orders": view.orders, "spend_minor": view.spend_minor, "currency": view.currency}
