"""One period at a glance (the API's summary and staff's /stats) and the data behind the charts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core import exit_interview
from core.analytics import engagement, periods
from core.analytics import retention as rt
from core.analytics.periods import PeriodRange
from core.clock import Clock


@dataclass(frozen=True, slots=True)
class Summary:
    range: PeriodRange
    active_days: int
    retention: rt.RetentionRow
    revenue_churn: rt.RevenueChurnRow
    support: engagement.SupportRow
    nps: engagement.NpsTrend
    exits: exit_interview.ExitReport
    campaigns: engagement.CampaignReport


async def summary(
    session: AsyncSession,
    *,
    rng: PeriodRange,
    active_days: int,
    clock: Clock,
    exit_rules: exit_interview.ExitRules,
) -> Summary:
    """Every headline figure of one period (the last one of `rng`)."""
    one = periods.single(
        day=rng.periods[-1].start, granularity=rng.granularity, timezone=rng.timezone, now=rng.as_of
    )
    ret, churn = await rt.retention_and_churn(session, rng=one, active_days=active_days)
    sup = await engagement.support_report(session, rng=one)
    trend = await engagement.nps_trend(session, rng=one)
    exits = await engagement.exit_reasons(session, rng=one, clock=clock, rules=exit_rules)
    camps = await engagement.campaign_results(session, rng=one, clock=clock)
    return Summary(one, active_days, ret.rows[0], churn.rows[0], sup.rows[0], trend, exits, camps)


@dataclass(frozen=True, slots=True)
class ChartData:
    summary: Summary
    cohorts: rt.CohortReport  # monthly cohorts up to the period
    nps_trend: engagement.NpsTrend  # the same granularity, trailing


async def chart_data(
    session: AsyncSession,
    *,
    rng: PeriodRange,
    active_days: int,
    clock: Clock,
    exit_rules: exit_interview.ExitRules,
    lookback: int,
) -> ChartData:
    """The summary plus what /stats draws: cohort heatmap, NPS trend (exit reasons and campaign
    uplift come from the summary)."""
    # The cohort pass first: on SQLite it reads outside the session, so it does not keep the
    # session's transaction open while it runs.
    cohorts = await rt.cohort_report(session, rng=periods.trailing(rng, count=lookback, granularity="month"))
    s = await summary(session, rng=rng, active_days=active_days, clock=clock, exit_rules=exit_rules)
    trend = await engagement.nps_trend(session, rng=periods.trailing(s.range, count=lookback))
    return ChartData(s, cohorts, trend)
