"""Typed SQLAlchemy 2 models. Schema changes go through Alembic migrations in storage/migrations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class Customer(Base):
    """A person the business serves; known by Telegram id, by the business's external id, or both."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(256))
    last_name: Mapped[str | None] = mapped_column(String(256))
    username: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    language_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str | None] = mapped_column(String(64))
    birthday: Mapped[date | None] = mapped_column(Date)
    opted_in: Mapped[bool] = mapped_column(Boolean, default=True)
    opt_changed_at: Mapped[datetime | None]
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable_reason: Mapped[str | None] = mapped_column(String(64))
    reachable_changed_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    onboarded_at: Mapped[datetime | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_customers_last_seen_at", "last_seen_at"),)


class DeepLink(Base):
    """Every `/start <payload>` a customer arrived with (referral, campaign or link token)."""

    __tablename__ = "deep_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    payload: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_deep_links_customer_id", "customer_id"),)


class LinkToken(Base):
    """One-time token that ties a Telegram account to a customer's external id."""

    __tablename__ = "link_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)


class ApiKey(Base):
    """A backend's credential. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class BotState(Base):
    """Small key/value facts the bot must not forget (the getUpdates offset, the bot's username)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class InboxUpdate(Base):
    """Each incoming Telegram update, stored before it is confirmed to Telegram.

    status: pending -> done | failed. Rows still pending at start-up are handled then;
    `attempts` counts the starts that found them unfinished.
    """

    __tablename__ = "inbox_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_inbox_updates_status", "status", "update_id"),)


class InboxLease(Base):
    """Which process handles a chat's updates now (several processes on one database).

    One chat's updates are handled in order by one process at a time, whichever process stored
    them; the lease lapses at `lease_until` unless its owner renews it (bot/inbox.py).
    """

    __tablename__ = "inbox_leases"

    chat_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[datetime]


class FsmState(Base):
    """Conversation state of aiogram's FSM, kept in the database so a restart forgets nothing."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime]


class SentJournal(Base):
    """What the bot already sent while handling an update, so a replay after a crash skips it."""

    __tablename__ = "sent_journal"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    method: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # inflight | sent
    result: Mapped[Any] = mapped_column(JSONType, nullable=True)
    started_at: Mapped[datetime]


class ContactLog(Base):
    """Every proactive message sent to a customer (campaign, survey, reminder...).

    The shared frequency cap counts rows here; support replies are not proactive and never land
    here.
    """

    __tablename__ = "contact_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime]

    __table_args__ = (Index("ix_contact_log_customer_sent", "customer_id", "sent_at"),)
