"""NPS queries: the report by segment, tier and trigger, and the list of responses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.loyalty.rules import TIERS
from core.nps.rules import DETRACTOR, PASSIVE, PROMOTER, nps_value, percent
from storage.models import Customer
from storage.models_loyalty import Survey

# ------------------------------------------------------------------ report


@dataclass(frozen=True, slots=True)
class NpsBreakdown:
    key: str
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


@dataclass(frozen=True, slots=True)
class NpsReport:
    since: datetime | None
    until: datetime | None
    surveys_sent: int
    responses: int
    response_rate_percent: float
    promoters: int
    passives: int
    detractors: int
    promoters_percent: float
    passives_percent: float
    detractors_percent: float
    nps: float | None
    comments: int
    by_tier: list[NpsBreakdown]
    by_trigger: list[NpsBreakdown]


def _breakdown(key: str, cats: Counter[str]) -> NpsBreakdown:
    p, s, d = cats[PROMOTER], cats[PASSIVE], cats[DETRACTOR]
    return NpsBreakdown(key, p + s + d, p, s, d, nps_value(promoters=p, passives=s, detractors=d))


async def report(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tier: str | None = None,
    trigger: str | None = None,
) -> NpsReport:
    """NPS of the answers given in [since, until), overall and by tier and trigger."""
    stmt = select(Survey.category, Survey.tier, Survey.trigger, Survey.comment).where(
        Survey.score.is_not(None)
    )
    sent_stmt = select(func.count()).select_from(Survey).where(Survey.sent_at.is_not(None))
    if since is not None:
        stmt = stmt.where(Survey.answered_at >= since)
        sent_stmt = sent_stmt.where(Survey.sent_at >= since)
    if until is not None:
        stmt = stmt.where(Survey.answered_at < until)
        sent_stmt = sent_stmt.where(Survey.sent_at < until)
    if tier is not None:
        stmt = stmt.where(Survey.tier == tier)
        sent_stmt = sent_stmt.where(Survey.tier == tier)
    if trigger is not None:
        stmt = stmt.where(Survey.trigger == trigger)
        sent_stmt = sent_stmt.where(Survey.trigger == trigger)
    rows = (await session.execute(stmt)).all()
    total: Counter[str] = Counter()
    tiers: dict[str, Counter[str]] = {}
    triggers: dict[str, Counter[str]] = {}
    comments = 0
    for category, row_tier, row_trigger, comment in rows:
        cat = str(category)
        total[cat] += 1
        tiers.setdefault(row_tier or "unknown", Counter())[cat] += 1
        triggers.setdefault(row_trigger, Counter())[cat] += 1
        comments += 1 if comment else 0
    sent = int(await session.scalar(sent_stmt) or 0)
    overall = _breakdown("all", total)
    tier_order = {t: i for i, t in enumerate(reversed(TIERS))}
    return NpsReport(
        since=since,
        until=until,
        surveys_sent=sent,
        responses=overall.responses,
        response_rate_percent=percent(overall.responses, sent) if sent else 0.0,
        promoters=overall.promoters,
        passives=overall.passives,
        detractors=overall.detractors,
        promoters_percent=percent(overall.promoters, overall.responses),
        passives_percent=percent(overall.passives, overall.responses),
        detractors_percent=percent(overall.detractors, overall.responses),
        nps=overall.nps,
        comments=comments,
        by_tier=[
            _breakdown(k, v) for k, v in sorted(tiers.items(), key=lambda kv: tier_order.get(kv[0], 99))
        ],
        by_trigger=[_breakdown(k, v) for k, v in sorted(triggers.items())],
    )


@dataclass(frozen=True, slots=True)
class ResponseView:
    survey_id: int
    customer_id: int
    external_id: str | None
    score: int
    category: str
    comment: str | None
    tier: str | None
    trigger: str
    answered_at: datetime


async def responses(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    category: str | None = None,
    limit: int = 50,
    after_id: int = 0,
) -> tuple[list[ResponseView], int | None]:
    """Answers with their comments, oldest first (keyset paging by survey id)."""
    stmt = (
        select(Survey, Customer.external_id)
        .join(Customer, Customer.id == Survey.customer_id)
        .where(Survey.score.is_not(None), Survey.id > after_id)
        .order_by(Survey.id)
        .limit(limit + 1)
    )
    if since is not None:
        stmt = stmt.where(Survey.answered_at >= since)
    if until is not None:
        stmt = stmt.where(Survey.answered_at < until)
    if category is not None:
        stmt = stmt.where(Survey.category == category)
    rows = (await session.execute(stmt)).all()
    page = [
        ResponseView(
            s.id,
            s.customer_id,
            ext,
            int(s.score or 0),
            str(s.category),
            s.comment,
            s.tier,
            s.trigger,
            s.answered_at or s.created_at,
        )
        for s, ext in rows[:limit]
    ]
    return page, (page[-1].survey_id if len(rows) > limit else None)
