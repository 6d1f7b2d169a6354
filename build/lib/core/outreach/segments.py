"""Segments: who is dormant, churned, VIP... compiled to one indexed SQL query each.

A segment is a kind plus filters (language, tier, custom attributes). Lifecycle windows come
from settings (`OutreachRules`) unless the segment names its own `days`. Every kind reads the
per-customer summary (`outreach_stats`), whose columns are indexed, and joins the customer by
primary key: a count over a million customers is a range scan, never a loop in Python.

Definitions (N = `days`, defaults in brackets):

- `active`: engaged (a purchase or any activity) within the last N [dormant] days;
- `dormant`: no purchase and no activity for N [30] days (`max_days` caps it to a band);
- `churned`: no purchase and no activity for N [90] days, or an explicit cancellation;
- `late_churn`: churned after a long, active life (tenure >= T days and >= K orders): these
  come back far more often (~53% against ~29%), so they go first;
- `quick_churn`: churned after a short tenure or few orders;
- `vip` / `pre_vip`: by net spend and order count, with the loyalty module's thresholds;
- `subscribed_never_bought`: reachable through the bot (or with an active subscription) and no
  purchase ever;
- `subscription_expiring`: an active subscription that ends within N [7] days;
- `abandoned_cart`: a cart abandoned within N [3] days with no purchase after it;
- `all`: every customer (useful with filters).

The audience is ordered by what a win-back is worth: most orders, then longest tenure first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from core.loyalty.rules import NEVER_BOUGHT, ONE_TIME, PRE_VIP, REGULAR, TIERS, VIP
from core.outreach.rules import OutreachRules
from storage.models import Customer
from storage.models_outreach import OutreachStats

KINDS: dict[str, str] = {
    "all": "Every customer (combine with filters).",
    "active": "Bought or was active within N days (default: the dormant window).",
    "dormant": "No purchase and no activity for N days (default OUTREACH_DORMANT_DAYS).",
    "churned": "No purchase and no activity for N days (default OUTREACH_CHURN_DAYS), or cancelled.",
    "late_churn": "Churned after a long tenure with many orders: the most likely to come back.",
    "quick_churn": "Churned after a short tenure or few orders.",
    "vip": "VIP tier by net spend and order count (loyalty thresholds).",
    "pre_vip": "One step below VIP.",
    "subscribed_never_bought": "Reachable in the bot (or subscribed) but never bought.",
    "subscription_expiring": "Active subscription ending within N days (default 7).",
    "abandoned_cart": "Abandoned a cart within N days (default 3) and did not buy since.",
}
DEFAULT_DAYS = {"subscription_expiring": 7, "abandoned_cart": 3}
MAX_ATTRIBUTE_FILTERS = 10
Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    kind: str = "dormant"
    days: int | None = None
    max_days: int | None = None
    languages: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    attributes: dict[str, Scalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise Invalid(
                f"unknown segment {self.kind!r}", code="unknown_segment", details={"kinds": sorted(KINDS)}
            )
        bad = [t for t in self.tiers if t not in TIERS]
        if bad:
            raise Invalid(f"unknown tier {bad[0]!r}", code="unknown_tier", details={"tiers": list(TIERS)})
        if self.days is not None and self.days < 0:
            raise Invalid("days must not be negative", code="invalid_segment")
        if self.max_days is not None and (self.kind != "dormant" or self.max_days <= (self.days or 0)):
            raise Invalid("max_days is for dormant segments and must exceed days", code="invalid_segment")
        if len(self.attributes) > MAX_ATTRIBUTE_FILTERS:
            raise Invalid(f"at most {MAX_ATTRIBUTE_FILTERS} attribute filters", code="invalid_segment")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["languages"], data["tiers"] = list(self.languages), list(self.tiers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentSpec:
        return cls(
            kind=data.get("kind", "dormant"),
            days=data.get("days"),
            max_days=data.get("max_days"),
            languages=tuple(data.get("languages") or ()),
            tiers=tuple(data.get("tiers") or ()),
            attributes=dict(data.get("attributes") or {}),
        )


S = OutreachStats


def _days(spec: SegmentSpec, default: int) -> int:
    return spec.days if spec.days is not None else default


def _churned(now: datetime, days: int) -> ColumnElement[bool]:
    return or_(S.last_engaged_at < now - timedelta(days=days), S.subscription_status == "cancelled")


def _late(rules: OutreachRules) -> ColumnElement[bool]:
    return and_(
        S.tenure_days >= rules.late_churn_min_tenure_days, S.orders_count >= rules.late_churn_min_orders
    )


def _tier(tier: str, rules: OutreachRules) -> ColumnElement[bool]:
    """The loyalty module's tier_for() as a condition on the summary (NULLs: never bought)."""
    orders = func.coalesce(S.orders_count, 0)
    spend = func.coalesce(S.spend_minor, 0)
    L = rules.loyalty
    vip = and_(spend >= rules.vip_min_spend_minor, orders >= L.vip_min_orders)
    pre = and_(spend >= rules.pre_vip_min_spend_minor, orders >= L.pre_vip_min_orders)
    if tier == NEVER_BOUGHT:
        return orders <= 0
    if tier == VIP:
        return and_(orders > 0, vip)
    if tier == PRE_VIP:
        return and_(orders > 0, pre, not_(vip))
    if tier == ONE_TIME:
        return and_(orders == 1, not_(vip), not_(pre))
    if tier == REGULAR:
        return and_(orders > 1, not_(vip), not_(pre))
    raise Invalid(f"unknown tier {tier!r}", code="unknown_tier")


