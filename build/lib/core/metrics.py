"""Retention metrics with the exact definitions of PRODUCT.md: pure functions over counts.

The SQL that produces the counts lives in core/analytics/; everything here is arithmetic that
tests pin with hand-worked examples. A ratio with a zero denominator is None ("no data"), never
a division error and never a misleading 0. NPS is core.nps.rules.nps_value (surveys use it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    return None if denominator == 0 else numerator / denominator


def pct(numerator: float, denominator: float) -> float | None:
    value = ratio(numerator, denominator)
    return None if value is None else 100.0 * value


@dataclass(frozen=True)
class RetentionCounts:
    """S customers at the period's start, E at its end, N acquired during it."""

    start: int
    end: int
    new: int

    @property
    def retained(self) -> int:
        return self.end - self.new

    @property
    def lost(self) -> int:
        return self.start - self.retained


def crr(c: RetentionCounts) -> float | None:
    """Customer retention rate = (E - N) / S x 100%."""
    return pct(c.end - c.new, c.start)


def churn_rate(c: RetentionCounts) -> float | None:
    """Churn = customers lost during the period / S x 100% (so CRR + churn = 100%)."""
    return pct(c.lost, c.start)


def growth_rate(c: RetentionCounts) -> float | None:
    """Customer growth = (E - S) / S x 100%."""
    return pct(c.end - c.start, c.start)


def repeat_purchase_rate(repeat_customers: int, buying_customers: int) -> float | None:
    """RPR = customers with 2+ purchases / customers with 1+ purchase x 100%."""
    return pct(repeat_customers, buying_customers)


def purchase_frequency(orders: int, customers: int) -> float | None:
    """Orders / unique customers over the period."""
    return ratio(orders, customers)


def average_order_value(revenue: float, orders: int) -> float | None:
    return ratio(revenue, orders)


def expected_lifetime_periods(churn_pct: float | None) -> float | None:
    """Average customer lifetime in periods = 1 / churn rate (None when nobody churned)."""
    if churn_pct is None or churn_pct <= 0:
        return None
    return 100.0 / churn_pct


def ltv(aov: float | None, frequency: float | None, lifetime_periods: float | None) -> float | None:
    """LTV = average order value x purchase frequency (per period) x average lifetime (periods)."""
    if aov is None or frequency is None or lifetime_periods is None:
        return None
    return aov * frequency * lifetime_periods


def revenue_churn(lost_revenue: float, base_revenue: float) -> float | None:
    """Revenue churn = revenue of the previous period that came from customers lost in this
    period / all revenue of the previous period x 100%."""
    return pct(lost_revenue, base_revenue)


def csat_from_counts(counts: Mapping[int, int]) -> tuple[float | None, float | None]:
    """CSAT over a histogram {score 1-5: how many}: (average, % satisfied = share of 4 and 5)."""
    total = sum(counts.values())
    if total == 0:
        return None, None
    return (
        sum(s * n for s, n in counts.items()) / total,
        100.0 * sum(n for s, n in counts.items() if s >= 4) / total,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    data = sorted(values)
    k = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    if lo == hi:
        return float(data[lo])
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


@dataclass(frozen=True)
class Uplift:
    treated_rate: float | None
    control_rate: float | None
    uplift: float | None  # percentage points
    ci_low: float | None
    ci_high: float | None


def uplift(
    treated_converted: int, treated: int, control_converted: int, control: int, z: float = 1.96
) -> Uplift:
    """Difference of two conversion rates with a Wald 95% confidence interval (points)."""
    p1 = ratio(treated_converted, treated)
    p0 = ratio(control_converted, control)
    if p1 is None or p0 is None:
        return Uplift(p1 and 100 * p1, p0 and 100 * p0, None, None, None)
    diff = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / treated + p0 * (1 - p0) / control)
    return Uplift(100 * p1, 100 * p0, 100 * diff, 100 * (diff - z * se), 100 * (diff + z * se))
