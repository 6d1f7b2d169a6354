"""Retention, purchases, LTV, revenue churn and cohorts per period (core/analytics/definitions.py).

`decode_*` functions are pure arithmetic over pattern groups (tested on hand-built groups);
the `*_report` functions cut the time axis, run the engine's queries and decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import metrics as m
from core.analytics import engine
from core.analytics.periods import Period, PeriodRange, local_midnight, zone


@dataclass(frozen=True, slots=True)
class Cuts:
    """The time axis of a report: cut points and, in interval indices, each window and period."""

    points: list[datetime]
    bounds: list[datetime]  # t_0 .. t_P
    window_starts: list[datetime]  # a_k = t_k - W (local calendar days), k = 0..P
    windows: list[int]  # bitmask of the intervals in [a_k, t_k), k = 0..P
    periods: list[int]  # bitmask of the intervals in [t_k, t_{k+1}), k = 0..P-1
    period_of: dict[int, int]  # interval -> period (intervals before t_0 have none)
    first_in_periods: int  # first interval at or after t_0


def cuts(rng: PeriodRange, *, active_days: int) -> Cuts:
    """Period boundaries t_k and window starts a_k (W local days earlier) as one sorted axis."""
    tz = zone(rng.timezone)
    bounds = rng.boundaries
    local_bounds = [p.start for p in rng.periods] + [rng.periods[-1].end]
    starts = [local_midnight(d - timedelta(days=active_days), tz) for d in local_bounds]
    # The last boundary is "now" for an incomplete period: its window starts W days before now.
    if not rng.periods[-1].complete:
        starts[-1] = bounds[-1] - (local_midnight(local_bounds[-1], tz) - starts[-1])
    points = sorted(set(bounds) | set(starts))
    index = {p: i for i, p in enumerate(points)}

    def span(a: datetime, b: datetime) -> int:
        bits = 0
        for j in range(index[a], index[b]):
            bits |= 1 << j
        return bits

    periods = [span(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]
    period_of = {j: k for k, bits in enumerate(periods) for j in range(len(points)) if bits >> j & 1}
    return Cuts(
        points,
        bounds,
        starts,
        [span(starts[k], bounds[k]) for k in range(len(bounds))],
        periods,
        period_of,
        index[bounds[0]],
    )


# ------------------------------------------------------------------ customers and purchases


@dataclass(frozen=True, slots=True)
class PeriodCounts:
    start: int = 0  # S: active at the period start
    end: int = 0  # E: active at the period end
    retained: int = 0  # active at both (also if they lapsed and came back inside the period)
    new: int = 0  # first purchase ever in the period, active at the end
    reactivated: int = 0  # active at the end, not at the start, bought before the period
    orders: int = 0
    buyers: int = 0  # customers with 1+ orders in the period
    repeat_buyers: int = 0  # customers with 2+ orders in the period

    @property
    def acquired(self) -> int:
        return self.end - self.retained

    @property
    def lost(self) -> int:
        return self.start - self.retained


def decode_counts(groups: list[engine.PatternGroup], c: Cuts) -> list[PeriodCounts]:
    """S, E, retained, new, reactivated, orders, buyers and repeat buyers for every period.

    Per group only its few intervals are visited; customers are then summed by their activity
    bitmask (bit k: active at boundary k), so the per-period loop runs once per distinct mask.
    """
    n = len(c.periods)
    intervals = len(c.points) - 1
    windows_of = [0] * intervals  # interval -> the boundaries whose window contains it
    for k, bits in enumerate(c.windows):
        for j in range(intervals):
            if bits >> j & 1:
                windows_of[j] |= 1 << k
    period_of = [c.period_of.get(j, -1) for j in range(intervals)]
    orders, buyers, repeat = [0] * n, [0] * n, [0] * n
    by_activity: dict[tuple[int, int], int] = {}
    for g in groups:
        w, act = g.customers, 0
        per: dict[int, int] = {}
        for j, cnt in g.counts.items():
            act |= windows_of[j]
            k = period_of[j]
            if k >= 0:
                per[k] = per.get(k, 0) + cnt
        for k, cnt in per.items():
            orders[k] += w * cnt
            buyers[k] += w
            if cnt >= 2:
                repeat[k] += w
        new_in = -1 if g.old else period_of[min(g.counts)]
        key = (act, new_in)
        by_activity[key] = by_activity.get(key, 0) + w
    acc = [[0] * 5 for _ in range(n)]  # start, end, retained, new, reactivated
    for (act, new_in), w in by_activity.items():
        for k in range(n):
            at_start, at_end = act >> k & 1, act >> (k + 1) & 1
            row = acc[k]
            if at_start:
                row[0] += w
                if at_end:
                    row[1] += w
                    row[2] += w
            elif at_end:
                row[1] += w
                row[3 if new_in == k else 4] += w
    return [
        PeriodCounts(
            start=a[0],
            end=a[1],
            retained=a[2],
            new=a[3],
            reactivated=a[4],
            orders=orders[k],
            buyers=buyers[k],
            repeat_buyers=repeat[k],
        )
        for k, a in enumerate(acc)
    ]


@dataclass(frozen=True, slots=True)
class RetentionRow:
    period: Period
    customers_start: int
    customers_end: int
    new_customers: int
    reactivated_customers: int
    acquired_customers: int
    retained_customers: int
    lost_customers: int
    crr_percent: float | None
    churn_rate_percent: float | None
    customer_growth_percent: float | None
    orders: int
    buyers: int
    repeat_buyers: int
    repeat_purchase_rate_percent: float | None
    purchase_frequency: float | None
    revenue_minor: int
    average_order_value_minor: float | None
    revenue_per_buyer_minor: float | None
    expected_lifetime_periods: float | None
    ltv_minor: float | None
    no_data: bool


@dataclass(frozen=True, slots=True)
class RetentionReport:
    range: PeriodRange
    active_days: int
    rows: list[RetentionRow]


def retention_rows(rng: PeriodRange, counts: list[PeriodCounts], revenue: list[int]) -> list[RetentionRow]:
    """Rates from the counts, with PRODUCT.md's formulas (core.metrics); None = no data."""
    rows = []
    for period, c, rev in zip(rng.periods, counts, revenue, strict=True):
        rc = m.RetentionCounts(start=c.start, end=c.end, new=c.acquired)
        churn = m.churn_rate(rc)
        aov = m.average_order_value(rev, c.orders)
        freq = m.purchase_frequency(c.orders, c.buyers)
        lifetime = m.expected_lifetime_periods(churn)
        rows.append(
            RetentionRow(
                period=period,
                customers_start=c.start,
                customers_end=c.end,
                new_customers=c.new,
                reactivated_customers=c.reactivated,
                acquired_customers=c.acquired,
                retained_customers=c.retained,
                lost_customers=c.lost,
                crr_percent=m.crr(rc),
                churn_rate_percent=churn,
                customer_growth_percent=m.growth_rate(rc),
                orders=c.orders,
                buyers=c.buyers,
                repeat_buyers=c.repeat_buyers,
                repeat_purchase_rate_percent=m.repeat_purchase_rate(c.repeat_buyers, c.buyers),
                purchase_frequency=freq,
                revenue_minor=rev,
                average_order_value_minor=aov,
                revenue_per_buyer_minor=m.ratio(rev, c.buyers),
                expected_lifetime_periods=lifetime,
                ltv_minor=m.ltv(aov, freq, lifetime),
                no_data=c.start == 0 and c.end == 0 and c.orders == 0,
            )
        )
    return rows


