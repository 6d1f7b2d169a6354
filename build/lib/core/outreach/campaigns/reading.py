"""Reading campaigns back: one with its delivery and conversion figures, a page, its recipients."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.metrics import uplift
from core.outreach.campaigns.control import _campaign
from core.outreach.campaigns.views import CampaignStats, CampaignView, StepStats, _view
from core.outreach.sequences import IN_PROGRESS
from storage.models import Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage


async def get_campaign(
    session: AsyncSession, *, clock: Clock, campaign_id: int, with_stats: bool = True
) -> CampaignView:
    """The campaign and, by default, its delivery and conversion figures."""
    row = await _campaign(session, campaign_id)
    return _view(row, await campaign_stats(session, campaign=row, now=clock.now()) if with_stats else None)


async def list_campaigns(
    session: AsyncSession, *, limit: int = 50, after_id: int = 0, status: str | None = None
) -> list[CampaignView]:
    stmt = select(Campaign).where(Campaign.id > after_id).order_by(Campaign.id).limit(limit)
    if status:
        stmt = stmt.where(Campaign.status == status)
    return [_view(r) for r in (await session.execute(stmt)).scalars()]


async def campaign_stats(session: AsyncSession, *, campaign: Campaign, now: datetime) -> CampaignStats:
    """Targeted, held out, queued, sent, failed and skipped by reason, replies, conversions, uplift."""
    R, Ob = CampaignRecipient, OutboxMessage
    rec = (
        await session.execute(
            select(
                R.status,
                R.holdout,
                R.stop_reason,
                func.count(),
                func.count(R.replied_at),
                func.count(R.converted_at),
                func.count(R.first_sent_at),
            )
            .where(R.campaign_id == campaign.id)
            .group_by(R.status, R.holdout, R.stop_reason)
        )
    ).all()
    targeted = held = in_progress = replied = converted = holdout_converted = reached = 0
    stopped: Counter[str] = Counter()
    for status, holdout, reason, n, n_replied, n_conv, n_reached in rec:
        targeted += n
        reached += n_reached
        if holdout:
            held += n
            holdout_converted += n_conv
            continue
        converted += n_conv
        replied += n_replied
        if status in IN_PROGRESS:
            in_progress += n
        elif status not in ("done", "held_out"):
            stopped[reason or status] += n
    choices = {
        str(choice): int(n)
        for choice, n in (
            await session.execute(
                select(R.reply_choice, func.count())
                .where(R.campaign_id == campaign.id, R.reply_choice.is_not(None))
                .group_by(R.reply_choice)
            )
        ).all()
    }
    out = (
        await session.execute(
            select(
                Ob.step,
                Ob.status,
                Ob.error_code,
                func.count(),
                func.sum(case((Ob.not_before > now, 1), else_=0)),
                func.sum(
                    case((and_(Ob.status == "sent", Ob.sent_at >= now - timedelta(seconds=60)), 1), else_=0)
                ),
            )
            .where(Ob.campaign_id == campaign.id)
            .group_by(Ob.step, Ob.status, Ob.error_code)
        )
    ).all()
    per_step: dict[int, Counter[str]] = defaultdict(Counter)
    failed: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    deferred = recent = 0
    for step, status, code, n, later, last_minute in out:
        totals[status] += n
        per_step[step][status] += n
        recent += int(last_minute or 0)
        if status == "failed":
            failed[code or "unknown"] += n
        elif status == "skipped":
            skipped[code or "unknown"] += n
        elif status in ("queued", "held"):
            deferred += int(later or 0)
    treated = targeted - held
    up = uplift(converted, treated, holdout_converted, held)
    queued = totals["queued"] + totals["held"] + totals["claimed"]
    rate = recent / 60 if recent else None
    return CampaignStats(
        targeted=targeted,
        held_out=held,
        treated=treated,
        in_progress=in_progress,
        queued=queued,
        deferred=deferred,
        inflight=totals["inflight"],
        sent=totals["sent"],
        reached=reached,
        failed=dict(failed),
        skipped=dict(skipped),
        stopped=dict(stopped),
        uncertain=totals["uncertain"],
        cancelled=totals["cancelled"],
        replied=replied,
        reply_choices=choices,
        converted=converted,
        holdout_converted=holdout_converted,
        conversion_rate=up.treated_rate,
        holdout_conversion_rate=up.control_rate,
        uplift_pp=up.uplift,
        uplift_ci=(up.ci_low, up.ci_high) if up.ci_low is not None and up.ci_high is not None else None,
        steps=[
            StepStats(s, c["queued"] + c["held"] + c["claimed"], c["sent"], c["failed"], c["skipped"])
            for s, c in sorted(per_step.items())
        ],
        rate_per_second=rate,
        eta_seconds=(queued - deferred) / rate if rate else None,
        paid_sent=campaign.paid_sent,
    )


@dataclass(frozen=True, slots=True)
class RecipientView:
    id: int
    customer_id: int
    external_id: str | None
    holdout: bool
    status: str
    step: int
    sent_steps: int
    next_at: datetime | None
    stop_reason: str | None
    replied_at: datetime | None
    reply_choice: str | None
    converted_at: datetime | None


async def list_recipients(
    session: AsyncSession,
    *,
    campaign_id: int,
    status: str | None = None,
    limit: int = 100,
    after_id: int = 0,
) -> list[RecipientView]:
    await _campaign(session, campaign_id)
    R = CampaignRecipient
    stmt = (
        select(R, Customer.external_id)
        .join(Customer, Customer.id == R.customer_id)
        .where(R.campaign_id == campaign_id, R.id > after_id)
        .order_by(R.id)
        .limit(limit)
    )
    if status:
        stmt = stmt.where(R.status == status)
    return [
        RecipientView(
            r.id,
            r.customer_id,
            ext,
            r.holdout,
            r.status,
            r.step,
            r.sent_steps,
            r.next_at,
            r.stop_reason,
            r.replied_at,
            r.reply_choice,
            r.converted_at,
        )
        for r, ext in (await session.execute(stmt)).all()
    ]