def _kind(spec: SegmentSpec, now: datetime, rules: OutreachRules) -> ColumnElement[bool]:
    k = spec.kind
    if k == "all":
        return true()
    if k == "active":
        return S.last_engaged_at >= now - timedelta(days=_days(spec, rules.dormant_days))
    if k == "dormant":
        cond = S.last_engaged_at < now - timedelta(days=_days(spec, rules.dormant_days))
        if spec.max_days is not None:
            cond = and_(cond, S.last_engaged_at >= now - timedelta(days=spec.max_days))
        return cond
    if k == "churned":
        return _churned(now, _days(spec, rules.churn_days))
    if k == "late_churn":
        return and_(_churned(now, _days(spec, rules.churn_days)), _late(rules))
    if k == "quick_churn":
        return and_(_churned(now, _days(spec, rules.churn_days)), not_(_late(rules)))
    if k in ("vip", "pre_vip"):
        return _tier(k, rules)
    if k == "subscribed_never_bought":
        return and_(
            S.orders_count == 0, or_(Customer.telegram_id.is_not(None), S.subscription_status == "active")
        )
    if k == "subscription_expiring":
        horizon = now + timedelta(days=_days(spec, DEFAULT_DAYS[k]))
        return and_(
            S.subscription_status == "active",
            S.subscription_expires_at >= now,
            S.subscription_expires_at <= horizon,
        )
    if k == "abandoned_cart":
        since = now - timedelta(days=_days(spec, DEFAULT_DAYS[k]))
        return and_(
            S.cart_abandoned_at >= since,
            or_(S.last_purchase_at.is_(None), S.last_purchase_at < S.cart_abandoned_at),
        )
    raise Invalid(f"unknown segment {k!r}", code="unknown_segment")


def _attribute(key: str, value: Scalar) -> ColumnElement[bool]:
    element = Customer.attributes[key]
    # as_boolean() & co. come from the JSON comparator, which SQLAlchemy types as Any.
    if isinstance(value, bool):
        condition: ColumnElement[bool] = element.as_boolean() == value
    elif isinstance(value, int):
        condition = element.as_integer() == value
    elif isinstance(value, float):
        condition = element.as_float() == value
    else:
        condition = element.as_string() == value
    return condition


