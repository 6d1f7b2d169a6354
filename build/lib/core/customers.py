"""Customers: who they are, how to reach them, and what they agreed to.

The reads (the view, lookups by Telegram id or backend id, pages) live in core/customer_reads.py
and are re-exported here, so `core.customers.x` stays the way in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.customer_reads import CustomerRead as CustomerRead
from core.customer_reads import CustomerView as CustomerView
from core.customer_reads import by_telegram_id as by_telegram_id
from core.customer_reads import get_customer as get_customer
from core.customer_reads import list_customers as list_customers
from core.customer_reads import view as view
from core.customer_reads import view_by_telegram_id as view_by_telegram_id
from core.errors import Conflict, Gone, NotFound
from storage.models import Customer, DeepLink, LinkToken

# (session, from_id, to_id): move a domain's rows from a merged-away customer to the kept one.
MergeHook = Callable[[AsyncSession, int, int], Awaitable[None]]
# (session, customer_id): erase what the customer wrote in a domain's tables.
ForgetHook = Callable[[AsyncSession, int], Awaitable[None]]


@dataclass(frozen=True)
class CustomerHooks:
    """What the other domains do when two customers merge or one is forgotten, in order.

    Built once by the composition root (`supportbot.runtime.customer_hooks`) and passed in, so
    this module imports none of those domains (no import loop, no list filled at import time).
    """

    merge: tuple[MergeHook, ...] = ()
    forget: tuple[ForgetHook, ...] = ()


SUPPORTED_LANGUAGES = ("en", "ru")
# Telegram's language_code is an IETF tag; these fall back to Russian rather than English.
RUSSIAN_SPEAKING = {"ru", "be", "uk", "kk", "ky", "uz", "tg", "hy", "az"}
PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LINK_PREFIX = "lt_"


def language_from_telegram(code: str | None, default: str = "en") -> str:
    """Map Telegram's language_code to a supported locale (ru or en; fallback `default`)."""
    if not code:
        return default
    base = code.lower().split("-")[0]
    if base in SUPPORTED_LANGUAGES:
        return base
    if base in RUSSIAN_SPEAKING:
        return "ru"
    return default


def _new_customer(now: datetime, **values: Any) -> Customer:
    values.setdefault("attributes", {})
    values.setdefault("opted_in", True)
    values.setdefault("reachable", True)
    values.setdefault("language_chosen", False)
    return Customer(created_at=now, updated_at=now, **values)


