"""Retention arithmetic on hand-built customers, answers worked out by hand.

The engine turns each customer's purchases into counts per interval between cut points; here the
same grouping is done in Python (`groups`) so the decoding is tested without a database. The
SQL that produces the groups is tested on SQLite and PostgreSQL in tests/integration.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from core.analytics import periods as pr
from core.analytics import retention as rt
from core.analytics.engine import PatternGroup

NOW = datetime(2025, 7, 15, tzinfo=UTC)


def d(month: int, day: int, year: int = 2025, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def june(**kw) -> pr.PeriodRange:  # type: ignore[no-untyped-def]
    return pr.build(
        granularity="month", timezone="UTC", now=NOW, start=date(2025, 6, 1), end=date(2025, 7, 1), **kw
    )


def groups(c: rt.Cuts | list[datetime], customers: list[list[tuple[datetime, int]]]) -> list[PatternGroup]:
    """What the engine returns: customers grouped by their orders per interval (order = (at, net))."""
    points = c if isinstance(c, list) else c.points
    lo, hi = points[0], points[-1]
    cuts = [] if isinstance(c, list) else rt.revenue_cut_points(c)[0]
    by_key: dict[tuple, list[int]] = {}
    for orders in customers:
        inside = [(at, net) for at, net in orders if lo <= at < hi]
        if not inside:
            continue
        counts = Counter(bisect_right(points, at) - 1 for at, _ in inside)
        old = any(at < lo for at, _ in orders)
        cum = [sum(net for at, net in inside if at < x) for x in cuts]
        key = (tuple(sorted(counts.items())), old)
        acc = by_key.setdefault(key, [0] * (1 + len(cuts)))
        acc[0] += 1
        for i, v in enumerate(cum):
            acc[1 + i] += v
    return [PatternGroup(dict(k[0]), k[1], v[0], tuple(v[1:])) for k, v in by_key.items()]


def counts_for(customers, rng=None, active_days=90):  # type: ignore[no-untyped-def]
    rng = rng or june()
    c = rt.cuts(rng, active_days=active_days)
    return rt.decode_counts(groups(c, customers), c)


def product_md_example() -> list[list[tuple[datetime, int]]]:
    """S = 50 at the start of June, 25 new in June, 40 of the 50 order again: E = 65."""
    retained = [[(d(3, 15), 100), (d(6, 10), 100)] for _ in range(40)]
    # Last order March 20: active on June 1 (within 90 days), not on July 1.
    lost = [[(d(3, 20), 50)] for _ in range(10)]
    new = [[(d(6, 5), 80)] for _ in range(25)]
    return retained + lost + new


def test_product_md_worked_example() -> None:
    (c,) = counts_for(product_md_example())
    assert (c.start, c.end, c.new, c.reactivated, c.retained, c.lost) == (50, 65, 25, 0, 40, 10)
    (row,) = rt.retention_rows(june(), [c], [40 * 100 + 25 * 80])
    assert row.crr_percent == pytest.approx(80.0)
    assert row.churn_rate_percent == pytest.approx(20.0)
    assert row.crr_percent + row.churn_rate_percent == pytest.approx(100.0)
    assert row.customer_growth_percent == pytest.approx(30.0)
    # 65 orders by 65 buyers in June; revenue 4000 + 2000.
    assert (row.orders, row.buyers, row.repeat_buyers) == (65, 65, 0)
    assert row.repeat_purchase_rate_percent == 0.0 and row.purchase_frequency == 1.0
    assert row.average_order_value_minor == pytest.approx(6000 / 65)
    assert row.expected_lifetime_periods == pytest.approx(5.0)  # 1 / 20%
    assert row.ltv_minor == pytest.approx(6000 / 65 * 1.0 * 5.0)
    assert not row.no_data


def test_empty_period_is_no_data() -> None:
    (c,) = counts_for([])
    (row,) = rt.retention_rows(june(), [c], [0])
    assert row.no_data
    assert row.crr_percent is None and row.churn_rate_percent is None
    assert row.customer_growth_percent is None and row.repeat_purchase_rate_percent is None
    assert row.purchase_frequency is None and row.average_order_value_minor is None
    assert row.ltv_minor is None and row.expected_lifetime_periods is None
    # Customers who only bought long ago are not "data" for June either.
    (c,) = counts_for([[(d(1, 5, 2024), 100)]])
    assert c == rt.PeriodCounts()


def test_left_and_came_back_is_retained_lapsed_customer_is_reactivated() -> None:
    customers = [
        # Active on June 1 (May 20 is within 30 days), lapsed on June 19, back on June 25.
        [(d(5, 20), 10), (d(6, 25), 10)],
        # Bought in January, so not active on June 1; back in June: reactivated, not new.
        [(d(1, 10), 10), (d(6, 10), 10)],
        # Active on June 1 and never again: lost.
        [(d(5, 25), 10)],
    ]
    (c,) = counts_for(customers, active_days=30)
    assert (c.start, c.end, c.retained, c.lost, c.new, c.reactivated) == (2, 2, 1, 1, 0, 1)
    (row,) = rt.retention_rows(june(), [c], [20])
    # N = new + reactivated = 1, so CRR = (2 - 1) / 2 = 50% (not 100% as with N = new only).
    assert row.crr_percent == pytest.approx(50.0) and row.churn_rate_percent == pytest.approx(50.0)


def test_repeat_purchases_and_frequency() -> None:
    customers = [
        [(d(6, 1), 100), (d(6, 2), 100), (d(6, 3), 100)],  # 3 orders in June
        [(d(6, 1), 100), (d(6, 30, hour=23), 100)],  # 2
        [(d(6, 15), 100)],  # 1
        [(d(6, 15), 100), (d(7, 1, hour=0), 100)],  # 1 in June (July 1 00:00 is July)
    ]
    (c,) = counts_for(customers)
    assert (c.orders, c.buyers, c.repeat_buyers, c.new) == (7, 4, 2, 4)
    (row,) = rt.retention_rows(june(), [c], [700])
    assert row.repeat_purchase_rate_percent == pytest.approx(50.0)
    assert row.purchase_frequency == pytest.approx(7 / 4)
    assert row.average_order_value_minor == pytest.approx(100.0)
    assert row.revenue_per_buyer_minor == pytest.approx(175.0)
    assert row.ltv_minor is None  # nobody churned: lifetime unknown, no made-up number


def test_several_periods_and_the_current_one() -> None:
    rng = pr.build(granularity="month", timezone="UTC", now=NOW, start=date(2025, 5, 1))
    assert [p.label for p in rng.periods] == ["2025-05", "2025-06", "2025-07"]
    customers = [
        [(d(5, 3), 10)],  # new in May; with W = 30, lost in June
        [(d(5, 3), 10), (d(6, 20), 10), (d(7, 10), 10)],  # new in May, retained through July 15
        [(d(7, 14), 10)],  # new in July (so far)
    ]
    may, jun, jul = counts_for(customers, rng=rng, active_days=30)
    assert (may.start, may.end, may.new) == (0, 2, 2)
    assert (jun.start, jun.end, jun.retained, jun.lost) == (2, 1, 1, 1)
    # July ends "now" (July 15); the window of the end is June 15 - July 15.
    assert (jul.start, jul.end, jul.retained, jul.new) == (1, 2, 1, 1)


def test_revenue_churn_of_lost_customers() -> None:
    customers = [
        [(d(3, 20), 300)],  # lost in June: its 300 was in the window before June 1
        [(d(4, 1), 200), (d(6, 10), 50)],  # retained
        [(d(2, 1), 999)],  # outside the window: not part of the base
        [(d(6, 5), 70)],  # new: no effect on revenue churn
    ]
    c = rt.cuts(june(), active_days=90)
    cut_values, spans = rt.revenue_cut_points(c)
    lost = rt.decode_revenue_churn(groups(c, customers), c, spans)
    assert lost == [300]
    # Window [March 3, June 1): base = 300 + 200 = 500, so revenue churn is 60%.


def test_revenue_churn_when_periods_are_longer_than_the_window() -> None:
    rng = pr.build(
        granularity="quarter", timezone="UTC", now=NOW, start=date(2025, 1, 1), end=date(2025, 7, 1)
    )
    customers = [
        # Active at Apr 1 (Mar 20 within 30 days); buys Apr 5 but nothing in June: lost in Q2.
        # Only the March order is in the window before Q2.
        [(d(3, 20), 40), (d(4, 5), 60)],
    ]
    c = rt.cuts(rng, active_days=30)
    _, spans = rt.revenue_cut_points(c)
    assert rt.decode_revenue_churn(groups(c, customers), c, spans) == [0, 40]


def test_cohort_triangle() -> None:
    rng = pr.build(granularity="month", timezone="UTC", now=NOW, start=date(2025, 4, 1), end=date(2025, 7, 1))
    customers = [
        [(d(4, 2), 1), (d(5, 2), 1), (d(6, 2), 1)],
        [(d(4, 3), 1), (d(6, 3), 1), (d(6, 4), 1)],
        [(d(4, 9), 1)],
        [(d(5, 9), 1), (d(6, 9), 1)],
        [(d(1, 9), 1), (d(5, 9), 1)],  # first purchase before April: in no cohort
    ]
    # Cohorts use the period boundaries as the only cut points.
    assert rt.decode_cohorts(groups(rng.boundaries, customers), 3) == [[3, 1, 2], [1, 1], [0]]
