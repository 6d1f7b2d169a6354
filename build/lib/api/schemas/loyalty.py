"""Orders, points and promo codes: strict inputs, outputs mirroring the core views."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictInt, StringConstraints

from api.schemas.common import EXTERNAL_ID_PATTERN, AmountValue, Input, IsoDateTime
from core import exit_interview, loyalty
from core.loyalty.rules import TIERS, from_minor

IDEMPOTENCY_PATTERN = r"^[\x21-\x7E]{1,128}$"

ExternalIdField = Annotated[
    str,
    StringConstraints(pattern=EXTERNAL_ID_PATTERN),
    Field(description="Your system's id: 1-128 of A-Z a-z 0-9 . _ : @ -", examples=["crm-42"]),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(pattern=IDEMPOTENCY_PATTERN),
    Field(
        description="1-128 printable ASCII characters, unique per operation. A repeat with the "
        "same key is acknowledged and changes nothing.",
        examples=["crm-42-bonus-2026-03"],
    ),
]
Amount = Annotated[
    AmountValue,
    Field(
        description="In major units, as a JSON number or a decimal string of ASCII digits "
        '("1499.90"; no spaces, exponents or other digit systems); greater than 0, at most '
        "1,000,000,000; no more decimals than the currency has.",
        examples=["1499.90"],
    ),
]
Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 code.", examples=["USD"]),
]
Points = Annotated[StrictInt, Field(gt=0, le=100_000_000, examples=[500])]
Reason = Annotated[
    str,
    Strict(),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    Field(description="Why, in a few words (shown in the history).", examples=["Goodwill: late delivery"]),
]
Tier = Literal["vip", "pre_vip", "regular", "one_time", "never_bought"]
assert set(Tier.__args__) == set(TIERS)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ orders


class OrderIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "order_id": "A-1001",
                    "customer_external_id": "crm-42",
                    "amount": "129.90",
                    "currency": "USD",
                    "placed_at": "2026-01-15T10:30:00Z",
                }
            ]
        },
    )

    order_id: ExternalIdField = Field(description="The order's own id in your shop; the idempotency key.")
    customer_external_id: ExternalIdField = Field(
        description="Who bought. Unknown ids create a customer (sync details later with PUT /v1/customers)."
    )
    amount: Amount
    currency: Currency
    placed_at: IsoDateTime | None = Field(default=None, description="When it was bought; default now.")
    promo_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="A promo code used with the order (marks it redeemed)."
    )


class OrderOut(BaseModel):
    order_id: str
    customer_external_id: str | None
    amount: Decimal
    currency: str
    refunded: Decimal
    status: Literal["completed", "partially_refunded", "refunded", "cancelled"]
    points_earned: int
    points_reversed: int
    promo_code: str | None
    placed_at: datetime
    created_at: datetime

    @classmethod
    def from_view(cls, v: loyalty.OrderView) -> OrderOut:
        return cls(
            order_id=v.order_id,
            customer_external_id=v.customer_external_id,
            amount=v.amount,
            currency=v.currency,
            refunded=v.refunded,
            status=v.status,  # type: ignore[arg-type]
            points_earned=v.points_earned,
            points_reversed=v.points_reversed,
            promo_code=v.promo_code,
            placed_at=v.placed_at,
            created_at=v.created_at,
        )


class OrderRecorded(OrderOut):
    duplicate: bool = Field(description="True: this order was recorded before; nothing changed.")
    points_credited: int = Field(description="Points this call credited (0 for a duplicate).")
    referral_rewarded: bool = Field(description="This purchase paid a referral reward to both sides.")


class RefundIn(Input):
    model_config = ConfigDict(extra="forbid")

    refund_id: ExternalIdField | None = Field(
        default=None, description="The refund's own id; required for a partial refund (retries are safe)."
    )
    amount: Amount | None = Field(default=None, description="Omit to refund what is left of the order.")
    reason: Reason | None = None


class CancelIn(Input):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class OrderChanged(OrderOut):
    changed: bool = Field(description="False: this refund/cancellation was recorded before.")


# ------------------------------------------------------------------ points


class PointsIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"points": 500, "reason": "Goodwill: late delivery", "idempotency_key": "ticket-881-goodwill"}
            ]
        },
    )

    points: Points
    reason: Reason
    idempotency_key: IdempotencyKey


class AdjustIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "points": -120,
                    "reason": "Correction of a double credit",
                    "idempotency_key": "fix-2026-01-15-42",
                }
            ]
        },
    )

    points: Annotated[
        StrictInt, Field(ge=-100_000_000, le=100_000_000, description="Positive or negative, not zero.")
    ]
    reason: Reason
    idempotency_key: IdempotencyKey


class EntryOut(BaseModel):
    id: int
    kind: Literal["earn", "redeem", "expire", "adjust", "referral", "birthday", "reversal"]
    points: int = Field(description="Signed: credits positive, debits negative.")
    reason: str
    order_id: str | None
    available_at: datetime = Field(description="When a credit becomes spendable (the pending period).")
    created_at: datetime

    @classmethod
    def from_view(cls, v: loyalty.EntryView) -> EntryOut:
        return cls(
            id=v.id,
            kind=v.kind,  # type: ignore[arg-type]
            points=v.points,
            reason=v.reason,
            order_id=v.order_id,
            available_at=v.available_at,
            created_at=v.created_at,
        )


class NextTierOut(BaseModel):
    tier: Tier
    spend_needed: Decimal = Field(description="In the loyalty currency.")
    orders_needed: int


class ReferralOut(BaseModel):
    code: str
    link: str | None = Field(description="t.me deep link; null until the bot has started once.")
    start_command: str
    invited: int = Field(description="People who came through the link.")
    rewarded: int = Field(description="Of them, who made a first purchase (both sides rewarded).")


class BalanceOut(BaseModel):
    customer_external_id: str
    spendable: int
    pending: int = Field(description="Credited but not yet spendable.")
    pending_until: datetime | None = Field(description="When the earliest pending credit becomes spendable.")
    total: int
    tier: Tier
    next_tier: NextTierOut | None = Field(description="What the next tier needs; null for VIP.")
    currency: str
    spend: Decimal = Field(description="Net spend (refunds deducted) in the loyalty currency.")
    orders: int = Field(description="Orders that count (not fully refunded or cancelled).")
    last_purchase_at: datetime | None
    expires_at: datetime | None = Field(description="When the spendable points expire without activity.")
    expiring_soon: bool
    referral: ReferralOut

    @classmethod
    def build(cls, external_id: str, v: loyalty.BalanceView, r: loyalty.ReferralInfo) -> BalanceOut:
        nxt = None
        if v.next_tier is not None:
            nxt = NextTierOut(
                tier=v.next_tier.tier,  # type: ignore[arg-type]
                spend_needed=from_minor(v.next_tier.spend_needed_minor, v.currency),
                orders_needed=v.next_tier.orders_needed,
            )
        return cls(
            customer_external_id=external_id,
            spendable=v.spendable,
            pending=v.pending,
            pending_until=v.pending_until,
            total=v.total,
            tier=v.tier,  # type: ignore[arg-type]
            next_tier=nxt,
            currency=v.currency,
            spend=from_minor(v.spend_minor, v.currency),
            orders=v.orders,
            last_purchase_at=v.last_purchase_at,
            expires_at=v.expires_at,
            expiring_soon=v.expiring_soon,
            referral=ReferralOut(
                code=r.code,
                link=r.link,
                start_command=r.start_command,
                invited=r.invited,
                rewarded=r.rewarded,
            ),
        )


class BalanceShort(BaseModel):
    spendable: int
    pending: int
    tier: Tier


class MovementOut(BaseModel):
    entry: EntryOut
    duplicate: bool = Field(description="True: the idempotency key was used before; nothing changed.")
    balance: BalanceShort

    @classmethod
    def from_result(cls, r: loyalty.MovementResult) -> MovementOut:
        return cls(
            entry=EntryOut.from_view(r.entry),
            duplicate=r.duplicate,
            balance=BalanceShort(
                spendable=r.balance.spendable,
                pending=r.balance.pending,
                tier=r.balance.tier,  # type: ignore[arg-type]
            ),
        )


class HistoryPage(BaseModel):
    items: list[EntryOut]
    next_before: int | None = Field(description="Pass as `before` for older movements; null at the end.")


# ------------------------------------------------------------------ promo codes


class PromoCodesIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "pool": "exit-save",
                    "discount_percent": 15,
                    "expires_at": "2026-06-30T23:59:59Z",
                    "codes": ["SPRING-7QX2", "SPRING-K9PM"],
                }
            ]
        },
    )

    pool: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = Field(
        description="The pool the exit interview's save offer draws from is EXIT_SAVE_OFFER_POOL."
    )
    discount_percent: Annotated[StrictInt, Field(ge=1, le=90)]
    expires_at: IsoDateTime | None = Field(
        default=None, description="Null: each code is valid EXIT_SAVE_OFFER_VALID_DAYS from when it is given."
    )
    codes: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,64}$")]],
        Field(min_length=1, max_length=1000),
    ]


class PromoCodesAdded(BaseModel):
    added: int
    existing: list[str] = Field(description="Codes that were already known (left unchanged).")


class PromoOut(BaseModel):
    code: str
    pool: str
    discount_percent: int
    source: Literal["pool", "generated"]
    status: Literal["available", "assigned", "redeemed", "expired"]
    expires_at: datetime | None
    customer_external_id: str | None
    assigned_at: datetime | None
    redeemed_at: datetime | None
    redeemed_order: str | None

    @classmethod
    def from_view(cls, v: exit_interview.PromoView) -> PromoOut:
        return cls(
            code=v.code,
            pool=v.pool,
            discount_percent=v.discount_percent,
            source=v.source,  # type: ignore[arg-type]
            status=v.status,  # type: ignore[arg-type]
            expires_at=v.expires_at,
            customer_external_id=v.customer_external_id,
            assigned_at=v.assigned_at,
            redeemed_at=v.redeemed_at,
            redeemed_order=v.redeemed_order,
        )