async def retention_report(session: AsyncSession, *, rng: PeriodRange, active_days: int) -> RetentionReport:
    """Customers at start/end, new, lost, CRR, churn, growth, purchases and LTV per period."""
    c = cuts(rng, active_days=active_days)
    groups, totals = await engine.both(
        session,
        engine.pattern_groups(session, points=c.points, old_from=c.first_in_periods),
        engine.range_totals(session, ranges=[(p.start_at, p.end_at) for p in rng.periods]),
    )
    counts = decode_counts(groups, c)
    return RetentionReport(rng, active_days, retention_rows(rng, counts, [t.revenue_minor for t in totals]))


# ------------------------------------------------------------------ revenue churn


@dataclass(frozen=True, slots=True)
class RevenueChurnRow:
    period: Period
    window_start: datetime  # revenue is measured over [window_start, period start)
    customers_start: int
    lost_customers: int
    base_revenue_minor: int  # all revenue in the window (it all comes from customers active at start)
    lost_revenue_minor: int  # the part that came from customers lost during the period
    revenue_churn_percent: float | None


@dataclass(frozen=True, slots=True)
class RevenueChurnReport:
    range: PeriodRange
    active_days: int
    rows: list[RevenueChurnRow]


def revenue_cut_points(c: Cuts) -> tuple[list[datetime], list[tuple[int, int]]]:
    """Cut points for cumulative revenue, and per period the (from, to) positions in (0, *cuts).

    A customer lost in period k bought nothing in [a_{k+1}, t_{k+1}), so their revenue in the
    window [a_k, t_k) is their revenue in [a_k, min(t_k, a_{k+1})).
    """
    a, t = c.window_starts, c.bounds
    spans = [(a[k], min(t[k], a[k + 1])) for k in range(len(c.periods))]
    cut_values = sorted({x for span in spans for x in span} - {c.points[0]})
    pos = {x: i + 1 for i, x in enumerate(cut_values)}
    pos[c.points[0]] = 0
    return cut_values, [(pos[x], pos[y]) for x, y in spans]


