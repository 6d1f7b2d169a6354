"""Campaign and single-message requests: strict inputs turned into core's CampaignInput."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictInt, StringConstraints

from api.schemas.common import Input, IsoDateTime, Language
from api.schemas.loyalty import ExternalIdField, IdempotencyKey
from api.schemas.outreach.fields import (
    WEBHOOK_EVENTS,
    CampaignName,
    ExitCondition,
    Label,
    PlaybookName,
    TemplateText,
    WebhookEvent,
    WindowText,
)
from api.schemas.outreach.segments import SegmentIn
from core.outreach import campaigns as svc
from core.outreach.playbooks import PlaybookOptions


class ExitInterviewButton(Input):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["exit_interview"] = Field(
        description="One button per leaving reason; a tap opens the exit interview with that reason."
    )


class ReplyButton(Input):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["reply"]
    text: dict[Language, Label]
    value: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,20}$")] = Field(
        description="Recorded as the reply's choice."
    )


class UrlButton(Input):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["url"]
    text: dict[Language, Label]
    url: Annotated[str, StringConstraints(pattern=r"^(https?|tg)://\S{1,2000}$")]


Button = Annotated[ExitInterviewButton | ReplyButton | UrlButton, Field(discriminator="kind")]


class OfferIn(Input):
    model_config = ConfigDict(extra="forbid")
    promo_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    discount_percent: Annotated[StrictInt, Field(ge=1, le=90)] | None = None


class StepIn(Input):
    model_config = ConfigDict(extra="forbid")

    delay_days: Annotated[float, Field(ge=0, le=365)] = Field(
        default=0, description="After the previous step (the first: after the start)."
    )
    delay_hours: Annotated[float, Field(ge=0, le=8760)] = 0
    templates: dict[Language, TemplateText] = Field(
        min_length=1, description="Per language; `{name}`, `{name|fallback}`, see the description."
    )
    buttons: list[Button] = Field(default_factory=list, max_length=8)
    offer: OfferIn | None = None

    def to_core(self) -> dict[str, Any]:
        return {
            "delay_seconds": int(round(self.delay_days * 86400 + self.delay_hours * 3600)),
            "templates": dict(self.templates),
            "buttons": [b.model_dump() for b in self.buttons],
            "offer": self.offer.model_dump() if self.offer else None,
        }


class PlaybookOptionsIn(Input):
    model_config = ConfigDict(extra="forbid")
    promo_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    discount_percent: Annotated[StrictInt, Field(ge=1, le=90)] | None = Field(
        default=None, description="Default 10: a modest gift; deep discounts cheapen the product."
    )
    gap_days: Annotated[float, Field(ge=1, le=90)] = Field(
        default=14, description="Win-back: days between the question and the follow-up."
    )
    url: Annotated[str, StringConstraints(pattern=r"^(https?|tg)://\S{1,2000}$")] | None = Field(
        default=None, description="Shop / renewal / cart link for a button."
    )


class GoalIn(Input):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["purchase", "renewal"] = "purchase"
    days: Annotated[StrictInt, Field(ge=1, le=365)] = 30


class PaidIn(Input):
    model_config = ConfigDict(extra="forbid")
    max_stars: Annotated[float, Field(gt=0, le=1_000_000)] = Field(
        description="Budget: 0.1 Star per message; when spent, the rest goes at the free rate."
    )


class WebhookIn(Input):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S{1,2000}$")]
    secret: Annotated[str, StringConstraints(min_length=16, max_length=256)] = Field(
        description="Signs every call (X-Outreach-Signature); never shown again."
    )
    events: list[WebhookEvent] = Field(default_factory=lambda: list(WEBHOOK_EVENTS))


class CampaignIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Win-back January",
                    "idempotency_key": "winback-2026-01",
                    "playbook": "winback",
                    "playbook_options": {"promo_code": "COMEBACK10", "discount_percent": 10},
                    "segment": {"kind": "dormant", "days": 45},
                    "holdout": 0.1,
                },
                {
                    "name": "Spring news",
                    "segment": {"kind": "churned", "languages": ["en"]},
                    "steps": [{"templates": {"en": "{name|Hi}, we've opened a new store!"}}],
                    "send_window": "10:00-19:00",
                },
            ]
        },
    )

    name: CampaignName
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="The same key and body return the first campaign (200); another body: 409."
    )
    playbook: PlaybookName | None = Field(
        default=None,
        description="Take steps, audience, goal and window from a ready playbook (see GET /v1/playbooks).",
    )
    playbook_options: PlaybookOptionsIn | None = None
    segment: SegmentIn | None = None
    customer_external_ids: list[ExternalIdField] | None = Field(
        default=None, min_length=1, max_length=1000, description="An explicit audience instead of a segment."
    )
    steps: list[StepIn] | None = Field(default=None, min_length=1, max_length=10)
    exit_on: list[ExitCondition] | None = Field(
        default=None, description="What ends a customer's sequence; default all three."
    )
    goal: GoalIn | None = None
    holdout: Annotated[float, Field(ge=0, le=0.5)] | None = Field(
        default=None, description="Control group share (default OUTREACH_DEFAULT_HOLDOUT)."
    )
    send_window: WindowText | None = None
    quiet_hours: WindowText | None = Field(default=None, description="Default OUTREACH_QUIET_HOURS.")
    start_at: IsoDateTime | None = None
    default_language: Language | None = None
    paid_broadcast: PaidIn | None = None
    webhook: WebhookIn | None = None

    def to_input(self, *, customer_ids: list[int] | None, kind: str = "campaign") -> svc.CampaignInput:
        o = self.playbook_options
        return svc.CampaignInput(
            name=self.name,
            kind=kind,
            playbook=self.playbook,
            options=PlaybookOptions(o.promo_code, o.discount_percent, o.gap_days, o.url)
            if o
            else PlaybookOptions(),
            segment=self.segment.to_spec() if self.segment else None,
            customer_ids=tuple(customer_ids) if customer_ids is not None else None,
            steps=tuple(s.to_core() for s in self.steps) if self.steps else None,
            exit_on=tuple(self.exit_on) if self.exit_on is not None else None,
            goal_kind=self.goal.kind if self.goal else None,
            goal_days=self.goal.days if self.goal else None,
            holdout=self.holdout,
            send_window=self.send_window,
            quiet_hours=self.quiet_hours,
            start_at=self.start_at,
            paid_max_stars=self.paid_broadcast.max_stars if self.paid_broadcast else 0.0,
            webhook_url=self.webhook.url if self.webhook else None,
            webhook_secret=self.webhook.secret if self.webhook else None,
            webhook_events=tuple(self.webhook.events) if self.webhook else (),
            default_language=self.default_language,
        )


class DryRunIn(CampaignIn):
    sample_size: Annotated[StrictInt, Field(ge=0, le=20)] = 5


class MessageIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_external_id": "crm-42",
                    "idempotency_key": "order-A-1001-delay",
                    "templates": {
                        "en": "{name|Hi}, your order is delayed by a day. Sorry!",
                        "ru": "{name|Здравствуйте}, ваш заказ задерживается на день. Простите!",
                    },
                }
            ]
        },
    )

    customer_external_id: ExternalIdField
    idempotency_key: IdempotencyKey | None = None
    templates: dict[Language, TemplateText] = Field(min_length=1)
    buttons: list[Button] = Field(default_factory=list, max_length=8)
    offer: OfferIn | None = None
    quiet_hours: WindowText | None = None
    webhook: WebhookIn | None = None

    def to_input(self, customer_id: int) -> svc.CampaignInput:
        step = StepIn(templates=self.templates, buttons=self.buttons, offer=self.offer).to_core()
        return svc.CampaignInput(
            name=f"Message to {self.customer_external_id}",
            kind="message",
            customer_ids=(customer_id,),
            steps=(step,),
            holdout=0.0,
            send_window="any",
            quiet_hours=self.quiet_hours,
            webhook_url=self.webhook.url if self.webhook else None,
            webhook_secret=self.webhook.secret if self.webhook else None,
            webhook_events=tuple(self.webhook.events) if self.webhook else (),
        )
