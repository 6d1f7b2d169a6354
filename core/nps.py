"""NPS surveys: who may be asked, scheduling, answers, the detractor alert and the report.

A survey is a row: the API (or a job) schedules it, the engagement worker sends it when the
customer may be contacted, the customer's taps and words fill it in. Throttles: nobody is asked
again within `answered_cooldown` of answering or `ignored_cooldown` of ignoring one; a survey is
a proactive message (opt-in, reachability and the weekly budget apply, and it is counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import delivery, idempotency, support
from core.clock import Clock
from core.contact_policy import block, last_contacts, lock_customers, record_contact
from core.customers import CustomerView
from core.delivery import QueueTable
from core.errors import Invalid, NotFound
from core.loyalty import customer_tiers, purchase_stats
from core.loyalty_notices import PROACTIVE, claim_recipient
from core.loyalty_rules import (
    DETRACTOR,
    PASSIVE,
    PROMOTER,
    TIERS,
    LoyaltyRules,
    NpsRules,
    SurveyHistory,
    nps_category,
    nps_value,
    percent,
    survey_throttle,
)
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
        id=row.id, customer_id=row.customer_id, trigger=row.trigger, status=row.status,
        skip_reason=row.skip_reason, score=row.score, category=row.category, comment=row.comment,
        tier=row.tier, sent_at=row.sent_at, answered_at=row.answered_at,
        completed_at=row.completed_at, created_at=row.created_at,
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
                session.add(Survey(customer_id=customer.id, request_id=request_id, trigger=trigger,
                                   trigger_ref=trigger_ref, status="skipped", skip_reason=reason,
                                   not_before=now, created_at=now))
            continue
        session.add(Survey(customer_id=customer.id, request_id=request_id, trigger=trigger,
                           trigger_ref=trigger_ref, status="scheduled", not_before=not_before,
                           send_deadline=deadline, created_at=now))
        result.scheduled += 1
    if result.scheduled:
        delivery.wake(session, "engagement")
    await session.flush()
    return result


async def segment_customers(
    session: AsyncSession, *, loyalty_rules: LoyaltyRules, segment: str
) -> list[Customer]:
    """Customers in a segment: all, buyers (1+ order) or a tier."""
    if segment not in SEGMENTS:
        raise Invalid(f"unknown segment {segment!r}", code="unknown_segment",
                      details={"allowed": list(SEGMENTS)})
    rows = list(
        (await session.execute(select(Customer).where(Customer.erased_at.is_(None)).order_by(Customer.id)))
        .scalars()
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
        targets = await segment_customers(session, loyalty_rules=loyalty_rules, segment=segment)
    else:
        assert external_ids is not None
        wanted = list(dict.fromkeys(external_ids))
        found = {
            c.external_id: c
            for c in (await session.execute(select(Customer).where(Customer.external_id.in_(wanted))))
            .scalars()
        }
        targets = []
        for ext in wanted:
            if ext in found:
                targets.append(found[ext])
            else:
                result.requested += 1
                result.skip("not_found", ext, None)
    await schedule(session, clock=clock, rules=rules, cap=cap, customers=targets, trigger="api",
                   trigger_ref=idempotency_key[:128], request_id=request.id, delay=delay, result=result)
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
            .where(SupportCase.status == "closed", SupportCase.closed_at <= due_before,
                   SupportCase.closed_at > lookback)
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
        res = await schedule(session, clock=clock, rules=rules, cap=cap, customers=[customer],
                             trigger="support_case", trigger_ref=str(case_id), record_skips=True)
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
        res = await schedule(session, clock=clock, rules=rules, cap=cap, customers=[customer],
                             trigger="first_purchase", record_skips=True)
        count += res.scheduled
    return count


# ------------------------------------------------------------------ sending


@dataclass(frozen=True, slots=True)
class OutgoingSurvey:
    id: int
    customer: CustomerView
    trigger: str


async def claim_surveys(
    session: AsyncSession, *, clock: Clock, rules: NpsRules, cap: timedelta, limit: int = 20,
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
        customer = await claim_recipient(session, row, now=now, cap=cap, policy=PROACTIVE,
                                         deadline=row.send_deadline, late_reason="contact_budget",
                                         queue=QUEUE, owner=owner)
        if customer is not None:
            out.append(OutgoingSurvey(row.id, customer, row.trigger))
    await session.flush()
    return out


async def survey_sent(
    session: AsyncSession, *, clock: Clock, rules: NpsRules, survey_id: int, chat_id: int,
    message_id: int | None, proactive: bool = True,
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
        {"status": "scheduled", "not_before": retry_at} if retry_at else
        {"status": "failed", "skip_reason": reason[:32]}
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
        session, QUEUE, now=now, everything=everything,
        lost={"status": "sent", "sent_at": now, "expires_at": now + rules.answer_window}, lost_rows=gone,
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


# ------------------------------------------------------------------ answers


@dataclass(frozen=True, slots=True)
class ScoreResult:
    survey_id: int
    score: int
    category: str
    already: bool  # the survey had been answered before; the first answer stands


async def _own(session: AsyncSession, survey_id: int, customer_id: int) -> Survey:
    row = await session.get(Survey, survey_id)
    if row is None or row.customer_id != customer_id or row.status in ("skipped", "failed", "scheduled"):
        raise NotFound("survey not found", code="survey_not_found")
    return row


async def start_from_menu(
    session: AsyncSession, *, clock: Clock, rules: NpsRules, customer_id: int, chat_id: int
) -> SurveyView:
    """The customer chose to rate us: an unthrottled survey that is not a proactive message."""
    now = clock.now()
    row = Survey(customer_id=customer_id, trigger="menu", status="sent", not_before=now, sent_at=now,
                 expires_at=now + rules.answer_window, chat_id=chat_id, created_at=now)
    session.add(row)
    await session.flush()
    return _view(row)


async def record_score(
    session: AsyncSession, *, clock: Clock, loyalty_rules: LoyaltyRules, survey_id: int,
    customer_id: int, score: int,
) -> ScoreResult:
    """Store the 0-10 answer (the first one counts) with the customer's tier at that moment."""
    category = nps_category(score)
    row = await _own(session, survey_id, customer_id)
    if row.score is not None:
        return ScoreResult(row.id, row.score, row.category or nps_category(row.score), True)
    tier = (await customer_tiers(session, rules=loyalty_rules, customer_ids=[customer_id]))[customer_id]
    row.score, row.category, row.tier = score, category, tier
    row.status, row.answered_at = "answered", clock.now()
    await session.flush()
    return ScoreResult(row.id, score, category, False)


