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
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import customers as customer_svc
from core.clock import Clock, zone
from core.contact_policy import IN_FLIGHT_DELAY, in_flight, last_contacts, lock_customers, refusal
from core.delivery import outgoing, queue
from core.delivery.wake import wake
from core.outreach import templates, webhooks
from core.outreach.rules import OutreachRules, Window, next_allowed, retry_delay
from core.outreach.sequences import stop
from core.outreach.variables import balances, values_for
from storage.dialect import is_postgres
from storage.models import ContactLog, Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage, OutreachStats

log = logging.getLogger(__name__)

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


_TABLE = cast(Table, OutboxMessage.__table__)
_RECIPIENTS = cast(Table, CampaignRecipient.__table__)
STATS_VARIABLES = {"tier", "last_product", "days_since_last_order", "expires_on", "cart_items"}
Ob = OutboxMessage


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
                status="claimed", claimed_at=now, chat_id=b("b_chat"), text=b("b_text"), lane=b("b_lane"),
                owner=owner, lease_until=now + lease,
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
    """Record what Telegram answered; schedule retries; end sequences that cannot continue.

    Deliveries (nearly all answers) are written set-wise; the rarer failures and retries go
    through the ORM, one row at a time.
    """
    now = clock.now()
    outcome: Counter[str] = Counter()
    t, rt = _TABLE, _RECIPIENTS
    rows = {
        r.id: r
        for r in (
            await session.execute(
                select(
                    t.c.id, t.c.status, t.c.campaign_id, t.c.recipient_id, t.c.customer_id, t.c.step
                ).where(t.c.id.in_({r.outbox_id for r in results}))
            )
        ).all()
    }
    live = [res for res in results if res.outbox_id in rows and rows[res.outbox_id].status == "inflight"]
    if not live:
        return outcome
    campaigns = await _by_id(session, Campaign, {rows[r.outbox_id].campaign_id for r in live})
    hooked = {
        rows[r.outbox_id].customer_id for r in live if campaigns[rows[r.outbox_id].campaign_id].webhook_url
    }
    external: dict[int, str | None] = {}
    if hooked:
        external = dict(
            (
                await session.execute(
                    select(Customer.id, Customer.external_id).where(Customer.id.in_(hooked))
                )
            ).all()
        )

    def who(row: Any) -> dict[str, Any]:
        return {
            "recipient_id": row.recipient_id,
            "customer_id": row.customer_id,
            "external_id": external.get(row.customer_id),
            "step": row.step + 1,
        }

    delivered = [res for res in live if res.outcome == "sent"]
    if delivered:
        b = bindparam
        await session.execute(
            t.update()
            .where(t.c.id == b("b_id"))
            .values(status="sent", sent_at=now, telegram_message_id=b("b_mid"), error_code=None, error=None),
            [{"b_id": res.outbox_id, "b_mid": res.message_id} for res in delivered],
        )
        # The sequence moves on to its next step, unless it ended meanwhile (a reply, a purchase).
        advance = []
        for res in delivered:
            row = rows[res.outbox_id]
            steps = campaigns[row.campaign_id].steps
            last = row.step + 1 >= len(steps)
            advance.append(
                {
                    "b_id": row.recipient_id,
                    "b_step": row.step,
                    "b_status": "done" if last else "active",
                    "b_next_step": row.step if last else row.step + 1,
                    "b_next_at": None
                    if last
                    else now + timedelta(seconds=steps[row.step + 1]["delay_seconds"]),
                }
            )
        here = (rt.c.status == "queued") & (rt.c.step == b("b_step"))
        await session.execute(
            rt.update()
            .where(rt.c.id == b("b_id"))
            .values(
                sent_steps=rt.c.sent_steps + 1,
                first_sent_at=func.coalesce(rt.c.first_sent_at, now),
                last_sent_at=now,
                status=case((here, b("b_status")), else_=rt.c.status),
                step=case((here, b("b_next_step")), else_=rt.c.step),
                next_at=case((here, b("b_next_at")), else_=rt.c.next_at),
            ),
            advance,
        )
        for res in delivered:
            row = rows[res.outbox_id]
            webhooks.enqueue(
                session,
                campaign=campaigns[row.campaign_id],
                event="sent",
                now=now,
                data={**who(row), "message_id": res.message_id},
            )
        outcome["sent"] += len(delivered)

    problems = [res for res in live if res.outcome != "sent"]
    if problems:
        orm_rows = await _by_id(session, OutboxMessage, {r.outbox_id for r in problems})
        recipients = await _by_id(session, CampaignRecipient, {r.recipient_id for r in orm_rows.values()})
        for res in problems:
            row = orm_rows[res.outbox_id]
            campaign, recipient = campaigns[row.campaign_id], recipients[row.recipient_id]
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
            if res.outcome == "retry" and not code.endswith("_max_attempts"):
                code = f"{code}_max_attempts"
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
                data={**who(row), "error_code": code, "error": row.error},
            )
    await session.flush()
    return outcome


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


# ------------------------------------------------------------------ the worker's view


class CampaignSource:
    """Campaign messages as one kind of traffic for the delivery worker (core.delivery)."""

    kind = "campaign"
    queue = QUEUE

    def __init__(self, *, clock: Clock, rules: OutreachRules) -> None:
        self.clock, self.rules = clock, rules

    async def claim(self, session: AsyncSession, *, owner: str, limit: int) -> outgoing.Claimed:
        got = await claim(session, clock=self.clock, rules=self.rules, limit=limit, owner=owner)
        ready = [
            outgoing.Outgoing(
                kind=self.kind, id=o.outbox_id, chat_id=o.chat_id, customer_id=o.customer_id,
                language=o.language, lane="paid" if o.paid else "campaign",
                data={"text": o.text, "buttons": o.buttons, "recipient_id": o.recipient_id},
            )
            for o in got.ready
        ]
        return outgoing.Claimed(ready, got.skipped, got.deferred, got.examined)

    async def wire(self, session: AsyncSession, ids: list[int], *, owner: str) -> set[int]:
        return await mark_inflight(session, ids=ids, owner=owner)

    async def complete(self, session: AsyncSession, results: list[outgoing.Result]) -> Counter[str]:
        return await complete(
            session, clock=self.clock, rules=self.rules,
            results=[
                Result(r.id, r.outcome, message_id=r.message_id, error_code=r.error_code, error=r.error,
                       retry_after=r.retry_after)
                for r in results
            ],
        )

    async def release(self, session: AsyncSession, items: list[tuple[int, datetime]]) -> None:
        await release(session, items=items)

    async def recover(self, session: AsyncSession, *, everything: bool) -> tuple[int, int]:
        return await recover(session, clock=self.clock, everything=everything)
