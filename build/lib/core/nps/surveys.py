"""NPS surveys: who may be asked (throttles), scheduling from the API, after support cases and
first purchases, and the send queue the delivery worker drives.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import delivery, idempotency
from core.clock import Clock
from core.contact_policy import block, last_contacts, lock_customers, record_contact
from core.customers import CustomerView
from core.delivery import QueueTable
from core.errors import Invalid
from core.loyalty.notices import PROACTIVE, claim_recipient
from core.loyalty.queries import customer_tiers, purchase_stats
from core.loyalty.rules import TIERS, LoyaltyRules
from core.nps.rules import NpsRules, SurveyHistory, survey_throttle
from storage.models import Customer
from storage.models_loyalty import Order, Survey
from storage.models_support import SupportCase

SEGMENTS: tuple[str, ...] = ("all", "buyers", *TIERS)
TRIGGERS = ("api", "support_case", "first_purchase", "menu")
MAX_LISTED_SKIPS = 100
# Statuses that say something about a customer's recent surveys (skipped/failed rows do not).
LIVE = ("scheduled", "claimed", "sending", "sent", "answered", "expired")
QUEUE = QueueTable("nps_surveys", Survey, queued="scheduled", wire="sending")


@dataclass(frozen=True, slots=True)
class SurveyView:
    id: int
    customer_id: int
    trigger: str
    status: str
    skip_reason: str | None
    score: int | None
    category: str | None
    comment: str | None
    tier: str | None
    sent_at: datetime | None
    answered_at: datetime | None
    completed_at: datetime | None
    created_at: datetime


def _view(row: Survey) -> SurveyView:
    return SurveyView(
        id=row.id,
        customer_id=row.customer_id,
        trigger=row.trigger,
        status=row.status,
        skip_reason=row.skip_reason,
        score=row.score,
        category=row.category,
        comment=row.comment,
        tier=row.tier,
        sent_at=row.sent_at,
        answered_at=row.answered_at,
        completed_at=row.completed_at,
        created_at=row.created_at,
    )


@dataclass
class TriggerResult:
    requested: int = 0
    scheduled: int = 0
    deferred: int = 0  # scheduled, but waiting for the weekly contact budget
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    skipped_customers: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, reason: str, external_id: str | None, customer_id: int | None) -> None:
        self.skipped += 1
        self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + 1
        if len(self.skipped_customers) < MAX_LISTED_SKIPS:
            self.skipped_customers.append(
                {"external_id": external_id, "customer_id": customer_id, "reason": reason}
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ eligibility


async def histories(
    session: AsyncSession, *, customer_ids: list[int], exclude_id: int | None = None
) -> dict[int, SurveyHistory]:
    """What throttling needs to know about each customer's surveys."""
    if not customer_ids:
        return {}
    stmt = select(Survey).where(Survey.customer_id.in_(customer_ids), Survey.status.in_(LIVE))
    if exclude_id is not None:
        stmt = stmt.where(Survey.id != exclude_id)
    acc: dict[int, dict[str, Any]] = {}
    for row in (await session.execute(stmt)).scalars():
        h = acc.setdefault(row.customer_id, {})
        if row.status in ("scheduled", "claimed", "sending"):
            h["scheduled"] = True
        if row.answered_at is not None:
            h["last_answered_at"] = max(filter(None, [h.get("last_answered_at"), row.answered_at]))
        elif row.sent_at is not None:
            if row.status == "sent" and row.expires_at is not None:
                h["open_until"] = max(filter(None, [h.get("open_until"), row.expires_at]))
            h["last_ignored_sent_at"] = max(filter(None, [h.get("last_ignored_sent_at"), row.sent_at]))
    return {cid: SurveyHistory(**values) for cid, values in acc.items()}


async def schedule(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: NpsRules,
    cap: timedelta,
    customers: list[Customer],
    trigger: str,
    trigger_ref: str | None = None,
    request_id: int | None = None,
    delay: timedelta = timedelta(0),
    record_skips: bool = False,
    result: TriggerResult | None = None,
) -> TriggerResult:
    """Schedule a survey for each customer who may be asked; count who may not, and why."""
    now = clock.now()
    result = result or TriggerResult()
    ids = [c.id for c in customers]
    hist = await histories(session, customer_ids=ids)
    last_contact = await last_contacts(session, ids) if ids else {}
    for customer in customers:
        result.requested += 1
        reason = block(customer) or survey_throttle(
            history=hist.get(customer.id, SurveyHistory()), now=now, rules=rules
        )
        not_before = now + delay
        deadline = not_before + rules.send_window
        if reason is None and customer.id in last_contact and cap > timedelta(0):
            free_at = last_contact[customer.id] + cap
            if free_at > deadline:
                reason = "contact_budget"
            elif free_at > not_before:
                not_before = free_at
                result.deferred += 1
        if reason is not None:
            result.skip(reason, customer.external_id, customer.id)
            if record_skips:
                session.add(
                    Survey(
                        customer_id=customer.id,
                        request_id=request_id,
                        trigger=trigger,
                        trigger_ref=trigger_ref,
                        status="skipped",
                        skip_reason=reason,
                        not_before=now,
                        created_at=now,
                    )
                )
            continue
        session.add(
            Survey(
                customer_id=customer.id,
                request_id=request_id,
                trigger=trigger,
                trigger_ref=trigger_ref,
                status="scheduled",
                not_before=not_before,
                send_deadline=deadline,
                created_at=now,
            )
        )
        result.scheduled += 1
    if result.scheduled:
        delivery.wake(session, "engagement")
    await session.flush()
    return result


