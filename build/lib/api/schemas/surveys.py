"""NPS surveys, exit interviews and 'feature shipped' notices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from api.schemas.common import Input
from api.schemas.loyalty import ExternalIdField, IdempotencyKey
from core import exit_interview, nps
from core.nps.report import NpsBreakdown, NpsReport

Segment = Literal["all", "buyers", "vip", "pre_vip", "regular", "one_time", "never_bought"]
assert set(Segment.__args__) == set(nps.SEGMENTS)  # type: ignore[attr-defined]
Category = Literal["promoter", "passive", "detractor"]
Reason = Literal["price", "feature", "competitor", "not_needed", "technical", "support", "break", "other"]
assert set(Reason.__args__) == set(exit_interview.REASONS)  # type: ignore[attr-defined]

SKIP_REASONS = (
    "`not_found` (unknown external id), `erased`, `no_telegram` (never used the bot), `opted_out`, "
    "`unreachable` (blocked the bot), `already_scheduled`, `survey_open` (one is waiting for an "
    "answer), `answered_recently` (within NPS_ANSWERED_COOLDOWN_DAYS), `ignored_recently` "
    "(within NPS_IGNORED_COOLDOWN_DAYS), `contact_budget` (the weekly proactive budget would not "
    "free up within NPS_SEND_WINDOW_DAYS)"
)


class NpsTriggerIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"idempotency_key": "nps-2026-q1-vip", "segment": "vip"},
                {"idempotency_key": "nps-order-A-1001", "external_ids": ["crm-42"]},
            ]
        },
    )

    idempotency_key: IdempotencyKey
    external_ids: Annotated[list[ExternalIdField], Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="One customer or a list (up to 1000). Give this or `segment`."
    )
    segment: Segment | None = Field(default=None, description="A tier, `buyers` or `all`.")
    delay_minutes: Annotated[StrictInt, Field(ge=0, le=60 * 24 * 30)] = Field(
        default=0, description="Send no earlier than this many minutes from now."
    )

    @model_validator(mode="after")
    def _one_audience(self) -> NpsTriggerIn:
        if (self.external_ids is None) == (self.segment is None):
            raise ValueError("give either external_ids or segment")
        return self


class SkippedCustomer(BaseModel):
    external_id: str | None
    customer_id: int | None
    reason: str


class NpsTriggerOut(BaseModel):
    request_id: int
    requested: int
    scheduled: int = Field(description="Surveys that will be sent (when the customer may be contacted).")
    deferred: int = Field(description="Of the scheduled, those waiting for the weekly contact budget.")
    skipped: int
    skipped_by_reason: dict[str, int] = Field(description=f"Why: {SKIP_REASONS}.")
    skipped_customers: list[SkippedCustomer] = Field(description="The first 100 skipped, with the reason.")
    replayed: bool = Field(description="True: this idempotency key was used before; this is that answer.")


class NpsBreakdownOut(BaseModel):
    key: str
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


class NpsReportOut(BaseModel):
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
    nps: float | None = Field(description="%promoters - %detractors (-100..100); null without answers.")
    comments: int
    by_tier: list[NpsBreakdownOut] = Field(description="By the customer's tier when they answered.")
    by_trigger: list[NpsBreakdownOut]

    @classmethod
    def from_report(cls, r: NpsReport) -> NpsReportOut:
        def b(x: NpsBreakdown) -> NpsBreakdownOut:
            return NpsBreakdownOut(
                key=x.key,
                responses=x.responses,
                promoters=x.promoters,
                passives=x.passives,
                detractors=x.detractors,
                nps=x.nps,
            )

        return cls(
            since=r.since,
            until=r.until,
            surveys_sent=r.surveys_sent,
            responses=r.responses,
            response_rate_percent=r.response_rate_percent,
            promoters=r.promoters,
            passives=r.passives,
            detractors=r.detractors,
            promoters_percent=r.promoters_percent,
            passives_percent=r.passives_percent,
            detractors_percent=r.detractors_percent,
            nps=r.nps,
            comments=r.comments,
            by_tier=[b(x) for x in r.by_tier],
            by_trigger=[b(x) for x in r.by_trigger],
        )


class NpsResponseOut(BaseModel):
    survey_id: int
    customer_id: int
    external_id: str | None
    score: int
    category: Category
    comment: str | None
    tier: str | None
    trigger: str
    answered_at: datetime


class NpsResponsePage(BaseModel):
    items: list[NpsResponseOut]
    next_after: int | None


# ------------------------------------------------------------------ exit interviews


class ExitInterviewIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "idempotency_key": "sub-9912-cancelled",
                    "external_id": "crm-42",
                    "event": "subscription_cancelled",
                }
            ]
        },
    )

    idempotency_key: IdempotencyKey
    external_id: ExternalIdField
    event: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")] = Field(
        description="What happened, e.g. `subscription_cancelled`, `account_closed` (those two get "
        "their own wording) or any other lower_snake_case event.",
        examples=["subscription_cancelled"],
    )


class ExitInterviewOut(BaseModel):
    request_id: int
    interview_id: int
    status: Literal["scheduled", "skipped"]
    skip_reason: str | None = Field(
        description="`erased`, `no_telegram`, `opted_out`, `unreachable`, `already_scheduled`, "
        "`recently_interviewed` (one in the last 30 days)."
    )
    event: str
    replayed: bool


class ReasonOut(BaseModel):
    reason: Reason
    count: int
    share_percent: float
    saved: int = Field(description="Of them, customers who ordered again within the save window.")


class FeatureOut(BaseModel):
    feature: str
    feature_key: str
    count: int
    shipped: bool


class ExitReportOut(BaseModel):
    since: datetime | None
    until: datetime | None
    interviews: int = Field(description="Interviews that reached the customer in the period.")
    answered: int
    response_rate_percent: float
    reasons: list[ReasonOut] = Field(description="Most frequent first; shares of answered interviews.")
    top_features: list[FeatureOut] = Field(description="The most requested missing features.")
    save_window_days: int
    customers: int = Field(description="Distinct customers interviewed.")
    saved: int = Field(description="Of them, who ordered again within the save window.")
    save_rate_percent: float
    still_in_window: int = Field(description="Not saved yet, but their save window is still open.")
    offers_given: int
    offers_redeemed: int

    @classmethod
    def from_report(cls, r: exit_interview.ExitReport) -> ExitReportOut:
        return cls(
            since=r.since,
            until=r.until,
            interviews=r.interviews,
            answered=r.answered,
            response_rate_percent=r.response_rate_percent,
            reasons=[
                ReasonOut(
                    reason=x.reason,  # type: ignore[arg-type]
                    count=x.count,
                    share_percent=x.share_percent,
                    saved=x.saved,
                )
                for x in r.reasons
            ],
            top_features=[
                FeatureOut(feature=f.feature, feature_key=f.feature_key, count=f.count, shipped=f.shipped)
                for f in r.top_features
            ],
            save_window_days=r.save_window_days,
            customers=r.customers,
            saved=r.saved,
            save_rate_percent=r.save_rate_percent,
            still_in_window=r.still_in_window,
            offers_given=r.offers_given,
            offers_redeemed=r.offers_redeemed,
        )


class FeatureShippedIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"feature": "Dark mode", "aliases": ["night mode", "тёмная тема"]}]},
    )

    feature: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
    aliases: Annotated[
        list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]],
        Field(max_length=50),
    ] = Field(default_factory=list, description="Other names customers used for it.")


class FeatureShippedOut(BaseModel):
    feature_key: str
    matched_keys: list[str]
    requests: int = Field(description="Customers who had asked for it and had not been told yet.")
    notified: int = Field(description="Messages queued now (each customer is told once).")
