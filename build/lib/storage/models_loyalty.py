"""Loyalty, NPS and exit interviews: orders, the points ledger, referrals, surveys, promo codes.

Amounts are integers in the currency's minor unit (cents, kopecks; none for JPY); points are
whole numbers. The ledger is append-only: a correction is a new movement, never an update.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import BigInt, JSONType


class Order(Base):
    """A purchase reported by the business's backend, known by the order's own id."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The same amount in the loyalty currency (what tiers and points are computed from).
    base_amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    base_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(24))  # completed | partially_refunded | refunded | cancelled
    points_earned: Mapped[int] = mapped_column(BigInt, default=0)
    promo_code: Mapped[str | None] = mapped_column(String(64))
    placed_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_orders_customer_placed", "customer_id", "placed_at"),)


class OrderRefund(Base):
    """One refund of an order, idempotent by the refund's own id."""

    __tablename__ = "order_refunds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    refund_key: Mapped[str] = mapped_column(String(128))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInt, default=0)
    reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("order_id", "refund_key"),)


class LedgerEntry(Base):
    """One movement of loyalty points (append-only).

    kind: earn | redeem | expire | adjust | referral | birthday | reversal. Positive points are
    credits. A credit becomes spendable at `available_at` (the pending period).
    """

    __tablename__ = "loyalty_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInt)
    reason: Mapped[str] = mapped_column(String(256))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_ledger.id", ondelete="SET NULL"))
    available_at: Mapped[datetime]
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_loyalty_ledger_customer", "customer_id", "id"),
        Index("ix_loyalty_ledger_order", "order_id"),
    )


class LoyaltyProfile(Base):
    """Per-customer loyalty facts the customers table does not keep (when a birthday was set)."""

    __tablename__ = "loyalty_profiles"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    birthday: Mapped[date | None] = mapped_column(Date)
    birthday_set_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ReferralCode(Base):
    """A customer's personal referral code (t.me/<bot>?start=ref_<code>)."""

    __tablename__ = "referral_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_referral_codes_customer", "customer_id"),)


class Referral(Base):
    """Who brought whom. pending -> rewarded (first purchase) | void (that purchase was undone)."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    referred_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    rewarded_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_referrals_referrer", "referrer_id"),)


class LoyaltyNotice(Base):
    """A message to a customer sent by the engagement worker (expiry warning, reward, reminder).

    policy: proactive (asks the contact budget, counted) | requested (the customer asked for it:
    counted, not capped) | service (about their own action: neither).
    status: queued -> sending -> sent | skipped | failed.
    """

    __tablename__ = "loyalty_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    policy: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(64))  # the worker process holding a claim
    lease_until: Mapped[datetime | None]  # the claim lapses then (core/delivery)
    not_before: Mapped[datetime]
    deadline: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_loyalty_notices_queue", "status", "not_before"),)


class OutreachRequest(Base):
    """An API call that started surveys or interviews, remembered by its idempotency key."""

    __tablename__ = "outreach_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # nps | exit | feature
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("kind", "idempotency_key"),)


class Survey(Base):
    """One NPS survey of one customer.

    status: scheduled -> sending -> sent -> answered; or skipped (not sent, `skip_reason`),
    expired (sent, never answered: ignored), failed.
    """

    __tablename__ = "nps_surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("outreach_requests.id", ondelete="SET NULL"))
    trigger: Mapped[str] = mapped_column(String(24))  # api | support_case | first_purchase | menu
    trigger_ref: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(64))  # the worker process holding a claim
    lease_until: Mapped[datetime | None]  # the claim lapses then (core/delivery)
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    not_before: Mapped[datetime]
    send_deadline: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    score: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(16))  # promoter | passive | detractor
    comment: Mapped[str | None] = mapped_column(Text)
    tier: Mapped[str | None] = mapped_column(String(16))  # the customer's tier when they answered
    answered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]  # comment given or skipped
    alerted_at: Mapped[datetime | None]  # detractor alert queued for staff
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_nps_surveys_customer", "customer_id", "status"),
        Index("ix_nps_surveys_queue", "status", "not_before"),
        Index("ix_nps_surveys_answered", "answered_at"),
        Index("ix_nps_surveys_trigger", "trigger", "trigger_ref"),
    )


class PromoCode(Base):
    """A discount code: loaded into a pool by the backend, or generated for a save offer."""

    __tablename__ = "promo_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    pool: Mapped[str] = mapped_column(String(64))
    discount_percent: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # pool | generated
    expires_at: Mapped[datetime | None]
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None]
    redeemed_at: Mapped[datetime | None]
    redeemed_order: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_promo_codes_pool", "pool", "customer_id"),
        Index("ix_promo_codes_customer", "customer_id"),
    )


class ExitInterview(Base):
    """Why a customer leaves, and what we answered.

    status: scheduled -> sending -> sent -> answered (reason picked) -> completed; or skipped,
    expired (never answered), failed.
    """

    __tablename__ = "exit_interviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("outreach_requests.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16))  # api | menu
    event: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(64))  # the worker process holding a claim
    lease_until: Mapped[datetime | None]  # the claim lapses then (core/delivery)
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    not_before: Mapped[datetime]
    send_deadline: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(Text)
    promo_code_id: Mapped[int | None] = mapped_column(ForeignKey("promo_codes.id", ondelete="SET NULL"))
    may_write_again: Mapped[bool | None] = mapped_column(Boolean)
    break_until: Mapped[date | None] = mapped_column(Date)
    handed_over: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_exit_interviews_customer", "customer_id", "created_at"),
        Index("ix_exit_interviews_queue", "status", "not_before"),
        Index("ix_exit_interviews_answered", "answered_at"),
    )


class FeatureRequest(Base):
    """A feature a customer missed; they are told once when it ships."""

    __tablename__ = "feature_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    feature_key: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(256))
    exit_interview_id: Mapped[int | None] = mapped_column(
        ForeignKey("exit_interviews.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    shipped_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("customer_id", "feature_key"),
        Index("ix_feature_requests_key", "feature_key"),
    )


class ShippedFeature(Base):
    """A feature the backend announced as shipped (so later requests for it get 'already there')."""

    __tablename__ = "shipped_features"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(128), unique=True)
    label: Mapped[str] = mapped_column(String(256))
    shipped_at: Mapped[datetime]
