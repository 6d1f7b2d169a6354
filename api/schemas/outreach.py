"""Events, segments, campaigns and single messages: strict inputs, outputs mirroring core views."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from api.schemas.common import AmountValue, AttributeKey, Input, IsoDateTime, Language, SafeStr
from api.schemas.loyalty import ExternalIdField, IdempotencyKey, Tier
from core.outreach import campaigns as svc
from core.outreach import segments
from core.outreach.playbooks import PlaybookOptions
from core.outreach.segments import SegmentSpec

SegmentKind = Literal[
    "all",
    "active",
    "dormant",
    "churned",
    "late_churn",
    "quick_churn",
    "vip",
    "pre_vip",
    "subscribed_never_bought",
    "subscription_expiring",
    "abandoned_cart",
]
assert set(SegmentKind.__args__) == set(segments.KINDS)  # type: ignore[attr-defined]
EventKind = Literal[
    "activity",
    "subscription_started",
    "subscription_expiring",
    "subscription_cancelled",
    "cart_abandoned",
]
PlaybookName = Literal["winback", "renewal", "abandoned_cart"]
ExitCondition = Literal["reply", "purchase", "opt_out"]
WebhookEvent = Literal["sent", "failed", "replied", "converted"]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = ("sent", "failed", "replied", "converted")
WindowText = Annotated[
    str,
    StringConstraints(pattern=r"^(\d{1,2}:\d{2}-\d{1,2}:\d{2}|any|off)$"),
    Field(
        description="Local time of the customer, HH:MM-HH:MM (may cross midnight); `any`/`off`: none.",
        examples=["10:00-20:00"],
    ),
]
Days = Annotated[StrictInt, Field(ge=0, le=3650)]
Scalar = (
    Annotated[str, StringConstraints(max_length=1024)]
    | StrictBool
    | Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
)
TemplateText = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
ProductName = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
CampaignName = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=128)
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


# ------------------------------------------------------------------ events


class CartItemIn(Input):
    """One line of an abandoned cart."""

    model_config = ConfigDict(extra="forbid")

    name: ProductName = Field(description="What it is, as the customer would call it ({cart_items}).")
    quantity: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None
    sku: Annotated[SafeStr, StringConstraints(min_length=1, max_length=128)] | None = None
    price: AmountValue | None = Field(default=None, description="Unit price in major units (as `amount`).")


class CartDataIn(Input):
    """`data` of a `cart_abandoned` event."""

    model_config = ConfigDict(extra="forbid")

    items: list[CartItemIn] = Field(min_length=1, max_length=100, description="What is in the cart.")
    value: AmountValue | None = Field(default=None, description="The cart's total, in major units.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    url: Annotated[SafeStr, StringConstraints(min_length=1, max_length=2048)] | None = Field(
        default=None, description="Where the customer finds their cart."
    )


EVENT_DATA_MODELS: dict[str, type[Input]] = {"cart_abandoned": CartDataIn}
"""Event kinds whose `data` has a fixed shape; other kinds keep free-form data (never read by a
template: templates only read names from a known shape, and render a fallback otherwise)."""


class EventIn(Input):
    model_config = ConfigDict(extra="forbid")

    event_id: IdempotencyKey = Field(
        description="Your event's own id; a repeat is acknowledged, not counted."
    )
    customer_external_id: ExternalIdField = Field(
        description="Who. Unknown ids create a customer (sync details later with PUT /v1/customers)."
    )
    kind: EventKind
    occurred_at: IsoDateTime | None = Field(default=None, description="Default: now.")
    expires_at: IsoDateTime | None = Field(
        default=None, description="Subscription end (required for `subscription_expiring`)."
    )
    product: ProductName | None = Field(
        default=None, description="A product the event is about ({last_product})."
    )
    data: Annotated[
        dict[AttributeKey, Any] | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"$ref": "#/components/schemas/CartDataIn"},
                    {"type": "object", "maxProperties": 20,
                     "patternProperties": {r"^[A-Za-z0-9_.:-]{1,64}$": {}}, "additionalProperties": False},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(
        default=None,
        max_length=20,
        description="Extra facts. For `cart_abandoned` it must be a `CartDataIn` "
        '(`{"items": [{"name": "Blue mug", "quantity": 1, "price": "19.90"}], "value": "19.90"}`; '
        "422 `validation_error` naming the field otherwise); for the other kinds free-form "
        "(at most 20 keys, stored as given).",
    )

    @model_validator(mode="after")
    def _data_shape(self) -> EventIn:
        model = EVENT_DATA_MODELS.get(self.kind)
        if model is not None and self.data is not None:
            try:
                parsed = model.model_validate(self.data)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in ("data", *first["loc"]))
                raise ValueError(f"{where}: {first['msg']}") from None
            self.data = parsed.model_dump(mode="json", exclude_none=True, warnings=False)
        return self


class EventsIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "app-open-77-2026-01-15",
                            "customer_external_id": "crm-42",
                            "kind": "activity",
                        },
                        {
                            "event_id": "sub-9912-exp",
                            "customer_external_id": "crm-42",
                            "kind": "subscription_expiring",
                            "expires_at": "2026-01-22T00:00:00Z",
                        },
                    ]
                }
            ]
        },
    )

    events: list[EventIn] = Field(min_length=1, max_length=500)


class EventResultOut(BaseModel):
    event_id: str
    duplicate: bool = Field(description="True: recorded before; nothing changed.")


class EventsOut(BaseModel):
    recorded: int
    duplicates: int
    results: list[EventResultOut]


# ------------------------------------------------------------------ segments


class SegmentIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "dormant",
                    "days": 45,
                    "languages": ["ru"],
                    "tiers": ["regular", "pre_vip"],
                    "attributes": {"plan": "pro"},
                }
            ]
        },
    )

    kind: SegmentKind = "dormant"
    days: Days | None = Field(
        default=None, description="The segment's window in days (see GET /v1/segments)."
    )
    max_days: Days | None = Field(default=None, description="Dormant only: at most this many days inactive.")
    languages: list[Language] = Field(default_factory=list, max_length=2)
    tiers: list[Tier] = Field(default_factory=list, max_length=5)
    attributes: dict[AttributeKey, Scalar] = Field(
        default_factory=dict, max_length=10, description="Custom attributes that must equal these values."
    )

    def to_spec(self) -> SegmentSpec:
        return SegmentSpec(
            kind=self.kind,
            days=self.days,
            max_days=self.max_days,
            languages=tuple(self.languages),
            tiers=tuple(self.tiers),
            attributes=dict(self.attributes),
        )


class SegmentPreviewIn(SegmentIn):
    sample_size: Annotated[StrictInt, Field(ge=0, le=50)] = 10


class SegmentKindOut(BaseModel):
    kind: str
    description: str
    default_days: int | None


class SegmentSampleOut(BaseModel):
    customer_id: int
    external_id: str | None
    first_name: str | None
    language: str
    tier: str
    orders: int
    spend_minor: int = Field(description="Net spend in LOYALTY_CURRENCY minor units.")
    days_inactive: int | None
    last_engaged_at: datetime | None
    contactable: bool = Field(description="Linked to Telegram, opted in and reachable.")


class SegmentPreviewOut(BaseModel):
    count: int
    contactable: int = Field(description="Of `count`: linked to Telegram, opted in and reachable now.")
    sample: list[SegmentSampleOut] = Field(
        description="The best prospects first (most orders, longest tenure)."
    )
    took_ms: float


# ------------------------------------------------------------------ campaigns


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
        cls, v: svc.CampaignView, *, now: datetime, replayed: bool = False,
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
