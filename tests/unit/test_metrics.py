"""Metrics pinned on hand-worked examples (PRODUCT.md's definitions)."""

import pytest

from core import metrics as m


def test_worked_example_from_product_md() -> None:
    # S = 50 at the start, 25 new during the month, 40 of the original 50 ordered again: E = 65.
    c = m.RetentionCounts(start=50, end=65, new=25)
    assert m.crr(c) == pytest.approx(80.0)
    assert m.churn_rate(c) == pytest.approx(20.0)  # 10 of 50 lost (not 15/40 = 37.5%)
    assert m.crr(c) + m.churn_rate(c) == pytest.approx(100.0)
    assert m.growth_rate(c) == pytest.approx(30.0)


def test_empty_period_is_no_data_not_zero() -> None:
    c = m.RetentionCounts(start=0, end=0, new=0)
    assert m.crr(c) is None and m.churn_rate(c) is None and m.growth_rate(c) is None
    assert m.repeat_purchase_rate(0, 0) is None
    assert m.purchase_frequency(0, 0) is None
    assert m.csat_from_counts({}) == (None, None)
    assert m.percentile([], 50) is None


def test_rpr_frequency_aov_ltv() -> None:
    assert m.repeat_purchase_rate(30, 120) == pytest.approx(25.0)
    assert m.purchase_frequency(150, 100) == pytest.approx(1.5)
    aov = m.average_order_value(7500.0, 150)
    assert aov == pytest.approx(50.0)
    lifetime = m.expected_lifetime_periods(20.0)  # 20% monthly churn -> 5 months
    assert lifetime == pytest.approx(5.0)
    assert m.ltv(aov, 1.5, lifetime) == pytest.approx(375.0)
    assert m.expected_lifetime_periods(0.0) is None and m.ltv(aov, 1.5, None) is None


def test_csat_and_percentiles() -> None:
    # Ratings 5, 4, 3, 1 as a GROUP BY returns them: average 13 / 4, two of four satisfied.
    assert m.csat_from_counts({5: 1, 4: 1, 3: 1, 1: 1}) == (pytest.approx(3.25), pytest.approx(50.0))
    assert m.csat_from_counts({5: 3, 2: 1}) == (pytest.approx(4.25), pytest.approx(75.0))
    assert m.percentile([10, 20, 30, 40], 50) == pytest.approx(25.0)
    assert m.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)


def test_uplift_with_confidence_interval() -> None:
    u = m.uplift(treated_converted=120, treated=900, control_converted=5, control=100)
    assert u.treated_rate == pytest.approx(13.333, abs=1e-3)
    assert u.control_rate == pytest.approx(5.0)
    assert u.uplift == pytest.approx(8.333, abs=1e-3)
    assert u.ci_low is not None and u.ci_high is not None
    assert u.ci_low < u.uplift < u.ci_high and u.ci_low > 0
    empty = m.uplift(0, 0, 0, 10)
    assert empty.uplift is None


def test_revenue_churn() -> None:
    assert m.revenue_churn(250.0, 1000.0) == pytest.approx(25.0)
    assert m.revenue_churn(0, 0) is None
