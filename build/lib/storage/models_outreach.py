"""Outreach: customer events and their per-customer summary, campaigns, recipients, the outbox.

The summary (`outreach_stats`) is what segments query: one row per customer with the few
facts that decide dormancy, churn and tier, each indexed, so a segment over a million customers
is an index range scan rather than an aggregate over every order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import JSONType


class OutreachEvent(Base):
    """A fact a backend (or the bot) reported about a customer; idempotent by `event_id`.

    kind: activity | purchase | subscription_started | subscription_expiring |
    subscription_cancelled | cart_abandoned.
    """

    __tablename__ = "outreach_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_outreach_events_customer", "customer_id", "occurred_at"),)


class OutreachStats(Base):
    """What segments need to know about one customer, kept current as events arrive."""

    __tablename__ = "outreach_stats"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    first_active_at: Mapped[datetime]
    last_active_at: Mapped[datetime | None]  # visits, app opens, bot messages
    last_purchase_at: Mapped[datetime | None]
    last_engaged_at: Mapped[datetime]  # the later of the two: dormancy is measured from here
    tenure_days: Mapped[int] = mapped_column(Integer, default=0)
    first_purchase_at: Mapped[datetime | None]
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    # Net spend over counted orders, in the loyalty currency's minor units (as tiers use it).
    spend_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    last_product: Mapped[str | None] = mapped_column(String(256))
    subscription_status: Mapped[str | None] = mapped_column(String(16))  # active | cancelled
    subscription_started_at: Mapped[datetime | None]
    subscription_expires_at: Mapped[datetime | None]
    subscription_cancelled_at: Mapped[datetime | None]
    cart_abandoned_at: Mapped[datetime | None]
    cart: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_outreach_stats_engaged", "last_engaged_at"),
        Index("ix_outreach_stats_spend", "spend_minor"),
        Index("ix_outreach_stats_priority", "orders_count", "tenure_days"),
        Index("ix_outreach_stats_subscription", "subscription_status", "subscription_expires_at"),
        Index("ix_outreach_stats_cart", "cart_abandoned_at"),
    )


class Campaign(Base):
    """A series of proactive messages to an audience; a single message is a one-step campaign.

    status: running -> completed, with paused and cancelled on the way.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # campaign | message
    playbook: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    segment: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    steps: Mapped[list[Any]] = mapped_column(JSONType)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)  # exit_on, goal, window, quiet hours
    default_language: Mapped[str] = mapped_column(String(8))
    holdout_share: Mapped[float] = mapped_column(Double, default=0.0)
    holdout_salt: Mapped[str] = mapped_column(String(32))
    paid_broadcast: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_max_messages: Mapped[int] = mapped_column(Integer, default=0)
    paid_sent: Mapped[int] = mapped_column(Integer, default=0)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    webhook_secret: Mapped[str | None] = mapped_column(String(256))
    webhook_events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    targeted: Mapped[int] = mapped_column(Integer, default=0)
    start_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_campaigns_status", "status"),)


class CampaignRecipient(Base):
    """One customer in one campaign and where their sequence stands.

    status: active (waiting for `step` at `next_at`) -> queued (its outbox row exists) -> active
    ... -> done; or held_out, replied, purchased, opted_out, skipped, failed, cancelled.
    """

    __tablename__ = "campaign_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None]
    targeted_at: Mapped[datetime]
    sent_steps: Mapped[int] = mapped_column(Integer, default=0)
    first_sent_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    replied_at: Mapped[datetime | None]
    reply_choice: Mapped[str | None] = mapped_column(String(32))
    converted_at: Mapped[datetime | None]
    conversion_ref: Mapped[str | None] = mapped_column(String(160))
    conversion_amount: Mapped[float | None] = mapped_column(Double)

    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_campaign_recipients_due", "status", "next_at"),
        Index("ix_campaign_recipients_customer", "customer_id", "status"),
        Index("ix_campaign_recipients_campaign", "campaign_id", "status"),
    )


class OutboxMessage(Base):
    """One proactive message to send; the delivery worker sends from here.

    status: queued -> inflight (committed before the request leaves) -> sent | failed; queued ->
    skipped (a send-time rule said no); held (campaign paused); cancelled; an `inflight` row
    found at start-up was on the wire at a crash and becomes `uncertain` (never resent).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("campaign_recipients.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    owner: Mapped[str | None] = mapped_column(String(64))  # the worker process holding a claim
    lease_until: Mapped[datetime | None]  # the claim lapses then (core/delivery)
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    defer_count: Mapped[int] = mapped_column(Integer, default=0)
    defer_reason: Mapped[str | None] = mapped_column(String(32))
    lane: Mapped[str | None] = mapped_column(String(8))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("recipient_id", "step"),
        Index("ix_outbox_due", "status", "not_before", "id"),
        Index("ix_outbox_campaign", "campaign_id", "status"),
    )


class OutreachWebhook(Base):
    """A signed notification to the backend about a campaign event, retried with backoff."""

    __tablename__ = "outreach_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outreach_webhooks_due", "status", "next_at"),)
