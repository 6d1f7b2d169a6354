"""The per-customer summary segments query, and the events that keep it current.

Sources, each folded in as it arrives:

- the bot: every private message or button press is activity (`note_activity`, at most once a
  minute per customer);
- the backend: `/v1/events` (activity, subscription started/expiring/cancelled, cart abandoned),
  idempotent by event id (`record_events`);
- orders (the loyalty module's table): new orders and refunds are picked up by id watermarks
  (`sync_orders`) and each affected customer's purchase facts are recounted exactly from their
  orders (`refresh_purchases`); the first run backfills everyone in bulk SQL (`backfill`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import customers
from core.clock import Clock
from core.errors import Invalid
from core.jobs import guarded
from core.outreach import sequences
from storage.models import Customer
from storage.models_loyalty import Order, OrderRefund
from storage.models_outreach import OutreachEvent, OutreachStats
from storage.state import get_state, set_state
from storage.types import UTCDateTime

log = logging.getLogger(__name__)

ACTIVITY = "activity"
SUBSCRIPTION_STARTED = "subscription_started"
SUBSCRIPTION_EXPIRING = "subscription_expiring"
SUBSCRIPTION_CANCELLED = "subscription_cancelled"
CART_ABANDONED = "cart_abandoned"
EVENT_KINDS = (ACTIVITY, SUBSCRIPTION_STARTED, SUBSCRIPTION_EXPIRING, SUBSCRIPTION_CANCELLED, CART_ABANDONED)
# Events that show the customer doing something (a cancellation or a reminder date does not).
ENGAGING = (ACTIVITY, SUBSCRIPTION_STARTED, CART_ABANDONED)
# Orders that count as purchases (the loyalty module's definition).
COUNTED = ("completed", "partially_refunded")
ORDERS_MARK = "outreach.orders_seen"
REFUNDS_MARK = "outreach.refunds_seen"


def _insert(session: AsyncSession) -> Callable[[Any], PgInsert | SqliteInsert]:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _recompute(row: OutreachStats) -> None:
    """Derived columns: when dormancy is measured from, and how long they were with us."""
    engaged = _latest(row.last_active_at, row.last_purchase_at) or row.first_active_at
    row.last_engaged_at = engaged
    if row.first_active_at is None or row.first_active_at > engaged:
        row.first_active_at = engaged
    row.tenure_days = max(0, (engaged - row.first_active_at).days)


async def _row(session: AsyncSession, customer_id: int, first_at: datetime) -> OutreachStats:
    """The customer's summary row, created on first use (concurrent creators do not clash)."""
    row = await session.get(OutreachStats, customer_id)
    if row is not None:
        return row
    await session.execute(
        _insert(session)(OutreachStats)
        .values(
            customer_id=customer_id,
            first_active_at=first_at,
            last_engaged_at=first_at,
            tenure_days=0,
            orders_count=0,
            spend_minor=0,
            updated_at=first_at,
        )
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )
    row = await session.get(OutreachStats, customer_id)
    assert row is not None
    return row


async def note_activity(
    session: AsyncSession,
    *,
    customer_id: int,
    at: datetime,
    resolution: timedelta = timedelta(0),
) -> None:
    """The customer did something (wrote to the bot, opened the app): not dormant from `at`
    (unchanged if the activity on record is less than `resolution` older)."""
    row = await session.get(OutreachStats, customer_id)
    if row is not None and row.last_active_at is not None and at - row.last_active_at < resolution:
        return
    row = row or await _row(session, customer_id, at)
    row.last_active_at = _latest(row.last_active_at, at)
    row.updated_at = at
    _recompute(row)
    await session.flush()


# ------------------------------------------------------------------ backend events


@dataclass(frozen=True, slots=True)
class EventInput:
    event_id: str
    kind: str
    occurred_at: datetime
    expires_at: datetime | None = None
    product: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventResult:
    event_id: str
    customer_id: int
    duplicate: bool


