"""The outbox's shared pieces: its queue table, what a claim returns and Telegram answers, the
row helpers (give back a contact budget, load rows by id)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery import queue
from storage.models import ContactLog
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage

CONTACT_KIND = "campaign"
UNREACHABLE_CODES = ("blocked", "deactivated", "not_started", "kicked")
SAME_CUSTOMER_DELAY = timedelta(seconds=2)
DEFAULT_LEASE = timedelta(seconds=30)  # renewed every 10 s while held
QUEUE = queue.QueueTable("outbox", OutboxMessage, wire="inflight")


def contact_ref(outbox_id: int) -> str:
    return f"outbox:{outbox_id}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready to go: where, what, and in which lane."""

    outbox_id: int
    campaign_id: int
    recipient_id: int
    customer_id: int
    step: int
    chat_id: int
    language: str
    text: str
    buttons: tuple[dict[str, Any], ...]
    paid: bool


@dataclass
class ClaimResult:
    ready: list[Outgoing] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    deferred: Counter[str] = field(default_factory=Counter)
    examined: int = 0


@dataclass(frozen=True, slots=True)
class Result:
    """What Telegram answered for one message."""

    outbox_id: int
    outcome: str  # sent | retry | failed
    message_id: int | None = None
    error_code: str | None = None
    error: str | None = None
    retry_after: float | None = None


async def _release(session: AsyncSession, row: OutboxMessage, campaign: Campaign | None) -> None:
    """Give back the contact budget (and the paid-broadcast budget) of an undelivered message."""
    await session.execute(delete(ContactLog).where(ContactLog.ref == contact_ref(row.id)))
    if row.lane == "paid" and campaign is not None:
        campaign.paid_sent = max(0, campaign.paid_sent - 1)
    row.lane = None


async def _by_id(session: AsyncSession, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    return {r.id: r for r in (await session.execute(select(model).where(model.id.in_(ids)))).scalars()}


_TABLE = cast(Table, OutboxMessage.__table__)
_RECIPIENTS = cast(Table, CampaignRecipient.__table__)


Ob = OutboxMessage
