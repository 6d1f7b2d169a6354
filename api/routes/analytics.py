"""/v1/analytics: retention figures for any period and granularity, as JSON or CSV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ClockDep, RulesDep, SessionDep, SettingsDep, require_scope
from api.errors import error_responses
from api.schemas.analytics import (
    CampaignReportOut,
    CohortReportOut,
    ExitReportOut,
    NpsReportOut,
    PeriodOut,
    RetentionReportOut,
    RevenueChurnReportOut,
    SummaryOut,
    SupportReportOut,
)
from api.schemas.common import IsoDate, Timezone
from core.analytics import definitions as defs
from core.analytics import engagement, retention, summary, tables
from core.analytics import periods as pr
from core.analytics.periods import PeriodRange
from core.apikeys import ApiKeyView
from core.settings import Settings

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

CanRead = Annotated[ApiKeyView, Depends(require_scope("analytics:read"))]
Granularity = Annotated[
    Literal["week", "month", "quarter"], Query(description="Period length: ISO weeks, months or quarters.")
]
Start = Annotated[
    IsoDate | None,
    Query(
        description="First day to cover (YYYY-MM-DD); snapped to the "
        "start of its period. Omitted: the last `periods` periods."
    ),
]
End = Annotated[
    IsoDate | None,
    Query(
        description="Day after the last one to cover (exclusive). "
        "Omitted: up to now (the current period so far)."
    ),
]
Periods = Annotated[
    int | None,
    Query(ge=1, le=260, description="How many periods up to `end` when `start` is omitted (default 12)."),
]
Tz = Annotated[
    Timezone | None,
    Query(
        description="IANA zone of the period boundaries (default ANALYTICS_TIMEZONE, else BUSINESS_TIMEZONE)."
    ),
]
Format = Annotated[
    Literal["json", "csv"], Query(description="`csv` for spreadsheets (money in major units).")
]

LTV_FORMULA = (
    "LTV = average order value x purchase frequency (orders per buyer per period) x "
    "expected lifetime (1 / churn rate, in periods)"
)
REQUIRES = "Requires scope `analytics:read`. "
COMMON = (
    "Periods: `granularity` week|month|quarter; `start`/`end` dates, or the last `periods` "
    "ones; boundaries are local midnights in `tz`. `format=csv` returns text/csv. 422 "
    "`invalid_range`, `too_many_periods`, `period_in_future`."
)


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What every report is asked: the periods it covers, and JSON or CSV."""

    rng: PeriodRange
    csv: bool


def _zone(settings: Settings, tz: str | None) -> str:
    return tz or settings.analytics_timezone or settings.business_timezone


def _report_query(default_periods: int) -> Any:
    """The period and format parameters of a report (`periods` defaults to `default_periods`)."""

    def report_query(
        settings: SettingsDep,
        clock: ClockDep,
        granularity: Granularity = "month",
        start: Start = None,
        end: End = None,
        periods: Periods = None,
        tz: Tz = None,
        format: Format = "json",
    ) -> ReportQuery:
        rng = pr.build(
            granularity=granularity,
            timezone=_zone(settings, tz),
            now=clock.now(),
            start=start,
            end=end,
            periods=periods or default_periods,
        )
        return ReportQuery(rng, format == "csv")

    return Depends(report_query)


def _summary_query(
    settings: SettingsDep,
    clock: ClockDep,
    granularity: Granularity = "month",
    start: Annotated[
        IsoDate | None, Query(description="A day of the period to show (default: today).")
    ] = None,
    tz: Tz = None,
    format: Format = "json",
) -> ReportQuery:
    zone, now = _zone(settings, tz), clock.now()
    if start is None:
        rng = pr.build(granularity=granularity, timezone=zone, now=now, periods=1)
    else:
        rng = pr.single(day=start, granularity=granularity, timezone=zone, now=now)
    return ReportQuery(rng, format == "csv")


async def _read_session(_key: CanRead, session: SessionDep, request: Request) -> AsyncSession:
    """The request's session once the key is checked, for reads only."""
    await session.commit()  # end the auth transaction: on SQLite it holds the write lock
    # A read-only transaction (storage.db.Database.read_options): on SQLite a deferred one, so
    # the report's reads do not make writers (the bot's updates) queue behind them; on
    # PostgreSQL READ ONLY. The session closes before the response.
    await session.connection(execution_options=request.app.state.sessionmaker.read_options)
    return session


