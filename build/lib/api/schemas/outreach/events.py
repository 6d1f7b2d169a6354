"""Events from the backend (activity, subscriptions, abandoned carts) and what was recorded."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from api.schemas.common import AmountValue, AttributeKey, Input, IsoDateTime, SafeStr
from api.schemas.loyalty import ExternalIdField, IdempotencyKey
from api.schemas.outreach.fields import EventKind, ProductName


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
                    {
                        "type": "object",
                        "maxProperties": 20,
                        "patternProperties": {r"^[A-Za-z0-9_.:-]{1,64}$": {}},
                        "additionalProperties": False,
                    },
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