async def _segment_customers(
    session: AsyncSession, *, loyalty_rules: LoyaltyRules, segment: str
) -> list[Customer]:
    """Customers in a segment: all, buyers (1+ order) or a tier. Rows, for `schedule` inside
    this module only (not a use case: core hands views out)."""
    if segment not in SEGMENTS:
        raise Invalid(
            f"unknown segment {segment!r}", code="unknown_segment", details={"allowed": list(SEGMENTS)}
        )
    rows = list(
        (
            await session.execute(select(Customer).where(Customer.erased_at.is_(None)).order_by(Customer.id))
        ).scalars()
    )
    if segment == "all":
        return rows
    if segment == "buyers":
        stats = await purchase_stats(session, customer_ids=[c.id for c in rows])
        return [c for c in rows if c.id in stats]
    tiers = await customer_tiers(session, rules=loyalty_rules, customer_ids=[c.id for c in rows])
    return [c for c in rows if tiers[c.id] == segment]


async def trigger_from_api(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: NpsRules,
    loyalty_rules: LoyaltyRules,
    cap: timedelta,
    idempotency_key: str,
    external_ids: list[str] | None = None,
    segment: str | None = None,
    delay: timedelta = timedelta(0),
) -> tuple[dict[str, Any], bool]:
    """Survey a list of customers or a segment, once per idempotency key; returns (result, replay)."""
    if (external_ids is None) == (segment is None):
        raise Invalid("give either external_ids or segment", code="invalid_audience")
    body = {"external_ids": external_ids, "segment": segment, "delay": delay.total_seconds()}
    request, stored = await idempotency.begin(
        session, clock=clock, kind="nps", key=idempotency_key, body=body
    )
    if stored is not None:
        return stored, True
    result = TriggerResult()
    if segment is not None:
        targets = await _segment_customers(session, loyalty_rules=loyalty_rules, segment=segment)
    else:
        assert external_ids is not None
        wanted = list(dict.fromkeys(external_ids))
        found = {
            c.external_id: c
            for c in (
                await session.execute(select(Customer).where(Customer.external_id.in_(wanted)))
            ).scalars()
        }
        targets = []
        for ext in wanted:
            if ext in found:
                targets.append(found[ext])
            else:
                result.requested += 1
                result.skip("not_found", ext, None)
    await schedule(
        session,
        clock=clock,
        rules=rules,
        cap=cap,
        customers=targets,
        trigger="api",
        trigger_ref=idempotency_key[:128],
        request_id=request.id,
        delay=delay,
        result=result,
    )
    answer = {"request_id": request.id, **result.as_dict()}
    await idempotency.finish(session, request=request, result=answer)
    return answer, False


# ------------------------------------------------------------------ automatic triggers


async def schedule_after_support_cases(
    session: AsyncSession, *, clock: Clock, rules: NpsRules, cap: timedelta
) -> int:
    """Survey customers some time after their support case closed (once per case)."""
    if rules.after_support_case is None:
        return 0
    now = clock.now()
    due_before = now - rules.after_support_case
    # Only recent closures: turning the trigger on must not survey last year's cases.
    lookback = due_before - timedelta(days=2)
    rows = (
        await session.execute(
            select(SupportCase.id, SupportCase.customer_id)
            .where(
                SupportCase.status == "closed",
                SupportCase.closed_at <= due_before,
                SupportCase.closed_at > lookback,
            )
            .order_by(SupportCase.id)
        )
    ).all()
    if not rows:
        return 0
    done = set(
        (
            await session.execute(
                select(Survey.trigger_ref).where(
                    Survey.trigger == "support_case",
                    Survey.trigger_ref.in_([str(case_id) for case_id, _ in rows]),
                )
            )
        ).scalars()
    )
    count = 0
    for case_id, customer_id in rows:
        if str(case_id) in done:
            continue
        customer = await session.get(Customer, customer_id)
        if customer is None:
            continue
        res = await schedule(
            session,
            clock=clock,
            rules=rules,
            cap=cap,
            customers=[customer],
            trigger="support_case",
            trigger_ref=str(case_id),
            record_skips=True,
        )
        count += res.scheduled
    return count