ReadSession = Annotated[AsyncSession, Depends(_read_session)]
Report = Annotated[ReportQuery, _report_query(12)]
WholeRange = Annotated[ReportQuery, _report_query(1)]  # reports over the whole range: one period
OnePeriod = Annotated[ReportQuery, Depends(_summary_query)]


def _responses() -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The report (JSON, or CSV with `format=csv`).",
        },
        **error_responses(401, 403, 422),
    }


def _csv(q: ReportQuery, name: str, table: tables.Table) -> Response:
    filename = f"{name}_{q.rng.periods[0].label}_{q.rng.periods[-1].label}.csv"
    return Response(
        tables.to_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _meta(rng: PeriodRange, settings: Settings, *parts: dict[str, str]) -> dict[str, Any]:
    return {
        "granularity": rng.granularity,
        "timezone": rng.timezone,
        "as_of": rng.as_of,
        "start": rng.periods[0].start,
        "end": rng.periods[-1].end,
        "currency": settings.loyalty_currency,
        "active_days": settings.analytics_active_days,
        "definitions": defs.render(*parts, active_days=settings.analytics_active_days),
    }


@router.get(
    "/retention",
    summary="Customers, CRR, churn, growth, purchases and LTV per period",
    description=REQUIRES + "Per period: customers active at the start (S) and end (E), new, "
    "reactivated, retained and lost customers, CRR = (E - N) / S, churn = lost / S, customer "
    "growth, orders, buyers, repeat purchase rate, purchase frequency, revenue, average order "
    "value, realised revenue per buyer and LTV (formula in `ltv_formula`). `definitions` states "
    "each one exactly. " + COMMON,
    response_model=RetentionReportOut,
    responses=_responses(),
)
async def analytics_retention(_key: CanRead, session: ReadSession, settings: SettingsDep, q: Report) -> Any:
    report = await retention.retention_report(session, rng=q.rng, active_days=settings.analytics_active_days)
    if q.csv:
        return _csv(q, "retention", tables.retention_table(report, settings.loyalty_currency))
    return RetentionReportOut(
        **_meta(q.rng, settings, defs.RETENTION),
        ltv_formula=LTV_FORMULA,
        periods=report.rows,  # type: ignore[arg-type]
    )


@router.get(
    "/revenue-churn",
    summary="Revenue churn per period",
    description=REQUIRES + "Per period: the revenue of the activity window before the period "
    "start, the part of it that came from customers lost during the period, and their ratio. "
    "Heavier than /retention (one more sum per period per customer). " + COMMON,
    response_model=RevenueChurnReportOut,
    responses=_responses(),
)
async def analytics_revenue_churn(
    _key: CanRead, session: ReadSession, settings: SettingsDep, q: Report
) -> Any:
    report = await retention.revenue_churn_report(
        session, rng=q.rng, active_days=settings.analytics_active_days
    )
    if q.csv:
        return _csv(q, "revenue_churn", tables.revenue_churn_table(report, settings.loyalty_currency))
    return RevenueChurnReportOut(**_meta(q.rng, settings, defs.REVENUE_CHURN), periods=report.rows)  # type: ignore[arg-type]


@router.get(
    "/cohorts",
    summary="Cohort retention by first-purchase period (a triangle)",
    description=REQUIRES + "Customers grouped by the period of their first counted order ever; "
    "for each later period, how many of them bought and what share that is. Monthly by default. " + COMMON,
    response_model=CohortReportOut,
    responses=_responses(),
)
async def analytics_cohorts(_key: CanRead, session: ReadSession, settings: SettingsDep, q: Report) -> Any:
    report = await retention.cohort_report(session, rng=q.rng)
    if q.csv:
        return _csv(q, "cohorts", tables.cohort_table(report))
    return CohortReportOut(**_meta(q.rng, settings, defs.COHORTS), cohorts=report.rows)  # type: ignore[arg-type]


@router.get(
    "/nps",
    summary="NPS trend per period and by segment",
    description=REQUIRES + "NPS of the answers given in each period, and over the whole range by "
    "the customer's tier and by what triggered the survey. " + COMMON,
    response_model=NpsReportOut,
    responses=_responses(),
)
async def analytics_nps(_key: CanRead, session: ReadSession, settings: SettingsDep, q: Report) -> Any:
    trend = await engagement.nps_trend(session, rng=q.rng)
    if q.csv:
        return _csv(q, "nps", tables.nps_table(trend))
    return NpsReportOut(
        **_meta(q.rng, settings, defs.NPS),
        trend=trend.points,  # type: ignore[arg-type]
        overall=trend.overall,  # type: ignore[arg-type]
    )


@router.get(
    "/support",
    summary="CSAT, first-response time and FAQ deflection per period",
    description=REQUIRES + "CSAT (1-5 after a closed case: average and share of 4-5), time to the "
    "first staff reply (median and p90) and the share of FAQ questions answered without a human. " + COMMON,
    response_model=SupportReportOut,
    responses=_responses(),
)
async def analytics_support(_key: CanRead, session: ReadSession, settings: SettingsDep, q: Report) -> Any:
    report = await engagement.support_report(session, rng=q.rng)
    if q.csv:
        return _csv(q, "support", tables.support_table(report))
    return SupportReportOut(**_meta(q.rng, settings, defs.SUPPORT), periods=report.rows)  # type: ignore[arg-type]


@router.get(
    "/exit-reasons",
    summary="Why customers leave",
    description=REQUIRES + "Exit interviews sent in the range: reasons by count and share, the "
    "most missed features, how many were saved. Covers the whole range (one period by "
    "default). " + COMMON,
    response_model=ExitReportOut,
    responses=_responses(),
)
async def analytics_exit_reasons(
    _key: CanRead,
    session: ReadSession,
    clock: ClockDep,
    settings: SettingsDep,
    rules: RulesDep,
    q: WholeRange,
) -> Any:
    report = await engagement.exit_reasons(session, rng=q.rng, clock=clock, rules=rules.exit)
    if q.csv:
        return _csv(q, "exit_reasons", tables.exit_table(report))
    return ExitReportOut(
        **_meta(q.rng, settings, defs.EXIT),
        interviews=report.interviews,
        answered=report.answered,
        response_rate_percent=report.response_rate_percent,
        reasons=report.reasons,  # type: ignore[arg-type]
        top_features=report.top_features,  # type: ignore[arg-type]
        save_window_days=report.save_window_days,
        customers=report.customers,
        saved=report.saved,
        save_rate_percent=report.save_rate_percent,
    )


@router.get(
    "/campaigns",
    summary="Win-back rate and uplift over the holdout per campaign",
    description=REQUIRES + "Campaigns running at some point of the range: conversion of the "
    "treated group within the goal window (win-back rate), of the holdout, and the uplift in "
    "percentage points with a 95% confidence interval. Filter by `playbook`. " + COMMON,
    response_model=CampaignReportOut,
    responses=_responses(),
)
async def analytics_campaigns(
    _key: CanRead,
    session: ReadSession,
    clock: ClockDep,
    settings: SettingsDep,
    q: WholeRange,
    playbook: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z0-9_-]+$")] = None,
) -> Any:
    report = await engagement.campaign_results(session, rng=q.rng, clock=clock, playbook=playbook)
    if q.csv:
        return _csv(q, "campaigns", tables.campaign_table(report))
    return CampaignReportOut(**_meta(q.rng, settings, defs.CAMPAIGNS), campaigns=report.campaigns)  # type: ignore[arg-type]


