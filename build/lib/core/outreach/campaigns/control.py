"""Pause, resume and cancel a campaign."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.delivery import wake
from core.errors import Conflict, NotFound
from core.outreach.campaigns.views import CampaignView, _view
from core.outreach.sequences import IN_PROGRESS
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage


async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    row = await session.get(Campaign, campaign_id)
    if row is None:
        raise NotFound("campaign not found", code="campaign_not_found")
    return row


def _wrong_state(row: Campaign, action: str) -> Conflict:
    return Conflict(
        f"a {row.status} campaign cannot be {action}", code="campaign_state", details={"status": row.status}
    )


async def pause(session: AsyncSession, *, clock: Clock, campaign_id: int) -> CampaignView:
    """Hold every message not yet on the wire; nothing is lost, resume sends them."""
    row = await _campaign(session, campaign_id)
    if row.status == "paused":
        return _view(row)
    if row.status != "running":
        raise _wrong_state(row, "paused")
    row.status, row.paused_at, row.updated_at = "paused", clock.now(), clock.now()
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "queued")
        .values(status="held")
    )
    await session.flush()
    return _view(row)


async def resume(session: AsyncSession, *, clock: Clock, campaign_id: int) -> CampaignView:
    row = await _campaign(session, campaign_id)
    if row.status == "running":
        return _view(row)
    if row.status != "paused":
        raise _wrong_state(row, "resumed")
    row.status, row.paused_at, row.updated_at = "running", None, clock.now()
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "held")
        .values(status="queued")
    )
    wake(session, "outbox")
    await session.flush()
    return _view(row)


async def cancel(session: AsyncSession, *, clock: Clock, campaign_id: int) -> CampaignView:
    """Stop for good: nothing more is sent (messages already on the wire still land)."""
    row = await _campaign(session, campaign_id)
    if row.status == "cancelled":
        return _view(row)
    if row.status == "completed":
        raise _wrong_state(row, "cancelled")
    now = clock.now()
    row.status, row.cancelled_at, row.updated_at = "cancelled", now, now
    await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status.in_(IN_PROGRESS))
        .values(status="cancelled", stop_reason="cancelled", next_at=None)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status.in_(("queued", "held")))
        .values(status="cancelled", error_code="cancelled")
    )
    await session.flush()
    return _view(row)
