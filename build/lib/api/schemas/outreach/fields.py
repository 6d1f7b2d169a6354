"""The outreach schemas' shared field types: kinds, names, windows, scalars."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, StrictBool, StrictFloat, StrictInt, StringConstraints

from core.outreach import segments

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
