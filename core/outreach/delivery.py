"""The outbox state machine that the delivery worker drives.

    queued --claim--> claimed --token--> inflight --answer--> sent | failed | queued (retry)
       \\--> skipped (a send-time rule said no)     \\--> deferred: queued with a later not_before

`claimed` means "checked and rendered, waiting for a rate-limit token"; `inflight` is committed
right before the request leaves. After a crash, `claimed` rows go back to `queued` (they never
left) and `inflight` rows become `uncertain`: they may or may not have reached Telegram, which
has no way to ask, so they are reported and never repeated. At most the worker's concurrency
is inflight at any time, so that is the most a kill can leave uncertain.

The shared contact budget is reserved when a message is claimed (so two messages to one person
cannot both pass the cap) and given back if it is not delivered.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import customers as customer_svc
from core.clock import Clock
from core.contact_policy import record_contact
from core.outreach import templates, webhooks
from core.outreach.rules import OutreachRules, Window, next_allowed, retry_delay, zone
from core.outreach.sequences import stop
from core.outreach.variables import load, values_for
from storage.models import ContactLog, Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage

log = logging.getLogger(__name__)

CONTACT_KIND = "campaign"
UNREACHABLE_CODES = ("blocked", "deactivated", "not_started")
SAME_CUSTOMER_DELAY = timedelta(seconds=2)


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


@lru_cache(maxsize=256)
def _parsed(source: str) -> templates.Template:
    return templates.parse(source)


@lru_cache(maxsize=256)
def _window(text: str | None) -> Window | None:
    return Window.parse(text) if text else None


def _buttons(step: dict[str, Any], lang: str, default: str) -> tuple[dict[str, Any], ...]:
    out = []
    for b in step.get("buttons") or ():
        if b["kind"] == "exit_interview":
            out.append({"kind": "exit_interview"})
        else:
            label = b["text"].get(lang) or b["text"][default]
            out.append({**{k: v for k, v in b.items() if k != "text"}, "text": label})
    return tuple(out)


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


async def contact_refusals(
    session: AsyncSession, *, customer_ids: set[int], now: datetime, cap: timedelta
) -> dict[int, str | None]:
    """`core.contact_policy.may_contact` for a batch: why each customer may not get a proactive
    message now (None: they may), in two queries instead of one per message.

    The rules are the shared ones, in the same order with the same reasons;
    tests/integration/test_outbox_engine.py checks both agree on every case.
    """
    if not customer_ids:
        return {}
    rows = (
        await session.execute(
            select(
                Customer.id, Customer.erased_at, Customer.telegram_id, Customer.opted_in, Customer.reachable
            ).where(Customer.id.in_(customer_ids))
        )
    ).all()
    last = dict(
        (
            await session.execute(
                select(ContactLog.customer_id, func.max(ContactLog.sent_at))
                .where(ContactLog.customer_id.in_(customer_ids))
                .group_by(ContactLog.customer_id)
            )
        ).all()
    )
    out: dict[int, str | None] = {cid: "erased" for cid in customer_ids}
    for cid, erased_at, telegram_id, opted_in, reachable in rows:
        seen = last.get(cid)
        out[cid] = (
            "erased"
            if erased_at is not None
            else "no_telegram"
            if telegram_id is None
            else "opted_out"
            if not opted_in
            else "unreachable"
            if not reachable
            else "frequency_cap"
            if seen is not None and now - seen < cap
            else None
        )
    return out


async def claim(session: AsyncSession, *, clock: Clock, rules: OutreachRules, limit: int) -> ClaimResult:
    """Take up to `limit` due messages, apply every send-time rule, render the ready ones."""
    now = clock.now()
    result = ClaimResult()
    rows = list(
        (
            await session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.status == "queued", OutboxMessage.not_before <= now)
                .order_by(OutboxMessage.not_before, OutboxMessage.id)
                .limit(limit)
            )
        ).scalars()
    )
    if not rows:
        return result
    result.examined = len(rows)
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in rows})
    recipients = await _by_id(session, CampaignRecipient, {r.recipient_id for r in rows})
    need_balance = any(
        "{balance" in t for c in campaigns.values() for s in c.steps for t in s["templates"].values()
    )
    facts = await load(
        session, customer_ids={r.customer_id for r in rows}, now=now, rules=rules, need_balance=need_balance
    )
    refusals = await contact_refusals(
        session, customer_ids={r.customer_id for r in rows}, now=now, cap=rules.cap
    )
    taken: set[int] = set()
    with session.no_autoflush:  # one flush for the batch, not one per rule check
        for row in rows:
            await _claim_one(
                session,
                row,
                now=now,
                rules=rules,
                result=result,
                taken=taken,
                campaign=campaigns[row.campaign_id],
                recipient=recipients[row.recipient_id],
                facts=facts.get(row.customer_id),
                refusals=refusals,
            )
    await session.flush()
    return result


async def _claim_one(
    session: AsyncSession,
    row: OutboxMessage,
    *,
    now: datetime,
    rules: OutreachRules,
    result: ClaimResult,
    taken: set[int],
    campaign: Campaign,
    recipient: CampaignRecipient,
    facts: Any,
    refusals: dict[int, str | None],
) -> None:
    """Apply the send-time rules to one message; render it if it may go."""
    if recipient.status != "queued":  # stopped since it was queued
        row.status, row.error_code = "cancelled", recipient.stop_reason or recipient.status
        return
    if campaign.status != "running":
        row.status = "held" if campaign.status == "paused" else "cancelled"
        return
    if row.customer_id in taken:  # one message per person per batch; the cap decides next
        row.not_before = now + SAME_CUSTOMER_DELAY
        result.deferred["same_customer"] += 1
        return
    reason = refusals.get(row.customer_id, "erased")
    if reason is not None:
        row.status, row.error_code = "skipped", reason
        result.skipped[reason or "unknown"] += 1
        await stop(
            session,
            recipient=recipient,
            status="opted_out" if reason == "opted_out" else "skipped",
            reason=reason,
        )
        return
    assert facts is not None  # the customer exists: contact_refusals said so
    customer, stats, balance = facts
    tz = zone(customer.timezone, rules.default_timezone)
    quiet, window = _window(campaign.rules.get("quiet")), _window(campaign.rules.get("window"))
    later = next_allowed(now, tz=tz, quiet=quiet, window=window)
    if later is not None:
        local = now.astimezone(tz).time().replace(tzinfo=None)
        why = "quiet_hours" if quiet is not None and quiet.contains(local) else "send_window"
        row.not_before, row.defer_reason = later, why
        row.defer_count += 1
        result.deferred[why] += 1
        return
    step = campaign.steps[row.step]
    lang = customer.language or campaign.default_language
    source = step["templates"].get(lang) or step["templates"][campaign.default_language]
    text = _parsed(source).render(
        values_for(customer, stats, now=now, rules=rules, balance=balance, offer=step.get("offer"))
    )
    paid = campaign.paid_broadcast and campaign.paid_sent < campaign.paid_max_messages
    if paid:
        campaign.paid_sent += 1
    assert customer.telegram_id is not None  # the contact rules refused customers without one
    row.status, row.claimed_at, row.chat_id, row.text = "claimed", now, customer.telegram_id, text
    row.lane = "paid" if paid else "campaign"
    await record_contact(
        session, customer_id=row.customer_id, kind=CONTACT_KIND, ref=contact_ref(row.id), now=now
    )
    taken.add(row.customer_id)
    result.ready.append(
        Outgoing(
            outbox_id=row.id,
            campaign_id=row.campaign_id,
            recipient_id=row.recipient_id,
            customer_id=row.customer_id,
            step=row.step,
            chat_id=customer.telegram_id,
            language=lang,
            text=text,
            buttons=_buttons(step, lang, campaign.default_language),
            paid=paid,
        )
    )


async def mark_inflight(session: AsyncSession, *, ids: list[int]) -> None:
    """Committed right before these requests leave: what a crash leaves here is uncertain."""
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "claimed")
            .values(status="inflight", attempts=OutboxMessage.attempts + 1)
        )


async def release(session: AsyncSession, *, items: list[tuple[int, datetime]]) -> None:
    """Put claimed messages back in the queue untouched (a busy chat, a shutdown)."""
    rows = await _by_id(session, OutboxMessage, {i for i, _ in items})
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in rows.values()})
    for outbox_id, not_before in items:
        row = rows.get(outbox_id)
        if row is not None and row.status == "claimed":
            await _release(session, row, campaigns.get(row.campaign_id))
            row.status, row.not_before = "queued", not_before


def _advance(recipient: CampaignRecipient, campaign: Campaign, step: int, now: datetime) -> None:
    recipient.sent_steps += 1
    recipient.first_sent_at = recipient.first_sent_at or now
    recipient.last_sent_at = now
    if recipient.status != "queued" or recipient.step != step:
        return  # the sequence ended meanwhile (a reply, a purchase): keep that
    if step + 1 < len(campaign.steps):
        recipient.status, recipient.step = "active", step + 1
        recipient.next_at = now + timedelta(seconds=campaign.steps[step + 1]["delay_seconds"])
    else:
        recipient.status, recipient.next_at = "done", None


async def complete(
    session: AsyncSession, *, clock: Clock, rules: OutreachRules, results: list[Result]
) -> Counter[str]:
    """Record what Telegram answered; schedule retries; end sequences that cannot continue."""
    now = clock.now()
    outcome: Counter[str] = Counter()
    rows = await _by_id(session, OutboxMessage, {r.outbox_id for r in results})
    recipients = await _by_id(session, CampaignRecipient, {r.recipient_id for r in rows.values()})
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in rows.values()})
    hooked = {r.customer_id for r in rows.values() if campaigns[r.campaign_id].webhook_url}
    external: dict[int, str | None] = {}
    if hooked:
        external = dict(
            (
                await session.execute(
                    select(Customer.id, Customer.external_id).where(Customer.id.in_(hooked))
                )
            ).all()
        )
    for res in results:
        row = rows.get(res.outbox_id)
        if row is None or row.status != "inflight":
            continue
        campaign, recipient = campaigns[row.campaign_id], recipients[row.recipient_id]
        who = {
            "recipient_id": recipient.id,
            "customer_id": row.customer_id,
            "external_id": external.get(row.customer_id),
            "step": row.step + 1,
        }
        if res.outcome == "sent":
            row.status, row.sent_at, row.telegram_message_id = "sent", now, res.message_id
            row.error_code = row.error = None
            _advance(recipient, campaign, row.step, now)
            webhooks.enqueue(
                session, campaign=campaign, event="sent", now=now, data={**who, "message_id": res.message_id}
            )
            outcome["sent"] += 1
            continue
        await _release(session, row, campaign)
        row.error_code, row.error = res.error_code, (res.error or "")[:2000] or None
        if res.outcome == "retry" and row.attempts < rules.max_attempts:
            wait = max(
                res.retry_after or 0.0,
                retry_delay(row.attempts, base=rules.retry_base, maximum=rules.retry_max),
            )
            row.status, row.not_before = "queued", now + timedelta(seconds=wait)
            outcome["retry"] += 1
            continue
        code = res.error_code or "error"
        if res.outcome == "retry":
            code = f"{code}_max_attempts" if not code.endswith("_max_attempts") else code
        row.status, row.error_code = "failed", code
        outcome["failed"] += 1
        if recipient.status in ("queued", "active"):
            await stop(session, recipient=recipient, status="failed", reason=code)
        if code in UNREACHABLE_CODES and row.chat_id is not None:
            await customer_svc.set_reachable(
                session, clock=clock, telegram_id=row.chat_id, reachable=False, reason=code
            )
        webhooks.enqueue(
            session,
            campaign=campaign,
            event="failed",
            now=now,
            data={**who, "error_code": code, "error": row.error},
        )
    await session.flush()
    return outcome


async def recover(session: AsyncSession, *, clock: Clock) -> tuple[int, int]:
    """At start-up: `claimed` rows go back to the queue; `inflight` rows become `uncertain`.

    An uncertain message is treated as sent for the sequence (the next step keeps its
    rhythm) and keeps its contact-budget entry; it is never sent again.
    """
    now = clock.now()
    claimed = list(
        (await session.execute(select(OutboxMessage).where(OutboxMessage.status == "claimed"))).scalars()
    )
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in claimed})
    for row in claimed:
        await _release(session, row, campaigns.get(row.campaign_id))
        row.status = "queued"
    inflight = list(
        (await session.execute(select(OutboxMessage).where(OutboxMessage.status == "inflight"))).scalars()
    )
    recipients = await _by_id(session, CampaignRecipient, {r.recipient_id for r in inflight})
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in inflight})
    for row in inflight:
        row.status, row.error_code = "uncertain", "uncertain"
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