async def schedule_after_first_purchase(
    session: AsyncSession, *, clock: Clock, rules: NpsRules, cap: timedelta
) -> int:
    """Survey customers a configured time after their first purchase (once per customer)."""
    if rules.after_first_purchase is None:
        return 0
    now = clock.now()
    due_before = now - rules.after_first_purchase
    lookback = due_before - timedelta(days=7)
    firsts = (
        await session.execute(
            select(Order.customer_id, func.min(Order.placed_at))
            .where(Order.status.in_(("completed", "partially_refunded")))
            .group_by(Order.customer_id)
            .having(func.min(Order.placed_at) <= due_before, func.min(Order.placed_at) > lookback)
        )
    ).all()
    if not firsts:
        return 0
    already = set(
        (
            await session.execute(
                select(Survey.customer_id).where(
                    Survey.trigger == "first_purchase",
                    Survey.customer_id.in_([int(c) for c, _ in firsts]),
                )
            )
        ).scalars()
    )
    count = 0
    for customer_id, _ in firsts:
        if customer_id in already:
            continue
        customer = await session.get(Customer, customer_id)
        if customer is None:
            continue
        res = await schedule(
            session,
            clock=clock,
            rules=rules,
            cap=cap,
            customers=[customer],
            trigger="first_purchase",
            record_skips=True,
        )
        count += res.scheduled
    return count


# ------------------------------------------------------------------ sending


@dataclass(frozen=True, slots=True)
class OutgoingSurvey:
    id: int
    customer: CustomerView
    trigger: str


async def claim_surveys(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: NpsRules,
    cap: timedelta,
    limit: int = 20,
    owner: str = "",
) -> list[OutgoingSurvey]:
    """Due surveys that may go now (claimed by `owner`); the rest are deferred or skipped."""
    now = clock.now()
    rows = await delivery.lock_due(session, QUEUE, now=now, limit=limit)
    await lock_customers(session, [r.customer_id for r in rows])
    out: list[OutgoingSurvey] = []
    for row in rows:
        hist = (await histories(session, customer_ids=[row.customer_id], exclude_id=row.id)).get(
            row.customer_id, SurveyHistory()
        )
        reason = survey_throttle(history=hist, now=now, rules=rules)
        if reason is not None:
            row.status, row.skip_reason = "skipped", reason
            continue
        customer = await claim_recipient(
            session,
            row,
            now=now,
            cap=cap,
            policy=PROACTIVE,
            deadline=row.send_deadline,
            late_reason="contact_budget",
            queue=QUEUE,
            owner=owner,
        )
        if customer is not None:
            out.append(OutgoingSurvey(row.id, customer, row.trigger))
    await session.flush()
    return out


async def survey_sent(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: NpsRules,
    survey_id: int,
    chat_id: int,
    message_id: int | None,
    proactive: bool = True,
) -> None:
    """The question reached the customer: open the answer window and count the contact."""
    row = await session.get(Survey, survey_id)
    if row is None:
        return
    now = clock.now()
    row.status, row.sent_at, row.expires_at = "sent", now, now + rules.answer_window
    row.chat_id, row.message_id = chat_id, message_id
    row.owner, row.lease_until = None, None
    if proactive:
        await record_contact(session, customer_id=row.customer_id, kind="nps", ref=str(row.id), now=now)
    await session.flush()


async def survey_failed(
    session: AsyncSession, *, survey_id: int, reason: str, retry_at: datetime | None = None
) -> None:
    values: dict[str, Any] = (
        {"status": "scheduled", "not_before": retry_at}
        if retry_at
        else {"status": "failed", "skip_reason": reason[:32]}
    )
    await delivery.finish(session, QUEUE, [survey_id], **values)


async def recover_surveys(
    session: AsyncSession, *, clock: Clock, rules: NpsRules, everything: bool = True
) -> int:
    """What a dead worker left: claimed surveys go back to the schedule; ones on the wire may
    have arrived, so they count as sent (never ask twice)."""
    now = clock.now()
    gone: list[tuple[int, int]] = []
    _, lost = await delivery.recover(
        session,
        QUEUE,
        now=now,
        everything=everything,
        lost={"status": "sent", "sent_at": now, "expires_at": now + rules.answer_window},
        lost_rows=gone,
    )
    for survey_id, customer_id in gone:  # it probably arrived: it counts against the budget
        await record_contact(session, customer_id=customer_id, kind="nps", ref=str(survey_id), now=now)
    return lost


async def expire_surveys(session: AsyncSession, *, clock: Clock) -> int:
    """Sent surveys nobody answered in time are 'ignored' (that throttles the next one)."""
    result = await session.execute(
        update(Survey)
        .where(Survey.status == "sent", Survey.expires_at <= clock.now())
        .values(status="expired")
    )
    return int(getattr(result, "rowcount", 0) or 0)
