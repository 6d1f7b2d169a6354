"""What people see: CSV cells, the staff summary in both languages, chart images."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.analytics import engagement, periods, retention, summary, tables
from core.exit_interview.report import ExitReport, ReasonLine
from core.nps.report import NpsReport
from dialogs.i18n import I18n
from dialogs.stats import charts
from dialogs.stats.handlers import chart_specs, duration, summary_text

NOW = datetime(2025, 7, 15, tzinfo=UTC)


def test_money_in_major_units_and_empty_cells() -> None:
    assert tables._money(6070, "USD") == Decimal("60.70")
    assert tables._money(91.969696, "USD") == Decimal("0.92")
    assert tables._money(1234, "JPY") == Decimal("1234")
    assert tables._money(None, "USD") is None
    text = tables.to_csv((["a", "b", "c"], [[None, True, Decimal("1.50")]]))
    assert list(csv.reader(io.StringIO(text))) == [["a", "b", "c"], ["", "true", "1.50"]]


def _data(empty: bool = False) -> summary.ChartData:
    rng = periods.build(
        granularity="month", timezone="Europe/Moscow", now=NOW, start=date(2025, 6, 1), end=date(2025, 7, 1)
    )
    counts = (
        retention.PeriodCounts()
        if empty
        else retention.PeriodCounts(
            start=50, end=65, retained=40, new=25, reactivated=0, orders=66, buyers=65, repeat_buyers=1
        )
    )
    (row,) = retention.retention_rows(rng, [counts], [0 if empty else 6070])
    p = rng.periods[0]
    churn = retention.RevenueChurnRow(p, p.start_at, 50, 10, 7000, 3000, 3000 / 7000 * 100)
    support = engagement.SupportRow(p, 3, 11 / 3, 200 / 3, 5, 4, 210.0, 510.0, 5, 2, 1, 40.0)
    nps = NpsReport(None, None, 6, 6, 100.0, 3, 1, 2, 50.0, 16.7, 33.3, 16.7, 0, [], [])
    trend = engagement.NpsTrend(rng, [engagement.NpsPoint(p, 6, 3, 1, 2, 16.7)], nps)
    exits = ExitReport(
        None,
        None,
        4,
        4,
        100.0,
        [] if empty else [ReasonLine("price", 2, 50.0, 0), ReasonLine("feature", 2, 50.0, 0)],
        [],
        30,
        4,
        0,
        0.0,
        0,
        0,
        0,
    )
    camp = engagement.CampaignResult(
        1,
        "Win-back",
        "winback",
        "completed",
        p.start_at,
        "purchase",
        30,
        200,
        100,
        100,
        100,
        30,
        10,
        30.0,
        10.0,
        20.0,
        9.3,
        30.7,
    )
    s = summary.Summary(
        rng, 90, row, churn, support, trend, exits, engagement.CampaignReport(rng, [] if empty else [camp])
    )
    cohorts = retention.CohortReport(rng, [retention.CohortRow(p, 0 if empty else 25, [25], [100.0])])
    return summary.ChartData(s, cohorts, engagement.NpsTrend(rng, [] if empty else trend.points, nps))


def test_staff_summary_in_english_and_russian() -> None:
    i18n = I18n()
    en = summary_text(i18n("en"), _data(), currency="USD")
    assert en.splitlines()[0] == "📊 2025-06 · Europe/Moscow"
    assert "Customers: 50 → 65 (new 25, came back 0, lost 10)" in en
    assert "Retention (CRR) 80.0% · churn 20.0% · growth +30.0%" in en
    assert "66 orders" in en and "average order $0.92" in en  # 60.70 / 66
    assert "NPS +16.7 (6 answers)" in en and "Why they leave: 💸 Too expensive 50%" in en
    assert "First reply: median 3 min 30 s, 90% within 8 min 30 s" in en
    assert "• Win-back: 30.0% vs 10.0%, +20.0 pp (+9.3 … +30.7)" in en
    ru = summary_text(i18n("ru"), _data(), currency="RUB")
    assert "Клиенты: 50 → 65" in ru and "66 заказов" in ru and "6 ответов" in ru and "+20.0 п.п." in ru
    empty = summary_text(i18n("en"), _data(empty=True), currency="USD")
    assert "Retention (CRR) no data · churn no data · growth no data" in empty
    assert "LTV no data" in empty and "Why they leave" not in empty


def test_durations() -> None:
    t = I18n()("en")
    assert [duration(t, x) for x in (None, 42, 210, 7265)] == ["no data", "42 s", "3 min 30 s", "2 h 1 min"]


def test_charts_are_png_and_left_out_without_data() -> None:
    t = I18n()("en")
    specs = chart_specs(t, _data())
    assert [type(s) for s in specs] == [charts.Heatmap, charts.Trend, charts.Bars, charts.Intervals]
    images = charts.render(specs)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000 for png in images)
    assert chart_specs(t, _data(empty=True)) == []
    assert charts.plain("💸 Too expensive") == "Too expensive"


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_csv_has_one_row_per_period(tz: str) -> None:
    rng = periods.build(granularity="week", timezone=tz, now=NOW, periods=3)
    rows = retention.retention_rows(rng, [retention.PeriodCounts()] * 3, [0, 0, 0])
    cols, data = tables.retention_table(retention.RetentionReport(rng, 90, rows), "USD")
    assert len(data) == 3 and len(cols) == len(data[0]) and data[0][-1] is True
