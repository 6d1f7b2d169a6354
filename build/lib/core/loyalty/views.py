"""Loyalty's constants and the views it returns (never ORM rows): orders, ledger entries,
balances, movements, referrals.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from core.loyalty.rules import (
    NextTier,
    from_minor,
)
from storage.models_loyalty import (
    LedgerEntry,
    Order,
)

KINDS = ("earn", "redeem", "expire", "adjust", "referral", "birthday", "reversal")
COUNTED = ("completed", "partially_refunded")
ACTIVITY_KINDS = ("earn", "redeem", "adjust", "referral", "birthday")
REFERRAL_PREFIX = "ref_"
_CODE_ALPHABET = string.ascii_lowercase + string.digits
# An order "placed" this far in the future is a clock or time-zone bug on the sender's side.
FUTURE_SKEW = timedelta(minutes=10)


# ------------------------------------------------------------------ views


@dataclass(frozen=True, slots=True)
class OrderView:
    order_id: str
    customer_id: int
    customer_external_id: str | None
    amount_minor: int
    currency: str
    refunded_minor: int
    status: str
    points_earned: int
    points_reversed: int
    promo_code: str | None
    placed_at: datetime
    created_at: datetime

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def refunded(self) -> Decimal:
        return from_minor(self.refunded_minor, self.currency)


@dataclass(frozen=True, slots=True)
class OrderResult:
    order: OrderView
    created: bool  # False: the same order was reported before and is acknowledged
    points: int  # credited by this call
    referral_rewarded: bool = False


@dataclass(frozen=True, slots=True)
class EntryView:
    id: int
    customer_id: int
    kind: str
    points: int
    reason: str
    idempotency_key: str
    order_id: str | None
    available_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BalanceView:
    customer_id: int
    spendable: int
    pending: int
    pending_until: datetime | None  # when the earliest pending credit becomes spendable
    currency: str
    spend_minor: int  # net spend in the loyalty currency
    orders: int
    tier: str
    next_tier: NextTier | None
    last_purchase_at: datetime | None
    last_activity_at: datetime | None
    expires_at: datetime | None  # when the spendable balance burns without activity
    expiring_soon: bool  # inside the warning period

    @property
    def total(self) -> int:
        return self.spendable + self.pending


@dataclass(frozen=True, slots=True)
class BalanceScreen:
    """The balance screen's facts: the balance and the latest movements."""

    balance: BalanceView
    recent: list[EntryView]  # newest first
    more: bool  # older movements exist (the screen offers the full history)


@dataclass(frozen=True, slots=True)
class MovementResult:
    entry: EntryView
    duplicate: bool  # the idempotency key was seen before: nothing new happened
    balance: BalanceView


@dataclass(frozen=True, slots=True)
class ReferralOutcome:
    status: str  # attributed | unknown_code | self | already_referred | not_new | loop
    referrer_id: int | None = None
    referrer_name: str | None = None


@dataclass(frozen=True, slots=True)
class ReferralInfo:
    code: str
    link: str | None  # None until the bot has started once and recorded its username
    start_command: str
    invited: int
    rewarded: int


def _order_view(row: Order, external_id: str | None, reversed_points: int = 0) -> OrderView:
    return OrderView(
        order_id=row.external_id,
        customer_id=row.customer_id,
        customer_external_id=external_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        refunded_minor=row.refunded_minor,
        status=row.status,
        points_earned=row.points_earned,
        points_reversed=reversed_points,
        promo_code=row.promo_code,
        placed_at=row.placed_at,
        created_at=row.created_at,
    )


def _entry_view(row: LedgerEntry, order_external_id: str | None = None) -> EntryView:
    return EntryView(
        id=row.id,
        customer_id=row.customer_id,
        kind=row.kind,
        points=row.points,
        reason=row.reason,
        idempotency_key=row.idempotency_key,
        order_id=order_external_id,
        available_at=row.available_at,
        created_at=row.created_at,
    )
