"""Signed notifications to the backend about campaign events (sent, failed, replied, converted).

Delivery is at least once: each notification has a stable id (`X-Outreach-Delivery`) the
receiver uses to drop repeats. The body is signed with the campaign's secret:

    X-Outreach-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

Receivers recompute the HMAC over the raw body, compare in constant time, and refuse old
timestamps (replays). Failures are retried with exponential backoff up to a maximum.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.outreach.rules import retry_delay
from storage.dialect import is_postgres
from storage.models_outreach import Campaign, OutreachWebhook

EVENTS = ("sent", "failed", "replied", "converted")
SIGNATURE_HEADER = "X-Outreach-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for this body at this time."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: datetime, tolerance: float = 300) -> bool:
    """What a receiver does (used by tests and documented for backends)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def enqueue(
    session: AsyncSession, *, campaign: Campaign, event: str, now: datetime, data: dict[str, Any]
) -> None:
    """Queue a notification if the campaign asked for this kind of event."""
    if not campaign.webhook_url or event not in (campaign.webhook_events or ()):
        return
    payload = {"event": event, "campaign_id": campaign.id, "occurred_at": now.isoformat(), **data}
    session.add(
        OutreachWebhook(
            campaign_id=campaign.id,
            event=event,
            payload=payload,
            status="pending",
            attempts=0,
            next_at=now,
            created_at=now,
        )
    )


@dataclass(frozen=True, slots=True)
class OutgoingWebhook:
    id: int
    url: str
    event: str
    body: bytes
    headers: dict[str, str]


CLAIM_FOR = timedelta(seconds=60)


async def due_webhooks(session: AsyncSession, *, now: datetime, limit: int = 50) -> list[OutgoingWebhook]:
    """Notifications due now, with body and signed headers ready to post.

    Claimed for CLAIM_FOR (their `next_at` moves on), so another process does not post them at
    the same time; `webhook_done` records the outcome. A process that dies mid-post leaves them
    to be posted again after that (at least once: receivers dedupe by the delivery id). Locked
    with SKIP LOCKED on PostgreSQL. Call it in a write transaction."""
    stmt = (
        select(OutreachWebhook, Campaign.webhook_url, Campaign.webhook_secret)
        .join(Campaign, Campaign.id == OutreachWebhook.campaign_id)
        .where(OutreachWebhook.status == "pending", OutreachWebhook.next_at <= now)
        .order_by(OutreachWebhook.next_at, OutreachWebhook.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(of=OutreachWebhook, skip_locked=True)
    rows = (await session.execute(stmt)).all()
    out = []
    for row, url, secret in rows:
        row.next_at = now + CLAIM_FOR
        body = json.dumps({"id": row.id, **row.payload}, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "supportbot-outreach/1",
            "X-Outreach-Event": row.event,
            "X-Outreach-Delivery": str(row.id),
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, int(now.timestamp()), body)
        out.append(OutgoingWebhook(row.id, url or "", row.event, body, headers))
    return out


async def webhook_done(
    session: AsyncSession,
    *,
    webhook_id: int,
    now: datetime,
    error: str | None,
    max_attempts: int,
    base: float = 5.0,
    maximum: float = 3600.0,
) -> str:
    """Record one delivery attempt; returns the new status."""
    row = await session.get(OutreachWebhook, webhook_id)
    if row is None:
        return "gone"
    row.attempts += 1
    if error is None:
        row.status, row.delivered_at, row.last_error = "delivered", now, None
    elif row.attempts >= max_attempts:
        row.status, row.last_error = "failed", error[:2000]
    else:
        row.last_error = error[:2000]
        row.next_at = now + timedelta(seconds=retry_delay(row.attempts, base=base, maximum=maximum))
    await session.flush()
    return row.status


async def next_webhook_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(OutreachWebhook.next_at)
        .where(OutreachWebhook.status == "pending")
        .order_by(OutreachWebhook.next_at)
        .limit(1)
    )
