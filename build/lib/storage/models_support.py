"""Support: FAQ queries, cases, one forum topic per customer, relayed messages, the group queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import JSONType


class FaqQuery(Base):
    """A question a customer typed, what the FAQ made of it, and whether it helped."""

    __tablename__ = "faq_queries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(String(512))
    result: Mapped[str] = mapped_column(String(16))  # answer | suggest | none | browse
    entry_id: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None]
    helpful: Mapped[bool | None] = mapped_column(Boolean)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_faq_queries_created", "created_at"),
        Index("ix_faq_queries_customer", "customer_id", "created_at"),
    )


class SupportTopic(Base):
    """The forum topic of one customer in one staff group (created once, recreated if deleted)."""

    __tablename__ = "support_topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    group_chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(128))
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("customer_id", "group_chat_id"),
        Index("ix_support_topics_thread", "group_chat_id", "thread_id"),
    )


class SupportCase(Base):
    """One conversation with staff: waiting (no staff reply yet) -> open -> closed."""

    __tablename__ = "support_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # per customer: case #1, #2...
    status: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(32))
    origin_text: Mapped[str | None] = mapped_column(Text)
    group_chat_id: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime]
    first_staff_reply_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    csat_comment: Mapped[str | None] = mapped_column(Text)
    csat_at: Mapped[datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("customer_id", "number"),
        Index("ix_support_cases_status", "status", "opened_at"),
        Index("ix_support_cases_customer", "customer_id", "status"),
    )


class SupportMessage(Base):
    """A message of a case and where it lives on each side (for replies and edit sync)."""

    __tablename__ = "support_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("support_cases.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))  # in (customer) | out (staff) | note
    customer_chat_id: Mapped[int] = mapped_column(BigInteger)
    customer_message_id: Mapped[int | None] = mapped_column(BigInteger)
    group_chat_id: Mapped[int] = mapped_column(BigInteger)
    topic_message_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_support_messages_customer", "customer_chat_id", "customer_message_id"),
        Index("ix_support_messages_topic", "group_chat_id", "topic_message_id"),
        Index("ix_support_messages_case", "case_id", "id"),
    )


class GroupPost(Base):
    """The queue of posts into staff groups, sent within Telegram's 20-per-minute group limit.

    Priority: 0 customer messages, 1 edits, 2 cards and notices, 3 reminders and alerts.
    """

    __tablename__ = "group_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_chat_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("support_cases.id", ondelete="CASCADE"))
    support_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_messages.id", ondelete="CASCADE")
    )
    priority: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # copy | text | card | edit | notice
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | sent | failed
    owner: Mapped[str | None] = mapped_column(String(64))  # the worker process holding a claim
    lease_until: Mapped[datetime | None]  # the claim lapses then (core/delivery)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_group_posts_queue", "status", "group_chat_id", "priority", "id"),)
