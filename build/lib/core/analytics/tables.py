"""Every report as a flat table (header + rows) for CSV export. Money in major units here."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core import exit_interview
from core.analytics import engagement, retention
from core.analytics.periods import Period
from core.analytics.summary import Summary
from core.loyalty.rules import currency_exponent

Table = tuple[list[str], list[list[Any]]]
PERIOD_COLUMNS = ["period", "start", "end", "complete"]


def _period(p: Period) -> list[Any]:
    return [p.label, p.start.isoformat(), p.end.isoformat(), p.complete]


def _money(minor: float | None, currency: str) -> Any:
    if minor is None:
        return None
    exp = currency_exponent(currency)
    return (Decimal(str(minor)) / 10**exp).quantize(Decimal(1).scaleb(-exp), rounding=ROUND_HALF_UP)


def _num(value: float | None, digits: int = 2) -> Any:
    return None if value is None else round(value, digits)


def retention_table(report: retention.RetentionReport, currency: str) -> Table:
    cols = PERIOD_COLUMNS + [
        "customers_start",
        "customers_end",
        "new_customers",
        "reactivated_customers",
        "acquired_customers",
        "retained_customers",
        "lost_customers",
        "crr_percent",
        "churn_rate_percent",
        "customer_growth_percent",
        "orders",
        "buyers",
        "repeat_buyers",
        "repeat_purchase_rate_percent",
        "purchase_frequency",
        "currency",
        "revenue",
        "average_order_value",
        "revenue_per_buyer",
        "expected_lifetime_periods",
        "ltv",
        "no_data",
    ]
    rows = [
        _period(r.period)
        + [
            r.customers_start,
            r.customers_end,
            r.new_customers,
            r.reactivated_customers,
            r.acquired_customers,
            r.retained_customers,
            r.lost_customers,
            _num(r.crr_percent),
            _num(r.churn_rate_percent),
            _num(r.customer_growth_percent),
            r.orders,
            r.buyers,
            r.repeat_buyers,
            _num(r.repeat_purchase_rate_percent),
            _num(r.purchase_frequency, 4),
            currency,
            _money(r.revenue_minor, currency),
            _money(r.average_order_value_minor, currency),
            _money(r.revenue_per_buyer_minor, currency),
            _num(r.expected_lifetime_periods),
            _money(r.ltv_minor, currency),
            r.no_data,
        ]
        for r in report.rows
    ]
    return cols, rows


def revenue_churn_table(report: retention.RevenueChurnReport, currency: str) -> Table:
    cols = PERIOD_COLUMNS + [
        "window_start",
        "customers_start",
        "lost_customers",
        "currency",
        "base_revenue",
        "lost_revenue",
        "revenue_churn_percent",
    ]
    rows = [
        _period(r.period)
        + [
            r.window_start.isoformat(),
            r.customers_start,
            r.lost_customers,
            currency,
            _money(r.base_revenue_minor, currency),
            _money(r.lost_revenue_minor, currency),
            _num(r.revenue_churn_percent),
        ]
        for r in report.rows
    ]
    return cols, rows


def cohort_table(report: retention.CohortReport) -> Table:
    n = len(report.rows)
    cols = [
        "cohort",
        "start",
        "customers",
        *(f"p{i}" for i in range(n)),
        *(f"p{i}_percent" for i in range(n)),
    ]
    rows = []
    for r in report.rows:
        pad = [None] * (n - len(r.active))
        rows.append(
            [
                r.period.label,
                r.period.start.isoformat(),
                r.customers,
                *r.active,
                *pad,
                *[_num(x, 1) for x in r.retention_percent],
                *pad,
            ]
        )
    return cols, rows


def nps_table(trend: engagement.NpsTrend) -> Table:
    cols = ["segment", "key"] + PERIOD_COLUMNS + ["responses", "promoters", "passives", "detractors", "nps"]
    rows = [
        [
            "period",
            p.period.label,
            *_period(p.period),
            p.responses,
            p.promoters,
            p.passives,
            p.detractors,
            _num(p.nps, 1),
        ]
        for p in trend.points
    ]
    blank = [None] * len(PERIOD_COLUMNS)
    for kind, items in (("tier", trend.overall.by_tier), ("trigger", trend.overall.by_trigger)):
        rows += [
            [kind, b.key, *blank, b.responses, b.promoters, b.passives, b.detractors, _num(b.nps, 1)]
            for b in items
        ]
    o = trend.overall
    rows.append(["all", "all", *blank, o.responses, o.promoters, o.passives, o.detractors, _num(o.nps, 1)])
    return cols, rows


def support_table(report: engagement.SupportReport) -> Table:
    cols = PERIOD_COLUMNS + [
        "csat_responses",
        "csat_average",
        "csat_satisfied_percent",
        "cases_opened",
        "cases_answered",
        "first_response_median_seconds",
        "first_response_p90_seconds",
        "faq_questions",
        "faq_deflected",
        "faq_escalated",
        "faq_deflection_percent",
        "faq_assisted",
    ]
    rows = [
        _period(r.period)
        + [
            r.csat_responses,
            _num(r.csat_average),
            _num(r.csat_satisfied_percent),
            r.cases_opened,
            r.cases_answered,
            _num(r.first_response_median_seconds, 1),
            _num(r.first_response_p90_seconds, 1),
            r.faq_questions,
            r.faq_deflected,
            r.faq_escalated,
            _num(r.faq_deflection_percent),
            r.faq_assisted,
        ]
        for r in report.rows
    ]
    return cols, rows


def exit_table(report: exit_interview.ExitReport) -> Table:
    cols = ["kind", "key", "label", "count", "share_percent", "saved"]
    rows: list[list[Any]] = [
        ["reason", r.reason, None, r.count, r.share_percent, r.saved] for r in report.reasons
    ]
    rows += [["feature", f.feature_key, f.feature, f.count, None, None] for f in report.top_features]
    return cols, rows


def campaign_table(report: engagement.CampaignReport) -> Table:
    cols = [
        "campaign_id",
        "name",
        "playbook",
        "status",
        "start_at",
        "goal",
        "goal_days",
        "targeted",
        "treated",
        "reached",
        "held_out",
        "converted",
        "holdout_converted",
        "win_back_rate_percent",
        "holdout_rate_percent",
        "uplift_points",
        "uplift_ci_low",
        "uplift_ci_high",
        "significant",
    ]
    rows = [
        [
            c.campaign_id,
            c.name,
            c.playbook,
            c.status,
            c.start_at.isoformat(),
            c.goal,
            c.goal_days,
            c.targeted,
            c.treated,
            c.reached,
            c.held_out,
            c.converted,
            c.holdout_converted,
            _num(c.win_back_rate_percent),
            _num(c.holdout_rate_percent),
            _num(c.uplift_points),
            _num(c.uplift_ci_low),
            _num(c.uplift_ci_high),
            c.significant,
        ]
        for c in report.campaigns
    ]
    return cols, rows


def summary_table(s: Summary, currency: str) -> Table:
    """One metric per row: easy to paste next to last month's."""
    r, rc, sup, n = s.retention, s.revenue_churn, s.support, s.nps.overall
    rows: list[list[Any]] = [
        ["customers_start", r.customers_start],
        ["customers_end", r.customers_end],
        ["new_customers", r.new_customers],
        ["reactivated_customers", r.reactivated_customers],
        ["lost_customers", r.lost_customers],
        ["crr_percent", _num(r.crr_percent)],
        ["churn_rate_percent", _num(r.churn_rate_percent)],
        ["customer_growth_percent", _num(r.customer_growth_percent)],
        ["revenue_churn_percent", _num(rc.revenue_churn_percent)],
        ["orders", r.orders],
        ["repeat_purchase_rate_percent", _num(r.repeat_purchase_rate_percent)],
        ["purchase_frequency", _num(r.purchase_frequency, 4)],
        ["revenue", _money(r.revenue_minor, currency)],
        ["average_order_value", _money(r.average_order_value_minor, currency)],
        ["ltv", _money(r.ltv_minor, currency)],
        ["nps", _num(n.nps, 1)],
        ["nps_responses", n.responses],
        ["csat_average", _num(sup.csat_average)],
        ["csat_satisfied_percent", _num(sup.csat_satisfied_percent)],
        ["first_response_median_seconds", _num(sup.first_response_median_seconds, 1)],
        ["first_response_p90_seconds", _num(sup.first_response_p90_seconds, 1)],
        ["faq_deflection_percent", _num(sup.faq_deflection_percent)],
        ["faq_assisted", sup.faq_assisted],
        ["exit_interviews_answered", s.exits.answered],
    ]
    p = s.range.periods[0]
    return ["metric", "value"], [["period", p.label], ["currency", currency], *rows]


def to_csv(table: Table) -> str:
    cols, rows = table
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return value
