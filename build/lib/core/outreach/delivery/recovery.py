"""What a dead worker left: claimed rows back to the queue, in-flight rows uncertain."""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.outreach.delivery.common import Ob, _by_id, _release
from core.outreach.delivery.completion import _advance
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage

log = logging.getLogger(__name__)


async def recover(session: AsyncSession, *, clock: Clock, everything: bool = True) -> tuple[int, int]:
    """What a dead worker left: `claimed` rows go back to the queue; `inflight` rows become
    `uncertain`. With `everything=False` (several processes) only rows whose lease expired.

    An uncertain message is treated as sent for the sequence (the next step keeps its
    rhythm) and keeps its contact-budget entry; it is never sent again.
    """
    now = clock.now()
    stale = [] if everything else [or_(Ob.lease_until.is_(None), Ob.lease_until < now)]
    claimed = list(
        (
            await session.execute(select(OutboxMessage).where(OutboxMessage.status == "claimed", *stale))
        ).scalars()
    )
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in claimed})
    for row in claimed:
        await _release(session, row, campaigns.get(row.campaign_id))
        row.status, row.owner, row.lease_until = "queued", None, None
    inflight = list(
        (
            await session.execute(select(OutboxMessage).where(OutboxMessage.status == "inflight", *stale))
        ).scalars()
    )
    recipients = await _by_id(session, CampaignRecipient, {r.recipient_id for r in inflight})
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in inflight})
    for row in inflight:
        row.status, row.error_code, row.owner, row.lease_until = "uncertain", "uncertain", None, None
        row.error = "in flight when the process stopped; not repeated"
        _advance(recipients[row.recipient_id], campaigns[row.campaign_id], row.step, now)
    if inflight:
        log.warning(
            "outbox: %d message(s) were in flight when the process stopped; they may or may "
            "not have been delivered and are not repeated (status 'uncertain')",
            len(inflight),
        )
    await session.flush()
    return len(claimed), len(inflight)