def _apply(row: OutreachStats, event: EventInput) -> None:
    at = event.occurred_at
    if event.kind in ENGAGING:
        row.last_active_at = _latest(row.last_active_at, at)
    if event.product:
        row.last_product = event.product[:256]
    if event.kind == SUBSCRIPTION_STARTED:
        if row.subscription_cancelled_at is None or at >= row.subscription_cancelled_at:
            row.subscription_status = "active"
            row.subscription_cancelled_at = None
        row.subscription_started_at = _latest(row.subscription_started_at, at)
        if event.expires_at is not None:
            row.subscription_expires_at = event.expires_at
    elif event.kind == SUBSCRIPTION_EXPIRING:
        if row.subscription_status != "cancelled":
            row.subscription_status = "active"
        row.subscription_expires_at = event.expires_at
    elif event.kind == SUBSCRIPTION_CANCELLED:
        started = row.subscription_started_at
        if started is None or at >= started:
            row.subscription_status = "cancelled"
            row.subscription_cancelled_at = at
    elif event.kind == CART_ABANDONED:
        if row.cart_abandoned_at is None or at >= row.cart_abandoned_at:
            row.cart_abandoned_at = at
            row.cart = dict(event.data)
    _recompute(row)


async def record_events(
    session: AsyncSession, *, clock: Clock, customer_id: int, events: Sequence[EventInput]
) -> list[EventResult]:
    """Store events (each once, by `event_id`) and fold them into the customer's summary."""
    now = clock.now()
    results: list[EventResult] = []
    for event in events:
        if event.kind not in EVENT_KINDS:
            raise Invalid(
                f"unknown event kind {event.kind!r}",
                code="unknown_event_kind",
                details={"kinds": list(EVENT_KINDS)},
            )
        if event.kind == SUBSCRIPTION_EXPIRING and event.expires_at is None:
            raise Invalid("subscription_expiring needs expires_at", code="expires_at_required")
        data = dict(event.data)
        if event.expires_at is not None:
            data["expires_at"] = event.expires_at.isoformat()
        if event.product:
            data["product"] = event.product
        inserted = await session.execute(
            _insert(session)(OutreachEvent)
            .values(
                event_id=event.event_id,
                customer_id=customer_id,
                kind=event.kind,
                occurred_at=event.occurred_at,
                data=data,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        if inserted.rowcount == 0:  # type: ignore[attr-defined]
            owner = await session.scalar(
                select(OutreachEvent.customer_id).where(OutreachEvent.event_id == event.event_id)
            )
            results.append(EventResult(event.event_id, int(owner or customer_id), True))
            continue
        row = await _row(session, customer_id, event.occurred_at)
        _apply(row, event)
        row.updated_at = now
        results.append(EventResult(event.event_id, customer_id, False))
        if event.kind == SUBSCRIPTION_STARTED:
            await sequences.on_goal(
                session,
                clock=clock,
                customer_id=customer_id,
                goal="renewal",
                at=event.occurred_at,
                ref=event.event_id,
                amount=None,
            )
    await session.flush()
    return results


async def record_backend_events(
    session: AsyncSession, *, clock: Clock, items: Sequence[tuple[str, EventInput]]
) -> list[EventResult]:
    """Events from `/v1/events`, each naming the customer by your id (unknown ids are created)."""
    wanted = list(dict.fromkeys(ext for ext, _ in items))
    known = dict(
        (
            await session.execute(
                select(Customer.external_id, Customer.id).where(Customer.external_id.in_(wanted))
            )
        ).all()
    )
    for ext in wanted:
        if ext not in known:
            view, _ = await customers.upsert_by_external_id(
                session, clock=clock, external_id=ext, data=customers.CustomerData()
            )
            known[ext] = view.id
    out: list[EventResult] = []
    for ext, event in items:
        out.extend(await record_events(session, clock=clock, customer_id=int(known[ext]), events=[event]))
    return out


# ------------------------------------------------------------------ orders


async def refresh_purchases(
    session: AsyncSession, *, customer_ids: Iterable[int], now: datetime | None = None
) -> None:
    """Recount these customers' purchase facts from their orders (exact, by index)."""
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        facts = {
            int(cid): (int(n), int(spend), last, first)
            for cid, n, spend, last, first in (
                await session.execute(
                    select(
                        Order.customer_id,
                        func.count(),
                        func.coalesce(func.sum(Order.base_amount_minor - Order.base_refunded_minor), 0),
                        func.max(Order.placed_at),
                        func.min(Order.placed_at),
                    )
                    .where(Order.customer_id.in_(chunk), Order.status.in_(COUNTED))
                    .group_by(Order.customer_id)
                )
            ).all()
        }
        for cid in chunk:
            n, spend, last, first = facts.get(cid, (0, 0, None, None))
            row = await session.get(OutreachStats, cid)
            if row is None:
                if n == 0 or first is None:
                    continue
                row = await _row(session, cid, first)
            row.orders_count, row.spend_minor = n, spend
            row.last_purchase_at, row.first_purchase_at = last, first
            if first is not None and first < row.first_active_at:
                row.first_active_at = first
            row.updated_at = now or row.updated_at
            _recompute(row)
    await session.flush()


@dataclass(frozen=True, slots=True)
class SyncResult:
    orders: int = 0
    refunds: int = 0
    backfilled: bool = False


async def sync_orders(session: AsyncSession, *, clock: Clock, batch: int = 5000) -> SyncResult:
    """Fold orders and refunds recorded since the last call into the summary and conversions.

    The first call (at start-up, before any campaign can exist) builds the summary for
    everyone in bulk; from then on each new order or refund is folded in as it is seen.
    """
    now = clock.now()
    orders_mark = await get_state(session, key=ORDERS_MARK)
    if orders_mark is None:
        top_order = await session.scalar(select(func.coalesce(func.max(Order.id), 0)))
        top_refund = await session.scalar(select(func.coalesce(func.max(OrderRefund.id), 0)))
        await backfill(session, now=now)
        await set_state(session, now=now, key=ORDERS_MARK, value=str(top_order))
        await set_state(session, now=now, key=REFUNDS_MARK, value=str(top_refund))
        return SyncResult(backfilled=True)
    refunds_mark = int(await get_state(session, key=REFUNDS_MARK) or 0)
    new_orders = (
        await session.execute(
            select(
                Order.id,
                Order.customer_id,
                Order.external_id,
                Order.base_amount_minor,
                Order.placed_at,
                Order.status,
            )
            .where(Order.id > int(orders_mark))
            .order_by(Order.id)
            .limit(batch)
        )
    ).all()
    new_refunds = (
        await session.execute(
            select(OrderRefund.id, Order.customer_id)
            .join(Order, Order.id == OrderRefund.order_id)
            .where(OrderRefund.id > refunds_mark)
            .order_by(OrderRefund.id)
            .limit(batch)
        )
    ).all()
    if not new_orders and not new_refunds:
        return SyncResult()
    touched = {int(r.customer_id) for r in new_orders} | {int(r.customer_id) for r in new_refunds}
    ok, _ = await guarded(
        session,
        job="outreach order sync",
        customer_id=None,
        step=lambda: refresh_purchases(session, customer_ids=touched, now=now),
    )
    if not ok:  # one customer's orders cannot be folded in: do the others one by one
        for cid in sorted(touched):
            await guarded(
                session,
                job="outreach order sync",
                customer_id=cid,
                step=lambda c=cid: refresh_purchases(session, customer_ids=[c], now=now),  # type: ignore[misc]
            )
    for r in new_orders:
        if r.status in COUNTED:
            await guarded(
                session,
                job="outreach conversions",
                customer_id=int(r.customer_id),
                step=lambda r=r: sequences.on_goal(  # type: ignore[misc]
                    session,
                    clock=clock,
                    customer_id=int(r.customer_id),
                    goal="purchase",
                    at=r.placed_at,
                    ref=r.external_id,
                    amount=int(r.base_amount_minor),
                ),
            )
    if new_orders:
        await set_state(session, now=now, key=ORDERS_MARK, value=str(new_orders[-1].id))
    if new_refunds:
        await set_state(session, now=now, key=REFUNDS_MARK, value=str(new_refunds[-1].id))
    return SyncResult(orders=len(new_orders), refunds=len(new_refunds))


async def backfill(session: AsyncSession, *, now: datetime) -> None:
    """Build the summary for everyone at once in SQL: bot last-seen times and all orders.

    Run on the first sync (a fresh install, or the upgrade that added outreach); afterwards the
    summary is kept current incrementally. The orders are aggregated once, by a sequential scan
    (on SQLite an index walk over millions of orders is several times slower).
    """
    sqlite = session.get_bind().dialect.name != "postgresql"
    counted = ", ".join(f"'{s}'" for s in COUNTED)
    lo, hi = ("min", "max") if sqlite else ("LEAST", "GREATEST")
    days = (
        "CAST(julianday({a}) - julianday({b}) AS INTEGER)"
        if sqlite
        else "EXTRACT(DAY FROM ({a}) - ({b}))::int"
    )

    def earliest(a: str, b: str) -> str:
        return f"{lo}(COALESCE({a}, {b}), COALESCE({b}, {a}))"

    def latest(a: str, b: str) -> str:
        return f"{hi}(COALESCE({a}, {b}), COALESCE({b}, {a}))"

    now_param = bindparam("now", type_=UTCDateTime())
    await session.execute(text("DROP TABLE IF EXISTS outreach_agg"))
    await session.execute(
        text(
            "CREATE TEMPORARY TABLE outreach_agg AS SELECT customer_id, count(*) AS n, "
            "SUM(base_amount_minor - base_refunded_minor) AS spend, MAX(placed_at) AS last_at, "
            f"MIN(placed_at) AS first_at FROM orders{' NOT INDEXED' if sqlite else ''} "
            f"WHERE status IN ({counted}) GROUP BY customer_id"
        )
    )
    # Rows the bot or an event created before this first sync: add their purchases.
    await session.execute(
        text(
            "UPDATE outreach_stats SET orders_count = agg.n, spend_minor = agg.spend, "
            "last_purchase_at = agg.last_at, first_purchase_at = agg.first_at, "
            f"first_active_at = {earliest('outreach_stats.first_active_at', 'agg.first_at')}, "
            "updated_at = :now "
            "FROM outreach_agg AS agg WHERE outreach_stats.customer_id = agg.customer_id"
        ).bindparams(now_param),
        {"now": now},
    )
    engaged = latest(
        "COALESCE(last_active_at, first_active_at)", "COALESCE(last_purchase_at, first_active_at)"
    )
    await session.execute(text(f"UPDATE outreach_stats SET last_engaged_at = {engaged}"))
    await session.execute(
        text(
            "UPDATE outreach_stats SET tenure_days = " + days.format(a="last_engaged_at", b="first_active_at")
        )
    )
    # Everyone else, in one pass.
    first = earliest("COALESCE(c.first_seen_at, c.last_seen_at)", "a.first_at")
    last = latest("c.last_seen_at", "a.last_at")
    await session.execute(
        text(
            "INSERT INTO outreach_stats (customer_id, first_active_at, last_active_at, last_purchase_at, "
            "first_purchase_at, last_engaged_at, tenure_days, orders_count, spend_minor, updated_at) "
            f"SELECT c.id, {first}, c.last_seen_at, a.last_at, a.first_at, {last}, "
            f"{days.format(a=last, b=first)}, COALESCE(a.n, 0), COALESCE(a.spend, 0), :now "
            "FROM customers AS c LEFT JOIN outreach_agg AS a ON a.customer_id = c.id "
            "WHERE c.erased_at IS NULL AND (c.last_seen_at IS NOT NULL OR a.customer_id IS NOT NULL) "
            "ON CONFLICT (customer_id) DO NOTHING"
        ).bindparams(now_param),
        {"now": now},
    )
    await session.execute(text("DROP TABLE outreach_agg"))
    await session.flush()


@dataclass(frozen=True, slots=True)
class SummaryView:
    customer_id: int
    first_active_at: datetime
    last_active_at: datetime | None
    last_purchase_at: datetime | None
    last_engaged_at: datetime
    tenure_days: int
    orders_count: int
    spend_minor: int
    last_product: str | None
    subscription_status: str | None
    subscription_expires_at: datetime | None
    cart_abandoned_at: datetime | None


async def stats_of(session: AsyncSession, *, customer_id: int) -> SummaryView | None:
    """What segments know about one customer (None: nothing yet)."""
    row = await session.get(OutreachStats, customer_id)
    if row is None:
        return None
    return SummaryView(
        customer_id=row.customer_id,
        first_active_at=row.first_active_at,
        last_active_at=row.last_active_at,
        last_purchase_at=row.last_purchase_at,
        last_engaged_at=row.last_engaged_at,
        tenure_days=row.tenure_days,
        orders_count=row.orders_count,
        spend_minor=row.spend_minor,
        last_product=row.last_product,
        subscription_status=row.subscription_status,
        subscription_expires_at=row.subscription_expires_at,
        cart_abandoned_at=row.cart_abandoned_at,
    )


async def customer_by_external_id(session: AsyncSession, *, external_id: str) -> int | None:
    return await session.scalar(select(Customer.id).where(Customer.external_id == external_id))