async def record_comment(
    session: AsyncSession, *, clock: Clock, survey_id: int, customer_id: int, comment: str | None
) -> tuple[SurveyView, bool]:
    """The answer to 'why?' (None: skipped). Returns (survey, whether this call completed it)."""
    row = await _own(session, survey_id, customer_id)
    if row.score is None:
        raise NotFound("survey not answered yet", code="survey_not_answered")
    if row.completed_at is not None:
        return _view(row), False
    row.comment = comment.strip()[:2000] if comment and comment.strip() else None
    row.completed_at = clock.now()
    await session.flush()
    return _view(row), True


async def get_survey(session: AsyncSession, *, survey_id: int) -> SurveyView:
    row = await session.get(Survey, survey_id)
    if row is None:
        raise NotFound("survey not found", code="survey_not_found")
    return _view(row)


async def last_response(session: AsyncSession, *, customer_id: int) -> SurveyView | None:
    """The customer's latest answered survey."""
    row = (
        await session.execute(
            select(Survey).where(Survey.customer_id == customer_id, Survey.score.is_not(None))
            .order_by(Survey.answered_at.desc()).limit(1)
        )
    ).scalar_one_or_none()
    return _view(row) if row else None


# ------------------------------------------------------------------ detractor alerts


async def alerts_due(session: AsyncSession, *, clock: Clock, rules: NpsRules) -> list[int]:
    """Detractor answers not yet shown to staff: completed, or left without a comment for a while."""
    cutoff = clock.now() - rules.alert_after
    rows = await session.execute(
        select(Survey.id).where(
            Survey.category == DETRACTOR, Survey.alerted_at.is_(None),
            (Survey.completed_at.is_not(None)) | (Survey.answered_at <= cutoff),
        )
    )
    return [int(i) for i in rows.scalars()]


async def queue_staff_alert(
    session: AsyncSession,
    *,
    clock: Clock,
    survey_id: int,
    group_chat_id: int | None,
    key: str,
    params: dict[str, Any],
) -> bool:
    """Post the detractor alert into the customer's staff topic, once; False if done before.

    Without a staff group the alert is only marked (and logged by the caller).
    """
    row = await session.get(Survey, survey_id)
    if row is None or row.alerted_at is not None:
        return False
    row.alerted_at = clock.now()
    if group_chat_id is not None:
        await support.queue_notice(
            session, clock=clock, customer_id=row.customer_id, group_chat_id=group_chat_id,
            case_id=None, key=key, priority=support.PRIORITY_CARD, **params,
        )
    await session.flush()
    return True


async def open_detractor_case(
    session: AsyncSession, *, clock: Clock, survey_id: int, customer_id: int, group_chat_id: int
) -> bool:
    """The detractor wants to talk: hand over to a person (True if a new case was opened)."""
    row = await _own(session, survey_id, customer_id)
    text = f"NPS {row.score}/10" + (f": {row.comment}" if row.comment else "")
    _, created = await support.open_case(
        session, clock=clock, customer_id=customer_id, group_chat_id=group_chat_id,
        origin="detractor", origin_text=text,
    )
    return created


