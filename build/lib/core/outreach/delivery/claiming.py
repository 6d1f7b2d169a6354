"""Claiming due messages (every send-time rule applied, the text rendered), marking them in
flight right before they leave, putting them back untouched."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, zone
from core.contact_policy import IN_FLIGHT_DELAY, in_flight, last_contacts, lock_customers, refusal
from core.delivery import queue
from core.outreach import templates
from core.outreach.delivery.common import (
    _RECIPIENTS,
    _TABLE,
    CONTACT_KIND,
    DEFAULT_LEASE,
    QUEUE,
    SAME_CUSTOMER_DELAY,
    ClaimResult,
    Ob,
    Outgoing,
    _by_id,
    _release,
    contact_ref,
)
from core.outreach.rules import OutreachRules, next_allowed
from core.outreach.variables import balances, values_for
from core.outreach.window import Window
from storage.dialect import is_postgres
from storage.models import ContactLog, Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage, OutreachStats


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


_CUSTOMER = (
    Customer.id,
    Customer.erased_at,
    Customer.telegram_id,
    Customer.opted_in,
    Customer.reachable,
    Customer.first_name,
    Customer.username,
    Customer.language,
    Customer.timezone,
)


async def _customers(session: AsyncSession, ids: set[int]) -> tuple[dict[int, Any], dict[int, datetime]]:
    """The columns the rules and templates need, and each customer's last proactive contact."""
    rows = {r.id: r for r in (await session.execute(select(*_CUSTOMER).where(Customer.id.in_(ids)))).all()}
    return rows, await last_contacts(session, ids)


STATS_VARIABLES = {"tier", "last_product", "days_since_last_order", "expires_on", "cart_items"}