def decode_revenue_churn(
    groups: list[engine.PatternGroup], c: Cuts, spans: list[tuple[int, int]]
) -> list[int]:
    """Net revenue in the start window of customers lost in each period."""
    lost = [0] * len(c.periods)
    for g in groups:
        mask = g.mask
        active = [mask & bits != 0 for bits in c.windows]
        cum = (0, *g.cumulative)
        for k, (a, b) in enumerate(spans):
            if active[k] and not active[k + 1]:
                lost[k] += cum[b] - cum[a]
    return lost


async def revenue_churn_report(
    session: AsyncSession, *, rng: PeriodRange, active_days: int
) -> RevenueChurnReport:
    """Revenue churn per period: the start window's revenue that left with the lost customers."""
    return (await _retention_and_churn(session, rng=rng, active_days=active_days, new_split=False))[1]


async def retention_and_churn(
    session: AsyncSession, *, rng: PeriodRange, active_days: int
) -> tuple[RetentionReport, RevenueChurnReport]:
    """Both reports from one pass over the purchases (what the one-period summary needs)."""
    return await _retention_and_churn(session, rng=rng, active_days=active_days, new_split=True)


async def _retention_and_churn(
    session: AsyncSession, *, rng: PeriodRange, active_days: int, new_split: bool
) -> tuple[RetentionReport, RevenueChurnReport]:
    c = cuts(rng, active_days=active_days)
    cut_values, spans = revenue_cut_points(c)
    n = len(rng.periods)
    ranges = [(p.start_at, p.end_at) for p in rng.periods] + list(
        zip(c.window_starts[:n], c.bounds[:n], strict=True)
    )
    groups, totals = await engine.both(
        session,
        engine.pattern_groups(
            session,
            points=c.points,
            revenue_cuts=cut_values,
            old_from=c.first_in_periods if new_split else None,
        ),
        engine.range_totals(session, ranges=ranges),
    )
    counts = decode_counts(groups, c)
    lost_revenue = decode_revenue_churn(groups, c, spans)
    revenue, base = [t.revenue_minor for t in totals[:n]], [t.revenue_minor for t in totals[n:]]
    churn_rows = [
        RevenueChurnRow(
            period=p,
            window_start=c.window_starts[k],
            customers_start=counts[k].start,
            lost_customers=counts[k].lost,
            base_revenue_minor=base[k],
            lost_revenue_minor=lost_revenue[k],
            revenue_churn_percent=m.revenue_churn(lost_revenue[k], base[k]),
        )
        for k, p in enumerate(rng.periods)
    ]
    return (
        RetentionReport(rng, active_days, retention_rows(rng, counts, revenue)),
        RevenueChurnReport(rng, active_days, churn_rows),
    )


# ------------------------------------------------------------------ cohorts


@dataclass(frozen=True, slots=True)
class CohortRow:
    period: Period  # the cohort: customers whose first purchase ever fell in this period
    customers: int
    active: list[int]  # active[i]: of them, how many bought in the i-th period after (0 = itself)
    retention_percent: list[float | None]


@dataclass(frozen=True, slots=True)
class CohortReport:
    range: PeriodRange
    rows: list[CohortRow]


def decode_cohorts(groups: list[engine.PatternGroup], n: int) -> list[list[int]]:
    """cells[c][i] = customers of cohort c who bought in period c + i (a triangle)."""
    cells = [[0] * (n - c) for c in range(n)]
    for g in groups:
        if g.old:
            continue
        first = g.first
        for j in g.counts:
            cells[first][j - first] += g.customers
    return cells


async def cohort_report(session: AsyncSession, *, rng: PeriodRange) -> CohortReport:
    """Cohorts by first-purchase period and the share of each that bought in later periods."""
    groups = await engine.pattern_groups(session, points=rng.boundaries, old_from=0)
    cells = decode_cohorts(groups, len(rng.periods))
    rows = []
    for p, row in zip(rng.periods, cells, strict=True):
        size = row[0]
        rows.append(CohortRow(p, size, row, [m.pct(x, size) for x in row]))
    return CohortReport(rng, rows)
