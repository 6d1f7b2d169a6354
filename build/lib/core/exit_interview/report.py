"""Requested features ('it shipped' news) and the exit-interview report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.errors import Invalid
from core.loyalty.notices import REQUESTED, queue_notice
from core.nps.rules import percent
from storage.models_loyalty import ExitInterview, FeatureRequest, Order, PromoCode, ShippedFeature

if TYPE_CHECKING:
    pass
from core.exit_interview.rules import REASONS, ExitRules, feature_key

# ------------------------------------------------------------------ features


@dataclass(frozen=True, slots=True)
class ShipResult:
    feature_key: str
    matched_keys: list[str]
    requests: int  # customers who asked and had not been told
    notified: int  # messages queued now


async def feature_shipped(
    session: AsyncSession, *, clock: Clock, feature: str, aliases: list[str] | None = None
) -> ShipResult:
    """Tell everyone who missed this feature (by its name or an alias) that it is here, once."""
    key = feature_key(feature)
    if not key:
        raise Invalid("feature must contain letters or digits", code="invalid_feature")
    keys = list(dict.fromkeys([key, *(k for k in (feature_key(a) for a in aliases or []) if k)]))
    now = clock.now()
    for k in keys:
        if await session.scalar(select(ShippedFeature.id).where(ShippedFeature.feature_key == k)) is None:
            session.add(ShippedFeature(feature_key=k, label=feature.strip()[:256], shipped_at=now))
    rows = (
        (
            await session.execute(
                select(FeatureRequest).where(
                    FeatureRequest.feature_key.in_(keys), FeatureRequest.shipped_at.is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    notified = 0
    for req in rows:
        req.shipped_at = now
        queued = await queue_notice(
            session,
            clock=clock,
            customer_id=req.customer_id,
            kind="feature_shipped",
            dedupe_key=f"feature:{req.customer_id}:{req.feature_key}",
            policy=REQUESTED,
            params={"feature": feature.strip()[:256], "asked": req.label},
            deadline=now + timedelta(days=30),
        )
        notified += int(queued)
    await session.flush()
    return ShipResult(key, keys, len(rows), notified)


# ------------------------------------------------------------------ report


@dataclass(frozen=True, slots=True)
class ReasonLine:
    reason: str
    count: int
    share_percent: float
    saved: int


@dataclass(frozen=True, slots=True)
class FeatureLine:
    feature: str
    feature_key: str
    count: int
    shipped: bool


@dataclass(frozen=True, slots=True)
class ExitReport:
    since: datetime | None
    until: datetime | None
    interviews: int  # reached the customer
    answered: int
    response_rate_percent: float
    reasons: list[ReasonLine]
    top_features: list[FeatureLine]
    save_window_days: int
    customers: int
    saved: int
    save_rate_percent: float
    still_in_window: int  # not saved yet, but their window is still open
    offers_given: int
    offers_redeemed: int


async def report(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: ExitRules,
    since: datetime | None = None,
    until: datetime | None = None,
    top: int = 10,
) -> ExitReport:
    """Reasons by count and share, the most missed features and the save rate for a period."""
    now = clock.now()
    stmt = select(ExitInterview).where(ExitInterview.sent_at.is_not(None))
    if since is not None:
        stmt = stmt.where(ExitInterview.sent_at >= since)
    if until is not None:
        stmt = stmt.where(ExitInterview.sent_at < until)
    rows = list((await session.execute(stmt.order_by(ExitInterview.sent_at))).scalars())
    first_by_customer: dict[int, ExitInterview] = {}
    for row in rows:
        first_by_customer.setdefault(row.customer_id, row)

    # Saved: the customer ordered again within the window after their (first) interview.
    orders = (
        (
            await session.execute(
                select(Order.customer_id, Order.placed_at).where(
                    Order.customer_id.in_(list(first_by_customer)),
                    Order.status.in_(("completed", "partially_refunded")),
                )
            )
        ).all()
        if first_by_customer
        else []
    )
    saved_customers: set[int] = set()
    for cid, placed in orders:
        start = first_by_customer[cid].sent_at
        assert start is not None
        if start < placed <= start + rules.save_window:
            saved_customers.add(cid)
    in_window = sum(
        1
        for cid, r in first_by_customer.items()
        if cid not in saved_customers and r.sent_at is not None and r.sent_at + rules.save_window > now
    )

    answered = [r for r in rows if r.reason is not None]
    counts = Counter(str(r.reason) for r in answered)
    saved_by_reason = Counter(str(r.reason) for r in answered if r.customer_id in saved_customers)
    reasons = [
        ReasonLine(reason, counts[reason], percent(counts[reason], len(answered)), saved_by_reason[reason])
        for reason in sorted(counts, key=lambda k: (-counts[k], REASONS.index(k)))
    ]

    fstmt = select(
        FeatureRequest.feature_key,
        func.count(),
        func.min(FeatureRequest.label),
        func.max(FeatureRequest.shipped_at),
    ).group_by(FeatureRequest.feature_key)
    if since is not None:
        fstmt = fstmt.where(FeatureRequest.created_at >= since)
    if until is not None:
        fstmt = fstmt.where(FeatureRequest.created_at < until)
    features = sorted((await session.execute(fstmt)).all(), key=lambda r: (-r[1], r[0]))[:top]
    offers = [r.promo_code_id for r in rows if r.promo_code_id is not None]
    redeemed = 0
    if offers:
        redeemed = int(
            await session.scalar(
                select(func.count())
                .select_from(PromoCode)
                .where(PromoCode.id.in_(offers), PromoCode.redeemed_at.is_not(None))
            )
            or 0
        )
    return ExitReport(
        since=since,
        until=until,
        interviews=len(rows),
        answered=len(answered),
        response_rate_percent=percent(len(answered), len(rows)),
        reasons=reasons,
        top_features=[
            FeatureLine(label, key, int(n), shipped is not None) for key, n, label, shipped in features
        ],
        save_window_days=rules.save_window.days,
        customers=len(first_by_customer),
        saved=len(saved_customers),
        save_rate_percent=percent(len(saved_customers), len(first_by_customer)),
        still_in_window=in_window,
        offers_given=len(offers),
        offers_redeemed=redeemed,
    )