async def claim(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: OutreachRules,
    limit: int,
    owner: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> ClaimResult:
    """Take up to `limit` due messages, apply every send-time rule, render the ready ones.

    Written with a few set-wise statements (no per-message round trip): at a thousand
    messages a second this is most of the database's work. Claimed rows carry the worker's
    lease (`owner`, `lease_until`); on PostgreSQL rows are locked with SKIP LOCKED, so two
    processes never claim the same message.
    """
    now = clock.now()
    result = ClaimResult()
    due = (
        select(Ob.id, Ob.campaign_id, Ob.recipient_id, Ob.customer_id, Ob.step)
        .where(Ob.status == "queued", Ob.not_before <= now)
        .order_by(Ob.not_before, Ob.id)
        .limit(limit)
    )
    if is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    rows = (await session.execute(due)).all()
    if not rows:
        return result
    result.examined = len(rows)
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in rows})
    recipients = {
        r.id: r
        for r in (
            await session.execute(
                select(CampaignRecipient.id, CampaignRecipient.status, CampaignRecipient.stop_reason).where(
                    CampaignRecipient.id.in_({r.recipient_id for r in rows})
                )
            )
        ).all()
    }
    ids = {r.customer_id for r in rows}
    await lock_customers(session, ids)  # several processes: one contact decision per person at a time
    customers, last = await _customers(session, ids)
    busy = await in_flight(session, ids, campaigns=False)  # a survey or notice on its way
    needed = {
        v.name
        for r in rows
        for source in campaigns[r.campaign_id].steps[r.step]["templates"].values()
        for v in _parsed(source).variables
    }
    stats: dict[int, Any] = {}
    if needed & STATS_VARIABLES:
        stats = {
            x.customer_id: x
            for x in (
                await session.execute(select(OutreachStats).where(OutreachStats.customer_id.in_(ids)))
            ).scalars()
        }
    points = await balances(session, customer_ids=list(ids), now=now) if "balance" in needed else {}

    claimed, skipped, deferred, dropped, stopped, contacts = [], [], [], [], [], []
    taken: set[int] = set()
    for row in rows:
        campaign, recipient = campaigns[row.campaign_id], recipients.get(row.recipient_id)
        if recipient is None or recipient.status != "queued":  # the sequence ended since
            dropped.append(
                {
                    "b_id": row.id,
                    "b_status": "cancelled",
                    "b_code": recipient.stop_reason or recipient.status if recipient else "gone",
                }
            )
            continue
        if campaign.status != "running":
            dropped.append(
                {
                    "b_id": row.id,
                    "b_status": "held" if campaign.status == "paused" else "cancelled",
                    "b_code": None,
                }
            )
            continue
        if row.customer_id in taken:  # one message per person per batch; the cap decides the next
            deferred.append(
                {"b_id": row.id, "b_at": now + SAME_CUSTOMER_DELAY, "b_why": "same_customer", "b_count": 0}
            )
            result.deferred["same_customer"] += 1
            continue
        if row.customer_id in busy:  # counted once sent; then the budget decides about this one
            deferred.append(
                {"b_id": row.id, "b_at": now + IN_FLIGHT_DELAY, "b_why": "contact_in_flight", "b_count": 0}
            )
            result.deferred["contact_in_flight"] += 1
            continue
        customer = customers.get(row.customer_id)
        reason = refusal(customer, last.get(row.customer_id), now=now, cap=rules.cap)
        if reason is not None:
            skipped.append({"b_id": row.id, "b_code": reason})
            stopped.append(
                {
                    "b_id": row.recipient_id,
                    "b_status": "opted_out" if reason == "opted_out" else "skipped",
                    "b_code": reason,
                }
            )
            result.skipped[reason] += 1
            continue
        assert customer is not None  # contact_policy.refusal refuses a missing customer
        tz = zone(customer.timezone, rules.default_timezone)
        quiet, window = _window(campaign.rules.get("quiet")), _window(campaign.rules.get("window"))
        later = next_allowed(now, tz=tz, quiet=quiet, window=window)
        if later is not None:
            local = now.astimezone(tz).time().replace(tzinfo=None)
            why = "quiet_hours" if quiet is not None and quiet.contains(local) else "send_window"
            deferred.append({"b_id": row.id, "b_at": later, "b_why": why, "b_count": 1})
            result.deferred[why] += 1
            continue
        step = campaign.steps[row.step]
        lang = customer.language or campaign.default_language
        source = step["templates"].get(lang) or step["templates"][campaign.default_language]
        text = _parsed(source).render(
            values_for(
                customer,
                stats.get(row.customer_id),
                now=now,
                rules=rules,
                balance=points.get(row.customer_id, 0),
                offer=step.get("offer"),
            )
        )
        paid = campaign.paid_broadcast and campaign.paid_sent < campaign.paid_max_messages
        if paid:
            campaign.paid_sent += 1
        claimed.append(
            {
                "b_id": row.id,
                "b_chat": customer.telegram_id,
                "b_text": text,
                "b_lane": "paid" if paid else "campaign",
            }
        )
        contacts.append(
            {"customer_id": row.customer_id, "kind": CONTACT_KIND, "ref": contact_ref(row.id), "sent_at": now}
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
    b = bindparam
    t, rt = _TABLE, _RECIPIENTS  # plain tables: executemany updates
    if claimed:
        await session.execute(
            t.update()
            .where(t.c.id == b("b_id"))
            .values(
                status="claimed",
                claimed_at=now,
                chat_id=b("b_chat"),
                text=b("b_text"),
                lane=b("b_lane"),
                owner=owner,
                lease_until=now + lease,
            ),
            claimed,
        )
        # The shared contact budget, reserved: the rows contact_policy.record_contact writes.
        await session.execute(insert(ContactLog), contacts)
    if skipped:
        await session.execute(
            t.update().where(t.c.id == b("b_id")).values(status="skipped", error_code=b("b_code")), skipped
        )
        await session.execute(
            rt.update()
            .where(rt.c.id == b("b_id"), or_(rt.c.status == "active", rt.c.status == "queued"))
            .values(status=b("b_status"), stop_reason=b("b_code"), next_at=None),
            stopped,
        )
    if deferred:
        await session.execute(
            t.update()
            .where(t.c.id == b("b_id"))
            .values(
                not_before=b("b_at"), defer_reason=b("b_why"), defer_count=t.c.defer_count + b("b_count")
            ),
            deferred,
        )
    if dropped:
        await session.execute(
            t.update().where(t.c.id == b("b_id")).values(status=b("b_status"), error_code=b("b_code")),
            dropped,
        )
    await session.flush()  # paid budget counters
    return result


async def mark_inflight(session: AsyncSession, *, ids: list[int], owner: str | None = None) -> set[int]:
    """Committed right before these requests leave: what a crash leaves here is uncertain.
    Returns the ids that were still this worker's claim (a row a recovering process took
    over after our lease ran out must not be sent by us)."""
    if owner is None:  # one process (tests, tools): whoever claimed it
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "claimed")
            .values(status="inflight", attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage.id)
        )
        return set(result.scalars().all())
    return await queue.mark_wire(session, QUEUE, ids, owner=owner)


async def release(session: AsyncSession, *, items: list[tuple[int, datetime]]) -> None:
    """Put claimed messages back in the queue untouched (a busy chat, a shutdown)."""
    rows = await _by_id(session, OutboxMessage, {i for i, _ in items})
    campaigns = await _by_id(session, Campaign, {r.campaign_id for r in rows.values()})
    for outbox_id, not_before in items:
        row = rows.get(outbox_id)
        if row is not None and row.status == "claimed":
            await _release(session, row, campaigns.get(row.campaign_id))
            row.status, row.not_before = "queued", not_before
