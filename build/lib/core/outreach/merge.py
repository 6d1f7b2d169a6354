"""Moves outreach rows when a bot-only customer is merged into the backend's record: a
`core.customers.CustomerHooks` merge hook the composition root passes (supportbot/runtime.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import overload

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.outreach.stats import refresh_purchases
from storage.models_outreach import CampaignRecipient, OutboxMessage, OutreachEvent, OutreachStats


@overload
def _earliest(*values: datetime) -> datetime: ...
@overload
def _earliest(*values: datetime | None) -> datetime | None: ...


def _earliest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


@overload
def _latest(*values: datetime) -> datetime: ...
@overload
def _latest(*values: datetime | None) -> datetime | None: ...


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


async def merge_outreach_rows(session: AsyncSession, from_id: int, to_id: int) -> None:
    """Re-home events, campaign membership and the summary of `from_id` onto `to_id`."""
    await session.execute(
        update(OutreachEvent).where(OutreachEvent.customer_id == from_id).values(customer_id=to_id)
    )
    # One membership per campaign: where both were targeted, the backend's record stays.
    both = select(CampaignRecipient.campaign_id).where(CampaignRecipient.customer_id == to_id)
    await session.execute(
        delete(CampaignRecipient).where(
            CampaignRecipient.customer_id == from_id, CampaignRecipient.campaign_id.in_(both)
        )
    )
    await session.execute(
        update(CampaignRecipient).where(CampaignRecipient.customer_id == from_id).values(customer_id=to_id)
    )
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.customer_id == from_id).values(customer_id=to_id)
    )
    source = await session.get(OutreachStats, from_id)
    target = await session.get(OutreachStats, to_id)
    if source is not None and target is None:
        await session.flush()
        await session.execute(
            update(OutreachStats).where(OutreachStats.customer_id == from_id).values(customer_id=to_id)
        )
        session.expunge(source)
    elif source is not None and target is not None:
        _combine(source, target)
        await session.delete(source)
        await session.flush()
    # The loyalty hook moved the orders already (the root lists it first): recount them.
    await refresh_purchases(session, customer_ids=[to_id])


def _combine(source: OutreachStats, target: OutreachStats) -> None:
    target.first_active_at = _earliest(source.first_active_at, target.first_active_at)
    target.last_active_at = _latest(source.last_active_at, target.last_active_at)
    target.last_engaged_at = _latest(source.last_engaged_at, target.last_engaged_at)
    target.tenure_days = max(
        0, (target.last_engaged_at - target.first_active_at).days if target.first_active_at else 0
    )
    for name in (
        "last_product",
        "subscription_status",
        "subscription_started_at",
        "subscription_expires_at",
        "subscription_cancelled_at",
        "cart",
    ):
        if getattr(target, name) is None:
            setattr(target, name, getattr(source, name))
    target.cart_abandoned_at = _latest(source.cart_abandoned_at, target.cart_abandoned_at)