@router.get(
    "/summary",
    summary="One period at a glance",
    description=REQUIRES + "The headline figures of one period (the current week, month or "
    "quarter by default, or the one containing `start`): retention, revenue churn, purchases, "
    "LTV, NPS, CSAT, first response, FAQ deflection, exit reasons, campaigns. " + COMMON,
    response_model=SummaryOut,
    responses=_responses(),
)
async def analytics_summary(
    _key: CanRead,
    session: ReadSession,
    clock: ClockDep,
    settings: SettingsDep,
    rules: RulesDep,
    q: OnePeriod,
) -> Any:
    s = await summary.summary(
        session, rng=q.rng, active_days=settings.analytics_active_days, clock=clock, exit_rules=rules.exit
    )
    if q.csv:
        return _csv(q, "summary", tables.summary_table(s, settings.loyalty_currency))
    return SummaryOut(
        **_meta(
            s.range,
            settings,
            defs.RETENTION,
            defs.REVENUE_CHURN,
            defs.NPS,
            defs.SUPPORT,
            defs.EXIT,
            defs.CAMPAIGNS,
        ),
        ltv_formula=LTV_FORMULA,
        period=PeriodOut.model_validate(s.range.periods[0]),
        retention=s.retention,  # type: ignore[arg-type]
        revenue_churn=s.revenue_churn,  # type: ignore[arg-type]
        support=s.support,  # type: ignore[arg-type]
        nps=s.nps.overall,  # type: ignore[arg-type]
        exit_reasons=s.exits.reasons,  # type: ignore[arg-type]
        campaigns=s.campaigns.campaigns,  # type: ignore[arg-type]
    )
