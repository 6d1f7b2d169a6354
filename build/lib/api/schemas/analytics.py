"""Response bodies of /v1/analytics: every report echoes its period, zone and definitions."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PeriodOut(_Out):
    label: str = Field(examples=["2025-06"], description="2025-06, 2025-Q2 or 2025-W23.")
    start: date = Field(description="First local day (inclusive).")
    end: date = Field(description="Local day after the last one (exclusive).")
    start_at: datetime = Field(description="Start as a UTC instant.")
    end_at: datetime = Field(description="End as a UTC instant; now for the current period.")
    complete: bool = Field(description="False for the period still running (figures so far).")


class ReportMeta(_Out):
    granularity: str
    timezone: str = Field(description="Zone of the period boundaries.")
    as_of: datetime
    start: date = Field(description="First day of the first period.")
    end: date = Field(description="Day after the last period (exclusive).")
    currency: str = Field(description="Money is in minor units of this currency (LOYALTY_CURRENCY).")
    active_days: int = Field(description="Activity window: active = a counted order in this many days.")
    definitions: dict[str, str] = Field(description="The definition of every figure in this report.")


# ------------------------------------------------------------------ retention


class RetentionRowOut(_Out):
    period: PeriodOut
    customers_start: int = Field(description="S: active at the period start.")
    customers_end: int = Field(description="E: active at the period end.")
    new_customers: int
    reactivated_customers: int
    acquired_customers: int = Field(description="N = new + reactivated.")
    retained_customers: int
    lost_customers: int
    crr_percent: float | None = Field(description="(E - N) / S x 100%; null: no customers at start.")
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
    no_data: bool = Field(description="Nobody active and no orders: every rate is null.")


class RetentionReportOut(ReportMeta):
    ltv_formula: str
    periods: list[RetentionRowOut]


class RevenueChurnRowOut(_Out):
    period: PeriodOut
    window_start: datetime
    customers_start: int
    lost_customers: int
    base_revenue_minor: int
    lost_revenue_minor: int
    revenue_churn_percent: float | None


class RevenueChurnReportOut(ReportMeta):
    periods: list[RevenueChurnRowOut]


class CohortRowOut(_Out):
    period: PeriodOut = Field(description="The cohort: first purchase ever in this period.")
    customers: int
    active: list[int] = Field(description="active[i]: bought in the i-th period after (0 = cohort's own).")
    retention_percent: list[float | None]


class CohortReportOut(ReportMeta):
    cohorts: list[CohortRowOut]


# ------------------------------------------------------------------ NPS, support, exits, campaigns


class NpsPointOut(_Out):
    period: PeriodOut
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


class NpsSegmentOut(_Out):
    key: str
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


class NpsOverallOut(_Out):
    surveys_sent: int
    responses: int
    response_rate_percent: float
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    by_tier: list[NpsSegmentOut]
    by_trigger: list[NpsSegmentOut]


class NpsReportOut(ReportMeta):
    trend: list[NpsPointOut]
    overall: NpsOverallOut


class SupportRowOut(_Out):
    period: PeriodOut
    csat_responses: int
    csat_average: float | None
    csat_satisfied_percent: float | None
    cases_opened: int
    cases_answered: int
    first_response_median_seconds: float | None
    first_response_p90_seconds: float | None
    faq_questions: int
    faq_deflected: int
    faq_escalated: int
    faq_deflection_percent: float | None


class SupportReportOut(ReportMeta):
    periods: list[SupportRowOut]


class ExitReasonOut(_Out):
    reason: str
    count: int
    share_percent: float
    saved: int


class ExitFeatureOut(_Out):
    feature: str
    feature_key: str
    count: int
    shipped: bool


class ExitReportOut(ReportMeta):
    interviews: int
    answered: int
    response_rate_percent: float
    reasons: list[ExitReasonOut]
    top_features: list[ExitFeatureOut]
    save_window_days: int
    customers: int
    saved: int
    save_rate_percent: float


class CampaignResultOut(_Out):
    campaign_id: int
    name: str
    playbook: str | None
    status: str
    start_at: datetime
    goal: str
    goal_days: int
    targeted: int
    treated: int
    reached: int
    held_out: int
    converted: int
    holdout_converted: int
    win_back_rate_percent: float | None
    holdout_rate_percent: float | None
    uplift_points: float | None
    uplift_ci_low: float | None
    uplift_ci_high: float | None
    significant: bool | None


class CampaignReportOut(ReportMeta):
    campaigns: list[CampaignResultOut]


class SummaryOut(ReportMeta):
    ltv_formula: str
    period: PeriodOut
    retention: RetentionRowOut
    revenue_churn: RevenueChurnRowOut
    support: SupportRowOut
    nps: NpsOverallOut
    exit_reasons: list[ExitReasonOut]
    campaigns: list[CampaignResultOut]