# ------------------------------------------------------------------ report


@dataclass(frozen=True, slots=True)
class NpsBreakdown:
    key: str
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


@dataclass(frozen=True, slots=True)
class NpsReport:
    since: datetime | None
    until: datetime | None
    surveys_sent: int
    responses: int
    response_rate_percent: float
    promoters: int
    passives: int
    detractors: int
    promoters_percent: float
    passives_percent: float
    detractors_percent: float
    nps: float | None
    comments: int
    by_tier: list[NpsBreakdown]
    by_trigger: list[NpsBreakdown]


def _breakdown(key: str, cats: Counter[str]) -> NpsBreakdown:
    p, s, d = cats[PROMOTER], cats[PASSIVE], cats[DETRACTOR]
    return NpsBreakdown(key, p + s + d, p, s, d, nps_value(promoters=p, passives=s, detractors=d))


async def report(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tier: str | None = None,
    trigger: str | None = None,
) -> NpsReport:
    """NPS of the answers given in [since, until), overall and by tier and trigger."""
    stmt = select(Survey.category, Survey.tier, Survey.trigger, Survey.comment).where(
        Survey.score.is_not(None)
    )
    sent_stmt = select(func.count()).select_from(Survey).where(Survey.sent_at.is_not(None))
    if since is not None:
        stmt = stmt.where(Survey.answered_at >= since)
        sent_stmt = sent_stmt.where(Survey.sent_at >= since)
    if until is not None:
        stmt = stmt.where(Survey.answered_at < until)
        sent_stmt = sent_stmt.where(Survey.sent_at < until)
    if tier is not None:
        stmt = stmt.where(Survey.tier == tier)
        sent_stmt = sent_stmt.where(Survey.tier == tier)
    if trigger is not None:
        stmt = stmt.where(Survey.trigger == trigger)
        sent_stmt = sent_stmt.where(Survey.trigger == trigger)
    rows = (await session.execute(stmt)).all()
    total: Counter[str] = Counter()
    tiers: dict[str, Counter[str]] = {}
    triggers: dict[str, Counter[str]] = {}
    comments = 0
    for category, row_tier, row_trigger, comment in rows:
        cat = str(category)
        total[cat] += 1
        tiers.setdefault(row_tier or "unknown", Counter())[cat] += 1
        triggers.setdefault(row_trigger, Counter())[cat] += 1
        comments += 1 if comment else 0
    sent = int(await session.scalar(sent_stmt) or 0)
    overall = _breakdown("all", total)
    tier_order = {t: i for i, t in enumerate(reversed(TIERS))}
    return NpsReport(
        since=since, until=until, surveys_sent=sent, responses=overall.responses,
        response_rate_percent=percent(overall.responses, sent) if sent else 0.0,
        promoters=overall.promoters, passives=overall.passives, detractors=overall.detractors,
        promoters_percent=percent(overall.promoters, overall.responses),
        passives_percent=percent(overall.passives, overall.responses),
        detractors_percent=percent(overall.detractors, overall.responses),
        nps=overall.nps, comments=comments,
        by_tier=[
            _breakdown(k, v) for k, v in sorted(tiers.items(), key=lambda kv: tier_order.get(kv[0], 99))
        ],
        by_trigger=[_breakdown(k, v) for k, v in sorted(triggers.items())],
    )


@dataclass(frozen=True, slots=True)
class ResponseView:
    survey_id: int
    customer_id: int
    external_id: str | None
    score: int
    category: str
    comment: str | None
    tier: str | None
    trigger: str
    answered_at: datetime


async def responses(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    category: str | None = None,
    limit: int = 50,
    after_id: int = 0,
) -> tuple[list[ResponseView], int | None]:
    """Answers with their comments, oldest first (keyset paging by survey id)."""
    stmt = (
        select(Survey, Customer.external_id)
        .join(Customer, Customer.id == Survey.customer_id)
        .where(Survey.score.is_not(None), Survey.id > after_id)
        .order_by(Survey.id)
        .limit(limit + 1)
    )
    if since is not None:
        stmt = stmt.where(Survey.answered_at >= since)
    if until is not None:
        stmt = stmt.where(Survey.answered_at < until)
    if category is not None:
        stmt = stmt.where(Survey.category == category)
    rows = (await session.execute(stmt)).all()
    page = [
        ResponseView(s.id, s.customer_id, ext, int(s.score or 0), str(s.category), s.comment, s.tier,
                     s.trigger, s.answered_at or s.created_at)
        for s, ext in rows[:limit]
    ]
    return page, (page[-1].survey_id if len(rows) > limit else None)
