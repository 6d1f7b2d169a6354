"""NPS and its trend, CSAT, first-response time, FAQ deflection, exit reasons, win-back results.

Thin on purpose: the NPS report, the exit-interview report, FAQ deflection and campaign
conversions already exist in their own modules; this one slices them by reporting period.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import exit_interview, faq_stats, nps
from core import metrics as m
from core.analytics.periods import Period, PeriodRange
from core.clock import Clock
from storage.models_outreach import Campaign
from storage.models_support import SupportCase

# ------------------------------------------------------------------ NPS


@dataclass(frozen=True, slots=True)
class NpsPoint:
    period: Period
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


@dataclass(frozen=True, slots=True)
class NpsTrend:
    range: PeriodRange
    points: list[NpsPoint]
    overall: nps.NpsReport  # the whole range, with the by-tier and by-trigger segments


async def nps_trend(session: AsyncSession, *, rng: PeriodRange) -> NpsTrend:
    """NPS per period (answers given in it) and over the whole range by segment."""
    reports = [await nps.report(session, since=p.start_at, until=p.end_at) for p in rng.periods]
    points = [
        NpsPoint(p, r.responses, r.promoters, r.passives, r.detractors, r.nps)
        for p, r in zip(rng.periods, reports, strict=True)
    ]
    # One period (the summary, /stats): the whole range is that period, already counted.
    overall = (
        reports[0] if len(reports) == 1 else await nps.report(session, since=rng.start_at, until=rng.end_at)
    )
    return NpsTrend(rng, points, overall)


# ------------------------------------------------------------------ support


@dataclass(frozen=True, slots=True)
class SupportRow:
    period: Period
    csat_responses: int
    csat_average: float | None  # 1-5
    csat_satisfied_percent: float | None  # share of 4 and 5
    cases_opened: int
    cases_answered: int  # of those, how many got a first staff reply (by now)
    first_response_median_seconds: float | None
    first_response_p90_seconds: float | None
    faq_questions: int
    faq_deflected: int  # answered by the FAQ without a human
    faq_escalated: int
    faq_deflection_percent: float | None
    faq_assisted: int = 0  # FAQ answers staff sent from a topic (reported apart from deflection)


@dataclass(frozen=True, slots=True)
class SupportReport:
    range: PeriodRange
    rows: list[SupportRow]


def _bucket(starts: list[datetime], rng: PeriodRange, at: datetime) -> int | None:
    """The period `at` falls in, or None outside the range."""
    if at < rng.start_at or at >= rng.end_at:
        return None
    return bisect_right(starts, at) - 1


async def support_report(session: AsyncSession, *, rng: PeriodRange) -> SupportReport:
    """CSAT (1-5 after a closed case), first staff reply times and FAQ deflection per period."""
    starts = [p.start_at for p in rng.periods]
    n = len(rng.periods)
    csat: list[Counter[int]] = [Counter() for _ in range(n)]
    rows = (
        await session.execute(
            select(SupportCase.csat_at, SupportCase.csat_score).where(
                SupportCase.csat_score.is_not(None),
                SupportCase.csat_at >= rng.start_at,
                SupportCase.csat_at < rng.end_at,
            )
        )
    ).all()
    for at, score in rows:
        k = None if at is None or score is None else _bucket(starts, rng, at)
        if k is not None and score is not None:
            csat[k][int(score)] += 1
    opened = [0] * n
    waits: list[list[float]] = [[] for _ in range(n)]
    cases = (
        await session.execute(
            select(SupportCase.opened_at, SupportCase.first_staff_reply_at).where(
                SupportCase.opened_at >= rng.start_at, SupportCase.opened_at < rng.end_at
            )
        )
    ).all()
    for opened_at, replied_at in cases:
        k = _bucket(starts, rng, opened_at)
        if k is None:
            continue
        opened[k] += 1
        if replied_at is not None:
            waits[k].append(max(0.0, (replied_at - opened_at).total_seconds()))
    out = []
    for k, p in enumerate(rng.periods):
        days = await faq_stats.deflection_by_day(session, start=p.start_at, end=p.end_at)
        questions = sum(d.questions for d in days)
        deflected = sum(d.deflected for d in days)
        avg, satisfied = m.csat_from_counts(csat[k])
        out.append(
            SupportRow(
                period=p,
                csat_responses=sum(csat[k].values()),
                csat_average=avg,
                csat_satisfied_percent=satisfied,
                cases_opened=opened[k],
                cases_answered=len(waits[k]),
                first_response_median_seconds=m.percentile(waits[k], 50),
                first_response_p90_seconds=m.percentile(waits[k], 90),
                faq_questions=questions,
                faq_deflected=deflected,
                faq_escalated=sum(d.escalated for d in days),
                faq_deflection_percent=m.pct(deflected, questions),
                faq_assisted=sum(d.assisted for d in days),
            )
        )
    return SupportReport(rng, out)


# ------------------------------------------------------------------ exit reasons


async def exit_reasons(
    session: AsyncSession, *, rng: PeriodRange, clock: Clock, rules: exit_interview.ExitRules
) -> exit_interview.ExitReport:
    """Why people leave (interviews sent in the range), top missed features, save rate."""
    return await exit_interview.report(
        session, clock=clock, rules=rules, since=rng.start_at, until=rng.end_at
    )


# ------------------------------------------------------------------ campaigns


@dataclass(frozen=True, slots=True)
class CampaignResult:
    campaign_id: int
    name: str
    playbook: str | None
    status: str
    start_at: datetime
    goal: str
    goal_days: int
    targeted: int
    treated: int  # targeted minus the holdout (intent to treat: reached or not)
    reached: int
    held_out: int
    converted: int
    holdout_converted: int
    win_back_rate_percent: float | None
    holdout_rate_percent: float | None
    uplift_points: float | None
    uplift_ci_low: float | None
    uplift_ci_high: float | None

    @property
    def significant(self) -> bool | None:
        """The 95% interval excludes zero (None when it cannot be computed)."""
        if self.uplift_ci_low is None or self.uplift_ci_high is None:
            return None
        return self.uplift_ci_low > 0 or self.uplift_ci_high < 0


@dataclass(frozen=True, slots=True)
class CampaignReport:
    range: PeriodRange
    campaigns: list[CampaignResult]


async def campaign_results(
    session: AsyncSession,
    *,
    rng: PeriodRange,
    clock: Clock,
    playbook: str | None = None,
    limit: int = 100,
) -> CampaignReport:
    """Campaigns running at some point of the range: win-back rate and uplift over the holdout."""
    from core.outreach import campaigns as outreach_campaigns
    from core.outreach.sequences import goal_of

    stmt = (
        select(Campaign)
        .where(
            Campaign.start_at < rng.end_at,
            or_(Campaign.completed_at.is_(None), Campaign.completed_at >= rng.start_at),
            or_(Campaign.cancelled_at.is_(None), Campaign.cancelled_at >= rng.start_at),
        )
        .order_by(Campaign.start_at, Campaign.id)
        .limit(limit)
    )
    if playbook is not None:
        stmt = stmt.where(Campaign.playbook == playbook)
    now = clock.now()
    out = []
    for row in (await session.execute(stmt)).scalars():
        s = await outreach_campaigns.campaign_stats(session, campaign=row, now=now)
        low, high = s.uplift_ci if s.uplift_ci is not None else (None, None)
        goal, days = goal_of(row)
        out.append(
            CampaignResult(
                campaign_id=row.id,
                name=row.name,
                playbook=row.playbook,
                status=row.status,
                start_at=row.start_at,
                goal=goal,
                goal_days=days,
                targeted=s.targeted,
                treated=s.treated,
                reached=s.reached,
                held_out=s.held_out,
                converted=s.converted,
                holdout_converted=s.holdout_converted,
                win_back_rate_percent=s.conversion_rate,
                holdout_rate_percent=s.holdout_conversion_rate,
                uplift_points=s.uplift_pp,
                uplift_ci_low=low,
                uplift_ci_high=high,
            )
        )
    return CampaignReport(rng, out)
