"""The scheduler's side: later steps queued when due, finished campaigns completed, progress."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.delivery.wake import wake
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage


async def schedule_due(session: AsyncSession, *, clock: Clock, limit: int = 5000) -> int:
    """Queue the next step of every sequence whose delay has passed (running campaigns only)."""
    now = clock.now()
    R = CampaignRecipient
    due = (
        await session.execute(
            select(R.id, R.campaign_id, R.customer_id, R.step)
            .join(Campaign, Campaign.id == R.campaign_id)
            .where(R.status == "active", R.next_at <= now, Campaign.status == "running")
            .order_by(R.next_at, R.id)
            .limit(limit)
        )
    ).all()
    if not due:
        return 0
    await session.execute(
        insert(OutboxMessage),
        [
            {
                "campaign_id": d.campaign_id,
                "recipient_id": d.id,
                "customer_id": d.customer_id,
                "step": d.step,
                "status": "queued",
                "not_before": now,
                "attempts": 0,
                "defer_count": 0,
                "created_at": now,
            }
            for d in due
        ],
    )
    await session.execute(update(R).where(R.id.in_([d.id for d in due])).values(status="queued"))
    wake(session, "outbox")
    return len(due)


async def finish_campaigns(session: AsyncSession, *, clock: Clock) -> list[int]:
    """Running campaigns with nothing left to send are completed."""
    now = clock.now()
    running = list((await session.execute(select(Campaign).where(Campaign.status == "running"))).scalars())
    done = []
    for c in running:
        if c.start_at > now:
            continue
        busy = await session.scalar(
            select(func.count())
            .select_from(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == c.id, CampaignRecipient.status.in_(("active", "queued")))
        )
        pending = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.campaign_id == c.id,
                OutboxMessage.status.in_(("queued", "held", "claimed", "inflight")),
            )
        )
        if not busy and not pending:
            c.status, c.completed_at, c.updated_at = "completed", now, now
            done.append(c.id)
    await session.flush()
    return done


async def next_step_due(session: AsyncSession) -> datetime | None:
    """When the next sequence step falls due (None: nothing waits); the scheduler sleeps till then."""
    return await session.scalar(
        select(func.min(CampaignRecipient.next_at))
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(CampaignRecipient.status == "active", Campaign.status == "running")
    )


@dataclass(frozen=True, slots=True)
class Progress:
    campaign_id: int
    name: str
    sent: int
    total: int
    failed: int
    skipped: int
    waiting: int


async def progress(session: AsyncSession) -> list[Progress]:
    """Per running campaign: messages sent so far out of those queued or done."""
    Ob = OutboxMessage
    rows = (
        await session.execute(
            select(Campaign.id, Campaign.name, Ob.status, func.count())
            .join(Ob, Ob.campaign_id == Campaign.id)
            .where(Campaign.status == "running")
            .group_by(Campaign.id, Campaign.name, Ob.status)
        )
    ).all()
    by: dict[int, tuple[str, Counter[str]]] = {}
    for cid, name, status, n in rows:
        by.setdefault(cid, (name, Counter()))[1][status] += n
    return [
        Progress(
            cid,
            name,
            c["sent"],
            sum(c.values()) - c["cancelled"],
            c["failed"],
            c["skipped"],
            c["queued"] + c["claimed"] + c["inflight"] + c["held"],
        )
        for cid, (name, c) in sorted(by.items())
    ]