async def touch_telegram_user(
    session: AsyncSession,
    *,
    clock: Clock,
    telegram_id: int,
    first_name: str | None,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    default_language: str = "en",
) -> tuple[CustomerView, bool]:
    """Find or create the customer behind a Telegram user and refresh last-seen.

    Returns the customer and whether they were created by this call.
    """
    now = clock.now()
    row = await by_telegram_id(session, telegram_id)
    created = False
    if row is None:
        row = _new_customer(
            now,
            telegram_id=telegram_id,
            language=language_from_telegram(language_code, default_language),
            first_seen_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:  # a concurrent update created them first
            row = await by_telegram_id(session, telegram_id)
            assert row is not None
        else:
            created = True
    row.first_name = first_name or row.first_name
    row.last_name = last_name
    row.username = username
    if not row.language_chosen and language_code:
        row.language = language_from_telegram(language_code, default_language)
    row.last_seen_at = now
    if row.first_seen_at is None:
        row.first_seen_at = now
    if not row.reachable and row.unreachable_reason in ("blocked", "deactivated"):
        # They are writing to us, so the bot is not blocked any more.
        row.reachable, row.unreachable_reason, row.reachable_changed_at = True, None, now
    row.updated_at = now
    await session.flush()
    return view(row, default_language=default_language), created


async def _require_telegram(session: AsyncSession, telegram_id: int) -> Customer:
    row = await by_telegram_id(session, telegram_id)
    if row is None:
        raise NotFound("customer not found", code="customer_not_found")
    return row


async def set_language(
    session: AsyncSession, *, clock: Clock, telegram_id: int, language: str
) -> CustomerView:
    """Remember the customer's explicit language choice."""
    if language not in SUPPORTED_LANGUAGES:
        raise NotFound(f"unsupported language {language!r}", code="unsupported_language")
    row = await _require_telegram(session, telegram_id)
    row.language, row.language_chosen, row.updated_at = language, True, clock.now()
    await session.flush()
    return view(row)


async def mark_onboarded(session: AsyncSession, *, clock: Clock, telegram_id: int) -> None:
    """Record that the welcome was shown."""
    row = await _require_telegram(session, telegram_id)
    if row.onboarded_at is None:
        row.onboarded_at = clock.now()


async def set_opt_in(
    session: AsyncSession, *, clock: Clock, telegram_id: int, opted_in: bool
) -> CustomerView:
    """Opt the customer in to (or out of) proactive messages."""
    row = await _require_telegram(session, telegram_id)
    if row.opted_in != opted_in:
        row.opted_in, row.opt_changed_at = opted_in, clock.now()
        row.updated_at = clock.now()
    await session.flush()
    return view(row)


async def set_reachable(
    session: AsyncSession,
    *,
    clock: Clock,
    telegram_id: int,
    reachable: bool,
    reason: str | None = None,
) -> CustomerView | None:
    """Record whether the bot can write to this person (403 blocked/deactivated is a churn signal)."""
    row = await by_telegram_id(session, telegram_id)
    if row is None:
        return None
    if row.reachable != reachable or row.unreachable_reason != reason:
        row.reachable = reachable
        row.unreachable_reason = None if reachable else (reason or "unknown")
        row.reachable_changed_at = clock.now()
        row.updated_at = clock.now()
    await session.flush()
    return view(row)


async def forget(session: AsyncSession, *, clock: Clock, hooks: CustomerHooks, telegram_id: int) -> bool:
    """Erase personal data. The row stays (anonymised) so revenue figures still add up.

    `hooks.forget` then erase what the customer wrote in the other domains' tables.
    """
    row = await by_telegram_id(session, telegram_id)
    if row is None:
        return False
    now = clock.now()
    await session.execute(
        DeepLink.__table__.delete().where(DeepLink.customer_id == row.id)  # type: ignore[attr-defined]
    )
    for attr in (
        "telegram_id",
        "external_id",
        "first_name",
        "last_name",
        "username",
        "email",
        "phone",
        "timezone",
        "birthday",
        "first_seen_at",
        "last_seen_at",
        "onboarded_at",
    ):
        setattr(row, attr, None)
    row.attributes = {}
    row.opted_in = False
    row.reachable = False
    row.unreachable_reason = "erased"
    row.erased_at = row.updated_at = row.reachable_changed_at = now
    await session.flush()
    for hook in hooks.forget:  # what the customer wrote elsewhere (cases, surveys...)
        await hook(session, row.id)
    return True


def classify_payload(payload: str) -> str:
    """Deep-link kinds: ref_<code> referral, c_<code> campaign, lt_<token> link token."""
    if payload.startswith(LINK_PREFIX):
        return "link"
    if payload.startswith("ref_"):
        return "referral"
    if payload.startswith("c_"):
        return "campaign"
    return "other"


async def record_deep_link(
    session: AsyncSession, *, clock: Clock, customer_id: int, payload: str
) -> str | None:
    """Store a /start payload with the customer; returns its kind, or None if malformed."""
    if not PAYLOAD_RE.match(payload):
        return None
    kind = classify_payload(payload)
    session.add(DeepLink(customer_id=customer_id, payload=payload, kind=kind, created_at=clock.now()))
    await session.flush()
    return kind


# ---------------------------------------------------------------- backend-facing


@dataclass(frozen=True, slots=True)
class CustomerData:
    """Fields a backend may set; None means 'leave as it is'."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    timezone: str | None = None
    birthday: date | None = None
    opted_in: bool | None = None
    attributes: dict[str, Any] | None = None


async def upsert_by_external_id(
    session: AsyncSession, *, clock: Clock, external_id: str, data: CustomerData
) -> tuple[CustomerView, bool]:
    """Create or update the customer with this external id; returns (customer, created)."""
    now = clock.now()
    row = (
        await session.execute(select(Customer).where(Customer.external_id == external_id))
    ).scalar_one_or_none()
    created = row is None
    if row is None:
        row = _new_customer(now, external_id=external_id)
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            row = (
                await session.execute(select(Customer).where(Customer.external_id == external_id))
            ).scalar_one()
            created = False
    for name in ("first_name", "last_name", "email", "phone", "timezone", "birthday"):
        value = getattr(data, name)
        if value is not None:
            setattr(row, name, value)
    if data.language is not None:
        row.language, row.language_chosen = data.language, True
    if data.opted_in is not None and data.opted_in != row.opted_in:
        row.opted_in, row.opt_changed_at = data.opted_in, now
    if data.attributes is not None:
        merged = dict(row.attributes or {})
        for key, value in data.attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        row.attributes = merged
    row.updated_at = now
    await session.flush()
    return view(row), created


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_link_token(
    session: AsyncSession, *, clock: Clock, external_id: str, ttl: timedelta
) -> tuple[str, datetime]:
    """A one-time token for t.me/<bot>?start=<token>; only its hash is stored."""
    row = (
        await session.execute(select(Customer).where(Customer.external_id == external_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("customer not found", code="customer_not_found")
    token = LINK_PREFIX + secrets.token_urlsafe(24)  # 3 + 32 chars, within the 64-char limit
    now = clock.now()
    session.add(LinkToken(token_hash=_hash(token), customer_id=row.id, created_at=now, expires_at=now + ttl))
    await session.flush()
    return token, now + ttl


async def redeem_link_token(
    session: AsyncSession, *, clock: Clock, hooks: CustomerHooks, token: str, telegram_id: int
) -> CustomerView:
    """Tie the Telegram account to the customer the token was made for.

    If the Telegram user already had a customer record of their own (they wrote to the bot
    before being linked), that record is merged into the backend's one (`hooks.merge` move the
    other domains' rows).
    """
    now = clock.now()
    link = (
        await session.execute(select(LinkToken).where(LinkToken.token_hash == _hash(token)))
    ).scalar_one_or_none()
    if link is None:
        raise NotFound("unknown link", code="link_not_found")
    target = await session.get(Customer, link.customer_id)
    if target is None:
        raise NotFound("unknown link", code="link_not_found")
    if link.used_at is not None:
        if link.used_by_telegram_id == telegram_id:
            return view(target)
        raise Gone("link already used", code="link_used")
    if link.expires_at < now:
        raise Gone("link expired", code="link_expired")
    if target.telegram_id is not None and target.telegram_id != telegram_id:
        raise Conflict("customer already linked to another account", code="link_conflict")
    own = await by_telegram_id(session, telegram_id)
    if own is not None and own.id != target.id:
        await _merge_into(session, source=own, target=target, hooks=hooks.merge)
    target.telegram_id = telegram_id
    target.updated_at = now
    if target.first_seen_at is None:
        target.first_seen_at = now
    target.last_seen_at = now
    link.used_at, link.used_by_telegram_id = now, telegram_id
    await session.flush()
    return view(target)


async def _merge_into(
    session: AsyncSession, *, source: Customer, target: Customer, hooks: Sequence[MergeHook]
) -> None:
    """Move a bot-only record's facts into the backend's record and drop the duplicate."""
    for name in ("first_name", "last_name", "username", "timezone", "birthday"):
        if getattr(target, name) is None:
            setattr(target, name, getattr(source, name))
    if not target.language_chosen:
        target.language, target.language_chosen = source.language, source.language_chosen
    target.first_seen_at = min((d for d in (source.first_seen_at, target.first_seen_at) if d), default=None)
    target.onboarded_at = target.onboarded_at or source.onboarded_at
    target.opted_in = target.opted_in and source.opted_in
    await session.execute(
        update(DeepLink).where(DeepLink.customer_id == source.id).values(customer_id=target.id)
    )
    for hook in hooks:
        await hook(session, source.id, target.id)
    source.telegram_id = None
    await session.flush()
    await session.delete(source)
    await session.flush()
