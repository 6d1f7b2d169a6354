"""Creating a campaign: its audience, a stable holdout, and step 1 queued for everyone else."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.delivery import wake
from core.errors import Conflict, Invalid, NotFound
from core.outreach import segments
from core.outreach.campaigns.plan import CampaignInput, _invalid, plan
from core.outreach.campaigns.views import CampaignView, _view
from core.outreach.rules import OutreachRules, in_holdout
from storage.models import Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage, OutreachStats

INSERT_CHUNK = 5_000

_MISSING = {
    "name": and_(Customer.first_name.is_(None), Customer.username.is_(None)),
    "last_product": OutreachStats.last_product.is_(None),
    "days_since_last_order": OutreachStats.last_purchase_at.is_(None),
    "expires_on": OutreachStats.subscription_expires_at.is_(None),
    "cart_items": OutreachStats.cart.is_(None),
}


async def _missing_data(session: AsyncSession, need: set[str], ids: Any) -> dict[str, int]:
    """For each variable without a fallback: how many recipients have no value for it."""
    out = {}
    for name in sorted(need):
        n = await session.scalar(
            select(func.count())
            .select_from(Customer)
            .outerjoin(OutreachStats, OutreachStats.customer_id == Customer.id)
            .where(Customer.id.in_(ids), _MISSING[name])
        )
        if n:
            out[name] = int(n)
    return out


def _missing_error(missing: dict[str, int], of: int) -> Invalid:
    name, n = next(iter(missing.items()))
    return _invalid(
        f"{{{name}}} has no value for {n} of {of} recipients; give it a fallback, e.g. {{{name}|...}}",
        "template_variable_missing",
        missing=missing,
        recipients=of,
    )


async def resolve_customers(session: AsyncSession, *, external_ids: list[str]) -> list[int]:
    """Internal ids for your ids, in order; 404 lists the ones not known."""
    rows = dict(
        (
            await session.execute(
                select(Customer.external_id, Customer.id).where(
                    Customer.external_id.in_(external_ids), Customer.erased_at.is_(None)
                )
            )
        ).all()
    )
    unknown = [e for e in external_ids if e not in rows]
    if unknown:
        raise NotFound(
            f"{len(unknown)} customer(s) not found",
            code="customer_not_found",
            details={"external_ids": unknown[:50]},
        )
    return [int(rows[e]) for e in external_ids]


def holdout_salt(idempotency_key: str | None) -> str:
    """Random per campaign; derived from the idempotency key when there is one, so the same
    request always splits the audience the same way."""
    if idempotency_key:
        return hashlib.sha256(b"holdout:" + idempotency_key.encode()).hexdigest()[:16]
    return secrets.token_hex(8)


async def _existing(session: AsyncSession, key: str, fingerprint: str) -> CampaignView | None:
    row = (
        await session.execute(select(Campaign).where(Campaign.idempotency_key == key))
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict(
            "this idempotency key was already used with a different request",
            code="idempotency_conflict",
            details={"idempotency_key": key, "campaign_id": row.id},
        )
    return _view(row)


async def create_campaign(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: OutreachRules,
    inp: CampaignInput,
    idempotency_key: str | None = None,
) -> tuple[CampaignView, bool]:
    """Create the campaign, pick its audience and queue step 1; returns (campaign, created).

    The same idempotency key with the same request returns the first campaign; with another
    request it is a conflict.
    """
    fingerprint = inp.fingerprint()
    if idempotency_key:
        found = await _existing(session, idempotency_key, fingerprint)
        if found is not None:
            return found, False
    p = plan(inp, rules=rules)
    now = clock.now()
    start = max(inp.start_at or now, now)
    row = Campaign(
        name=p.name,
        kind=p.kind,
        playbook=p.playbook,
        status="running",
        segment=p.segment.to_dict() if p.segment else None,
        steps=p.steps,
        rules=p.rules,
        default_language=p.default_language,
        holdout_share=p.holdout,
        holdout_salt=holdout_salt(idempotency_key),
        paid_broadcast=p.paid_max_messages > 0,
        paid_max_messages=p.paid_max_messages,
        paid_sent=0,
        webhook_url=p.webhook_url,
        webhook_secret=p.webhook_secret,
        webhook_events=p.webhook_events,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        targeted=0,
        start_at=start,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same key at the same moment
        assert idempotency_key is not None
        found = await _existing(session, idempotency_key, fingerprint)
        assert found is not None
        return found, False

    first_at = start + timedelta(seconds=p.steps[0]["delay_seconds"])
    row.start_at = first_at
    immediate = first_at <= now
    targeted = 0
    if p.customer_ids is not None:
        known = set(
            (
                await session.execute(
                    select(Customer.id).where(Customer.id.in_(p.customer_ids), Customer.erased_at.is_(None))
                )
            ).scalars()
        )
        missing = [c for c in p.customer_ids if c not in known]
        if missing:
            raise NotFound(
                f"{len(missing)} customer(s) not found",
                code="customer_not_found",
                details={"customer_ids": missing[:50]},
            )
        targeted = await _add_recipients(session, row, list(p.customer_ids), now=now, immediate=immediate)
    else:
        assert p.segment is not None
        async for ids in segments.iter_ids(
            session, p.segment, now=now, rules=rules, default_language=p.default_language
        ):
            targeted += await _add_recipients(session, row, ids, now=now, immediate=immediate)
    row.targeted = targeted
    need = p.needs_data
    if need:
        treated = select(CampaignRecipient.customer_id).where(
            CampaignRecipient.campaign_id == row.id, CampaignRecipient.holdout.is_(False)
        )
        missing_vars = await _missing_data(session, need, treated)
        if missing_vars:
            raise _missing_error(missing_vars, targeted)
    if immediate:
        await _queue_first_step(session, row, now)
    await session.flush()
    return _view(row), True


async def _add_recipients(
    session: AsyncSession, campaign: Campaign, ids: list[int], *, now: datetime, immediate: bool
) -> int:
    rows = []
    for cid in ids:
        held = in_holdout(campaign.holdout_salt, cid, campaign.holdout_share)
        rows.append(
            {
                "campaign_id": campaign.id,
                "customer_id": cid,
                "holdout": held,
                "status": "held_out" if held else ("queued" if immediate else "active"),
                "step": 0,
                "next_at": None if held else campaign.start_at,
                "targeted_at": now,
                "sent_steps": 0,
            }
        )
    for start in range(0, len(rows), INSERT_CHUNK):
        await session.execute(insert(CampaignRecipient), rows[start : start + INSERT_CHUNK])
    return len(rows)


async def _queue_first_step(session: AsyncSession, campaign: Campaign, now: datetime) -> None:
    """Step 1 for every treated recipient in one INSERT ... SELECT (best prospects first)."""
    R = CampaignRecipient
    await session.execute(
        insert(OutboxMessage).from_select(
            [
                "campaign_id",
                "recipient_id",
                "customer_id",
                "step",
                "status",
                "not_before",
                "attempts",
                "defer_count",
                "created_at",
            ],
            select(
                literal(campaign.id),
                R.id,
                R.customer_id,
                literal(0),
                literal("queued"),
                literal(now, OutboxMessage.not_before.type),
                literal(0),
                literal(0),
                literal(now, OutboxMessage.created_at.type),
            )
            .where(R.campaign_id == campaign.id, R.status == "queued")
            .order_by(R.id),
        )
    )
    wake(session, "outbox")  # the delivery worker starts when this commits
