"""What a campaign looks like to its callers: the campaign, its figures per step and in total."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.models_outreach import Campaign


@dataclass(frozen=True, slots=True)
class StepStats:
    step: int
    queued: int
    sent: int
    failed: int
    skipped: int


@dataclass(frozen=True, slots=True)
class CampaignStats:
    targeted: int
    held_out: int
    treated: int
    in_progress: int
    queued: int
    deferred: int
    inflight: int
    sent: int
    reached: int
    failed: dict[str, int]
    skipped: dict[str, int]
    stopped: dict[str, int]
    uncertain: int
    cancelled: int
    replied: int
    reply_choices: dict[str, int]
    converted: int
    holdout_converted: int
    conversion_rate: float | None
    holdout_conversion_rate: float | None
    uplift_pp: float | None
    uplift_ci: tuple[float, float] | None
    steps: list[StepStats]
    rate_per_second: float | None
    eta_seconds: float | None
    paid_sent: int


@dataclass(frozen=True, slots=True)
class CampaignView:
    id: int
    name: str
    kind: str
    playbook: str | None
    status: str
    segment: dict[str, Any] | None
    steps: list[dict[str, Any]]
    rules: dict[str, Any]
    holdout_share: float
    default_language: str
    targeted: int
    start_at: datetime
    created_at: datetime
    paused_at: datetime | None
    cancelled_at: datetime | None
    completed_at: datetime | None
    paid_max_messages: int
    webhook_url: str | None
    webhook_events: list[str]
    stats: CampaignStats | None = None


def _view(row: Campaign, stats: CampaignStats | None = None) -> CampaignView:
    return CampaignView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        playbook=row.playbook,
        status=row.status,
        segment=row.segment,
        steps=list(row.steps),
        rules=dict(row.rules),
        holdout_share=row.holdout_share,
        default_language=row.default_language,
        targeted=row.targeted,
        start_at=row.start_at,
        created_at=row.created_at,
        paused_at=row.paused_at,
        cancelled_at=row.cancelled_at,
        completed_at=row.completed_at,
        paid_max_messages=row.paid_max_messages,
        webhook_url=row.webhook_url,
        webhook_events=list(row.webhook_events or []),
        stats=stats,
    )


# ------------------------------------------------------------------ creating
