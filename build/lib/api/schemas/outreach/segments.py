"""Segment definitions and their previews."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.schemas.common import AttributeKey, Input, Language
from api.schemas.loyalty import Tier
from api.schemas.outreach.fields import Days, Scalar, SegmentKind
from core.outreach.segments import SegmentSpec


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
