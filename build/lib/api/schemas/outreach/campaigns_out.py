"""Campaign responses: the campaign, its figures, warnings, dry runs, recipients, playbooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.outreach import campaigns as svc


class ProgressOut(BaseModel):
    sent: int
    total: int = Field(description="Messages due so far (every queued, sent, failed, skipped one).")
    percent: float
    rate_per_second: float | None = Field(description="Over the last minute.")
    eta_seconds: float | None


class StepStatsOut(BaseModel):
    step: int
    queued: int
    sent: int
    failed: int
    skipped: int


class StatsOut(BaseModel):
    targeted: int
    held_out: int
    treated: int
    in_progress: int = Field(description="Sequences still running (waiting for a step or queued).")
    queued: int
    deferred: int = Field(description="Of `queued`: waiting for quiet hours / the send window to end.")
    inflight: int
    sent: int = Field(description="Messages delivered.")
    reached: int = Field(description="Customers who got at least one message.")
    failed: dict[str, int] = Field(description="By reason: blocked, deactivated, chat_not_found, ...")
    skipped: dict[str, int] = Field(description="By reason: opted_out, unreachable, frequency_cap, ...")
    stopped: dict[str, int] = Field(description="Sequences ended early, by reason.")
    uncertain: int = Field(description="On the wire at a crash: maybe delivered, never repeated.")
    cancelled: int
    replied: int
    reply_choices: dict[str, int]
    converted: int
    holdout_converted: int
    conversion_rate: float | None = Field(description="Percent of the treated group.")
    holdout_conversion_rate: float | None = Field(description="Percent of the holdout group.")
    uplift_pp: float | None = Field(description="Conversion uplift over the holdout, percentage points.")
    uplift_ci95: tuple[float, float] | None
    steps: list[StepStatsOut]
    progress: ProgressOut
    paid_sent: int


class WebhookOut(BaseModel):
    url: str
    events: list[str]


class CampaignOut(BaseModel):
    id: int
    name: str
    kind: Literal["campaign", "message"]
    playbook: str | None
    status: Literal["scheduled", "running", "paused", "cancelled", "completed"]
    segment: dict[str, Any] | None
    steps: list[dict[str, Any]]
    exit_on: list[str]
    goal: dict[str, Any]
    send_window: str | None
    quiet_hours: str | None
    holdout: float
    default_language: str
    targeted: int
    start_at: datetime
    created_at: datetime
    paused_at: datetime | None
    cancelled_at: datetime | None
    completed_at: datetime | None
    paid_max_messages: int
    webhook: WebhookOut | None
    replayed: bool = Field(
        default=False, description="True: the idempotency key was used before; this is that campaign."
    )
    stats: StatsOut | None = None
    warnings: list[WarningOut] = Field(
        default_factory=list,
        description="What the campaign as given cannot do (set when it is created or replayed).",
    )

    @classmethod
    def from_view(
        cls,
        v: svc.CampaignView,
        *,
        now: datetime,
        replayed: bool = False,
        warnings: list[svc.PlanWarning] | None = None,
    ) -> CampaignOut:
        status = "scheduled" if v.status == "running" and v.start_at > now else v.status
        stats = None
        if v.stats is not None:
            s = v.stats
            total = (
                s.sent
                + s.queued
                + s.inflight
                + sum(s.failed.values())
                + sum(s.skipped.values())
                + s.uncertain
            )
            stats = StatsOut(
                targeted=s.targeted,
                held_out=s.held_out,
                treated=s.treated,
                in_progress=s.in_progress,
                queued=s.queued,
                deferred=s.deferred,
                inflight=s.inflight,
                sent=s.sent,
                reached=s.reached,
                failed=s.failed,
                skipped=s.skipped,
                stopped=s.stopped,
                uncertain=s.uncertain,
                cancelled=s.cancelled,
                replied=s.replied,
                reply_choices=s.reply_choices,
                converted=s.converted,
                holdout_converted=s.holdout_converted,
                conversion_rate=s.conversion_rate,
                holdout_conversion_rate=s.holdout_conversion_rate,
                uplift_pp=s.uplift_pp,
                uplift_ci95=s.uplift_ci,
                steps=[
                    StepStatsOut(
                        step=x.step + 1, queued=x.queued, sent=x.sent, failed=x.failed, skipped=x.skipped
                    )
                    for x in s.steps
                ],
                progress=ProgressOut(
                    sent=s.sent,
                    total=total,
                    percent=round(100 * s.sent / total, 1) if total else 0.0,
                    rate_per_second=s.rate_per_second,
                    eta_seconds=s.eta_seconds,
                ),
                paid_sent=s.paid_sent,
            )
        return cls(
            id=v.id,
            name=v.name,
            kind=v.kind,  # type: ignore[arg-type]
            playbook=v.playbook,
            status=status,  # type: ignore[arg-type]
            segment=v.segment,
            steps=v.steps,
            exit_on=v.rules.get("exit_on", []),
            goal=v.rules.get("goal", {}),
            send_window=v.rules.get("window"),
            quiet_hours=v.rules.get("quiet"),
            holdout=v.holdout_share,
            default_language=v.default_language,
            targeted=v.targeted,
            start_at=v.start_at,
            created_at=v.created_at,
            paused_at=v.paused_at,
            cancelled_at=v.cancelled_at,
            completed_at=v.completed_at,
            paid_max_messages=v.paid_max_messages,
            webhook=WebhookOut(url=v.webhook_url, events=v.webhook_events) if v.webhook_url else None,
            replayed=replayed,
            stats=stats,
            warnings=[WarningOut.from_view(w) for w in warnings or []],
        )


class WarningOut(BaseModel):
    code: Literal["step_blocked_by_frequency_cap"] = Field(
        description="`step_blocked_by_frequency_cap`: the step is due within PROACTIVE_CAP_DAYS of the "
        "previous one, so the shared frequency cap will skip it (`frequency_cap`) for everyone who "
        "got the previous step."
    )
    step: int = Field(description="The step concerned (1-based).")
    message: str
    details: dict[str, Any]

    @classmethod
    def from_view(cls, w: svc.PlanWarning) -> WarningOut:
        return cls(code=w.code, step=w.step, message=w.message, details=w.details)  # type: ignore[arg-type]


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    next_after: int | None


class SampleOut(BaseModel):
    customer_id: int
    external_id: str | None
    language: str
    steps: list[str] = Field(description="Each step's text as this customer would get it.")


class DryRunOut(BaseModel):
    audience: int
    contactable: int
    holdout_expected: int
    missing_data: dict[str, int] = Field(
        description="Variables without a fallback that some of the audience lacks (creation would fail)."
    )
    samples: list[SampleOut]
    steps: list[dict[str, Any]]
    rules: dict[str, Any]
    warnings: list[WarningOut] = Field(
        default_factory=list, description="What the campaign as given cannot do (creation says the same)."
    )


class RecipientOut(BaseModel):
    id: int
    customer_id: int
    external_id: str | None
    holdout: bool
    status: str
    step: int = Field(description="The next step (1-based) or the last one sent.")
    sent_steps: int
    next_at: datetime | None
    stop_reason: str | None
    replied_at: datetime | None
    reply_choice: str | None
    converted_at: datetime | None


class RecipientPage(BaseModel):
    items: list[RecipientOut]
    next_after: int | None


class PlaybookOut(BaseModel):
    name: str
    description: str
    segment: dict[str, Any]
    goal: dict[str, Any]
    send_window: str | None
    steps: list[dict[str, Any]]