def conditions(
    spec: SegmentSpec, *, now: datetime, rules: OutreachRules, default_language: str = "en"
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a segment (over outreach_stats joined to customers)."""
    where = [Customer.erased_at.is_(None), _kind(spec, now, rules)]
    if spec.languages:
        where.append(func.coalesce(Customer.language, default_language).in_(spec.languages))
    if spec.tiers:
        where.append(or_(*(_tier(t, rules) for t in spec.tiers)))
    where.extend(_attribute(k, v) for k, v in spec.attributes.items())
    return where


def contactable() -> list[ColumnElement[bool]]:
    """Who a proactive message could reach right now (the frequency cap is checked at send)."""
    return [Customer.telegram_id.is_not(None), Customer.opted_in.is_(True), Customer.reachable.is_(True)]


def _estimate(spec: SegmentSpec, now: datetime, rules: OutreachRules) -> ColumnElement[bool] | None:
    """A condition on one indexed summary column that holds for (at least) the segment, so it
    is counted from an index alone; None: everyone."""
    k = spec.kind
    if k == "all":
        return None
    if k in ("late_churn", "quick_churn"):
        return _churned(now, _days(spec, rules.churn_days))
    if k == "vip":
        return S.spend_minor >= rules.vip_min_spend_minor
    if k == "pre_vip":
        return S.spend_minor >= rules.pre_vip_min_spend_minor
    if k == "subscribed_never_bought":
        return S.orders_count == 0
    return _kind(spec, now, rules)


async def share(
    session: AsyncSession, spec: SegmentSpec, *, now: datetime, rules: OutreachRules
) -> float | None:
    """SQLite only: the share of customers the segment's core condition matches.

    SQLite has no statistics on value ranges, so it walks an index for `dormant` even when
    nine customers in ten are dormant, looking each customer up at random (seconds on a
    million rows). Told the share (a cheap count over a covering index), it scans customers
    in id order instead, which is fast. PostgreSQL plans this well by itself: None.
    """
    if session.get_bind().dialect.name != "sqlite":
        return None
    cond = _estimate(spec, now, rules)
    if cond is None:
        return 1.0
    n = await session.scalar(select(func.count()).select_from(S).where(cond)) or 0
    total = await session.scalar(select(func.max(Customer.id))) or 1
    return min(1.0, n / total)


LARGE = 0.05  # above this share, scanning beats walking an index


def audience(
    spec: SegmentSpec,
    *columns: Any,
    now: datetime,
    rules: OutreachRules,
    default_language: str = "en",
    share: float | None = None,
    for_sample: bool = False,
) -> Select[Any]:
    """SELECT <columns or customer id> of the segment.

    `share` (from `share()`, SQLite) picks the plan: a small segment is found through the
    summary's indexes; a large one by scanning customers in id order (or, for a small sample in
    priority order, by walking the order-count index until enough match).
    """
    cols = columns or (Customer.id,)
    where = conditions(spec, now=now, rules=rules, default_language=default_language)
    large = share is not None and share >= LARGE
    if large and spec.kind != "all":
        # likelihood() changes no result: it tells SQLite's planner how selective the term is.
        p = round(min(max(share or 0, LARGE), 0.99), 2)
        where[1] = func.likelihood(where[1], literal_column(repr(p)))  # a bare term: no "= 1"
    base = select(*cols)
    if spec.kind == "all" or (large and not for_sample):
        # The kind condition rejects customers without a summary row, so this outer join
        # returns what an inner join would; it makes SQLite drive from customers, in id order.
        base = base.select_from(Customer).outerjoin(S, S.customer_id == Customer.id)
    else:
        base = base.select_from(S).join(Customer, Customer.id == S.customer_id)
    return base.where(*where)


def priority(spec: SegmentSpec | None = None) -> tuple[Any, ...]:
    """Most orders, then longest tenure first: long-tenure churners come back far more often.

    It is the order of the summary's (orders_count, tenure_days) index, so a sample of the best
    prospects is read from the top of the index; customers without a summary (segment `all`)
    come last.
    """
    if spec is not None and spec.kind == "all":
        return (S.orders_count.desc().nulls_last(), S.tenure_days.desc().nulls_last(), Customer.id.desc())
    return (S.orders_count.desc(), S.tenure_days.desc(), S.customer_id.desc())


@dataclass(frozen=True, slots=True)
class SampleRow:
    customer_id: int
    external_id: str | None
    first_name: str | None
    language: str
    tier: str
    orders: int
    spend_minor: int
    days_inactive: int | None
    last_engaged_at: datetime | None
    contactable: bool


@dataclass(frozen=True, slots=True)
class Preview:
    count: int
    contactable: int
    sample: list[SampleRow]


def tier_of(orders: int, spend_minor: int, rules: OutreachRules) -> str:
    from core.loyalty.rules import tier_for

    return tier_for(spend_minor=spend_minor, orders=orders, rules=rules.loyalty)


async def count(
    session: AsyncSession,
    spec: SegmentSpec,
    *,
    now: datetime,
    rules: OutreachRules,
    default_language: str = "en",
    only_contactable: bool = False,
) -> int:
    """How many customers the segment holds (optionally: only those a message could reach)."""
    total, reachable = await counts(session, spec, now=now, rules=rules, default_language=default_language)
    return reachable if only_contactable else total


async def counts(
    session: AsyncSession,
    spec: SegmentSpec,
    *,
    now: datetime,
    rules: OutreachRules,
    default_language: str = "en",
    hint: float | None = None,
) -> tuple[int, int]:
    """(everyone in the segment, those a message could reach now), in one pass."""
    if hint is None:
        hint = await share(session, spec, now=now, rules=rules)
    reach = case((and_(*contactable()), 1), else_=0)
    stmt = audience(
        spec,
        func.count(),
        func.coalesce(func.sum(reach), 0),
        now=now,
        rules=rules,
        default_language=default_language,
        share=hint,
    )
    total, reachable = (await session.execute(stmt)).one()
    return int(total), int(reachable)


async def preview(
    session: AsyncSession,
    spec: SegmentSpec,
    *,
    now: datetime,
    rules: OutreachRules,
    default_language: str = "en",
    sample_size: int = 10,
) -> Preview:
    """Count and a sample, sending nothing."""
    hint = await share(session, spec, now=now, rules=rules)
    total, reachable = await counts(
        session, spec, now=now, rules=rules, default_language=default_language, hint=hint
    )
    reach = and_(*contactable())
    rows = (
        (
            await session.execute(
                audience(
                    spec,
                    Customer.id,
                    Customer.external_id,
                    Customer.first_name,
                    func.coalesce(Customer.language, default_language),
                    S.orders_count,
                    S.spend_minor,
                    S.last_engaged_at,
                    reach,
                    now=now,
                    rules=rules,
                    default_language=default_language,
                    share=hint,
                    for_sample=True,
                )
                .order_by(*priority(spec))
                .limit(sample_size)
            )
        ).all()
        if sample_size > 0
        else []
    )
    sample = [
        SampleRow(
            customer_id=r[0],
            external_id=r[1],
            first_name=r[2],
            language=r[3],
            tier=tier_of(int(r[4] or 0), int(r[5] or 0), rules),
            orders=int(r[4] or 0),
            spend_minor=int(r[5] or 0),
            days_inactive=(now - r[6]).days if r[6] is not None else None,
            last_engaged_at=r[6],
            contactable=bool(r[7]),
        )
        for r in rows
    ]
    return Preview(total, reachable, sample)


async def iter_ids(
    session: AsyncSession,
    spec: SegmentSpec,
    *,
    now: datetime,
    rules: OutreachRules,
    default_language: str = "en",
    chunk: int = 20_000,
) -> AsyncIterator[list[int]]:
    """The audience's customer ids, best prospects first, in chunks."""
    hint = await share(session, spec, now=now, rules=rules)
    result = await session.stream(
        audience(spec, now=now, rules=rules, default_language=default_language, share=hint).order_by(
            *priority(spec)
        )
    )
    async for part in result.partitions(chunk):
        yield [int(r[0]) for r in part]
