"""Exit interviews: starting one (API, menu) and the customer's answers (reason, detail, may we
write, a break) with what each answer does. Sending them is `sending.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import delivery, idempotency, support
from core.clock import Clock, zone
from core.contact_policy import block
from core.customers import set_opt_in
from core.delivery import QueueTable
from core.errors import Invalid, NotFound
from core.exit_interview.promos import PromoView, _promo_view, assign_save_offer
from core.exit_interview.rules import (
    DETAIL_REASONS,
    HANDOVER_REASONS,
    MAX_BREAK,
    REASONS,
    ExitRules,
    break_until,
    feature_key,
)
from core.loyalty.notices import REQUESTED, queue_notice
from storage.models import Customer
from storage.models_loyalty import ExitInterview, FeatureRequest, PromoCode, ShippedFeature

# Statuses that say something about a customer's recent interviews; the send queue.
LIVE = ("scheduled", "claimed", "sending", "sent", "answered", "completed")
QUEUE = QueueTable("exit_interviews", ExitInterview, queued="scheduled", wire="sending")


@dataclass(frozen=True, slots=True)
class InterviewView:
    id: int
    customer_id: int
    source: str
    event: str | None
    status: str
    skip_reason: str | None
    reason: str | None
    detail: str | None
    may_write_again: bool | None
    break_until: date | None
    handed_over: bool
    sent_at: datetime | None
    answered_at: datetime | None
    created_at: datetime


def _view(row: ExitInterview) -> InterviewView:
    return InterviewView(
        id=row.id,
        customer_id=row.customer_id,
        source=row.source,
        event=row.event,
        status=row.status,
        skip_reason=row.skip_reason,
        reason=row.reason,
        detail=row.detail,
        may_write_again=row.may_write_again,
        break_until=row.break_until,
        handed_over=row.handed_over,
        sent_at=row.sent_at,
        answered_at=row.answered_at,
        created_at=row.created_at,
    )


# ------------------------------------------------------------------ starting


async def _recent_block(
    session: AsyncSession, customer_id: int, now: datetime, rules: ExitRules
) -> str | None:

    rows = (
        (
            await session.execute(
                select(ExitInterview).where(
                    ExitInterview.customer_id == customer_id,
                    ExitInterview.status.in_(LIVE),
                    ExitInterview.created_at > now - rules.recent,
                )
            )
        )
        .scalars()
        .all()
    )
    if any(r.status in ("scheduled", "claimed", "sending") for r in rows):
        return "already_scheduled"
    if rows:
        return "recently_interviewed"
    return None


async def request_from_api(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: ExitRules,
    idempotency_key: str,
    external_id: str,
    event: str,
) -> tuple[dict[str, Any], bool]:
    """An event (subscription cancelled, account closed...) asks the customer why; once per key."""
    request, stored = await idempotency.begin(
        session,
        clock=clock,
        kind="exit",
        key=idempotency_key,
        body={"external_id": external_id, "event": event},
    )
    if stored is not None:
        return stored, True
    now = clock.now()
    customer = (
        await session.execute(select(Customer).where(Customer.external_id == external_id))
    ).scalar_one_or_none()
    if customer is None:
        raise NotFound("customer not found", code="customer_not_found")
    reason = block(customer) or await _recent_block(session, customer.id, now, rules)
    row = ExitInterview(
        customer_id=customer.id,
        request_id=request.id,
        source="api",
        event=event,
        status="skipped" if reason else "scheduled",
        skip_reason=reason,
        not_before=now,
        send_deadline=now + rules.send_window,
        created_at=now,
    )
    session.add(row)
    if not reason:
        delivery.wake(session, "engagement")
    await session.flush()
    answer = {
        "request_id": request.id,
        "interview_id": row.id,
        "status": row.status,
        "skip_reason": reason,
        "event": event,
    }
    await idempotency.finish(session, request=request, result=answer)
    return answer, False


async def start_from_menu(
    session: AsyncSession, *, clock: Clock, customer_id: int, chat_id: int
) -> InterviewView:
    """The customer said they want to leave: ask why right away (not a proactive message)."""
    now = clock.now()
    row = ExitInterview(
        customer_id=customer_id,
        source="menu",
        status="sent",
        not_before=now,
        sent_at=now,
        chat_id=chat_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return _view(row)


# ------------------------------------------------------------------ answers


@dataclass(frozen=True, slots=True)
class ReasonOutcome:
    interview: InterviewView
    already: bool  # a reason had been given before; the first one stands
    offer: PromoView | None = None
    handed_over: bool = False  # this answer handed them to a person (answer_reason)


async def _own(session: AsyncSession, interview_id: int, customer_id: int) -> ExitInterview:
    row = await session.get(ExitInterview, interview_id)
    if row is None or row.customer_id != customer_id or row.status in ("skipped", "failed", "scheduled"):
        raise NotFound("interview not found", code="interview_not_found")
    return row


async def choose_reason(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: ExitRules,
    interview_id: int,
    customer_id: int,
    reason: str,
) -> ReasonOutcome:
    """Record why they leave; a price reason gets the save offer."""
    if reason not in REASONS:
        raise Invalid(f"unknown reason {reason!r}", code="invalid_reason")
    row = await _own(session, interview_id, customer_id)
    if row.reason is not None:
        offer = await _promo_of(session, row, clock.now())
        return ReasonOutcome(_view(row), True, offer)
    now = clock.now()
    row.reason, row.answered_at, row.status = reason, now, "answered"
    if reason not in DETAIL_REASONS and reason not in ("not_needed", "break"):
        row.completed_at = now
        row.status = "completed"
    offer = None
    if reason == "price" and rules.save_offer_enabled:
        offer = await assign_save_offer(session, clock=clock, rules=rules, customer_id=customer_id)
        promo_id = await session.scalar(select(PromoCode.id).where(PromoCode.code == offer.code))
        row.promo_code_id = promo_id
    await session.flush()
    return ReasonOutcome(_view(row), False, offer)


async def answer_reason(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: ExitRules,
    interview_id: int,
    customer_id: int,
    reason: str,
    staff_group: int | None,
) -> ReasonOutcome:
    """The reason they give, and what it does at once: recorded (the first one stands; a price
    reason gets the save offer), and for technical problems or poor support a person takes
    over in `staff_group` (none set: nobody can, the customer is told so). One transaction,
    so a reason is never kept without the hand-over it asked for."""
    outcome = await choose_reason(
        session, clock=clock, rules=rules, interview_id=interview_id, customer_id=customer_id, reason=reason
    )
    if outcome.already or reason not in HANDOVER_REASONS or staff_group is None:
        return outcome
    await hand_over(
        session, clock=clock, interview_id=interview_id, customer_id=customer_id, group_chat_id=staff_group
    )
    interview = await get_interview(session, interview_id=interview_id)  # now handed over
    return ReasonOutcome(interview, False, outcome.offer, handed_over=True)


async def _promo_of(session: AsyncSession, row: ExitInterview, now: datetime) -> PromoView | None:
    if row.promo_code_id is None:
        return None
    promo = await session.get(PromoCode, row.promo_code_id)
    return _promo_view(promo, now) if promo else None


@dataclass(frozen=True, slots=True)
class DetailOutcome:
    interview: InterviewView
    completed: bool  # False: the interview had been completed before
    feature_shipped: bool = False  # the feature they missed is already there


async def set_detail(
    session: AsyncSession, *, clock: Clock, interview_id: int, customer_id: int, text: str | None
) -> DetailOutcome:
    """The words after the reason: which feature, which provider, or what else (None: skipped)."""
    row = await _own(session, interview_id, customer_id)
    if row.reason is None:
        raise Invalid("choose a reason first", code="reason_missing")
    if row.completed_at is not None:
        return DetailOutcome(_view(row), False)
    now = clock.now()
    clean = text.strip()[:1000] if text and text.strip() else None
    shipped = False
    if row.reason == "feature" and clean:
        key = feature_key(clean)
        if not key:
            raise Invalid("say which feature in words", code="invalid_feature")
        shipped = (
            await session.scalar(select(ShippedFeature.id).where(ShippedFeature.feature_key == key))
            is not None
        )
        exists = await session.scalar(
            select(FeatureRequest.id).where(
                FeatureRequest.customer_id == customer_id, FeatureRequest.feature_key == key
            )
        )
        if exists is None:
            session.add(
                FeatureRequest(
                    customer_id=customer_id,
                    feature_key=key,
                    label=clean[:256],
                    exit_interview_id=row.id,
                    created_at=now,
                    shipped_at=now if shipped else None,
                )
            )
    row.detail, row.completed_at, row.status = clean, now, "completed"
    await session.flush()
    return DetailOutcome(_view(row), True, shipped)


async def set_may_write(
    session: AsyncSession, *, clock: Clock, interview_id: int, customer_id: int, allowed: bool
) -> InterviewView:
    """'No longer needed': may we write again? No turns proactive messages off."""
    row = await _own(session, interview_id, customer_id)
    now = clock.now()
    row.may_write_again = allowed
    row.completed_at, row.status = row.completed_at or now, "completed"
    customer = await session.get(Customer, customer_id)
    if not allowed and customer is not None and customer.telegram_id is not None:
        await set_opt_in(session, clock=clock, telegram_id=customer.telegram_id, opted_in=False)
    await session.flush()
    return _view(row)


async def set_break(
    session: AsyncSession,
    *,
    clock: Clock,
    interview_id: int,
    customer_id: int,
    until: date | None,
    default_timezone: str = "UTC",
) -> InterviewView:
    """A break until a date of their choice (None: no reminder); the reminder goes that morning."""
    row = await _own(session, interview_id, customer_id)
    now = clock.now()
    customer = await session.get(Customer, customer_id)
    tz = zone(customer.timezone if customer else None, default_timezone)
    today = now.astimezone(tz).date()
    if until is not None:
        if until <= today:
            raise Invalid("the date must be in the future", code="date_in_past")
        if until - today > MAX_BREAK:
            raise Invalid("at most a year ahead", code="date_too_far")
        remind_at = datetime.combine(until, time(10, 0), tzinfo=tz)
        await queue_notice(
            session,
            clock=clock,
            customer_id=customer_id,
            kind="break_reminder",
            dedupe_key=f"break:{row.id}",
            policy=REQUESTED,
            params={"since": row.created_at.isoformat()},
            not_before=remind_at,
            deadline=remind_at + timedelta(days=7),
        )
    row.break_until = until
    row.completed_at, row.status = row.completed_at or now, "completed"
    await session.flush()
    return _view(row)


async def take_break(
    session: AsyncSession,
    *,
    clock: Clock,
    interview_id: int,
    customer_id: int,
    months: int,
    days: int,
    default_timezone: str = "UTC",
) -> InterviewView:
    """A break of a length picked on a button, counted from the customer's today (their time
    zone), with its reminder that morning (`set_break`)."""
    customer = await session.get(Customer, customer_id)
    tz = zone(customer.timezone if customer else None, default_timezone)
    today = clock.now().astimezone(tz).date()
    return await set_break(
        session,
        clock=clock,
        interview_id=interview_id,
        customer_id=customer_id,
        until=break_until(today, months=months, days=days),
        default_timezone=default_timezone,
    )


async def hand_over(
    session: AsyncSession, *, clock: Clock, interview_id: int, customer_id: int, group_chat_id: int
) -> bool:
    """Poor support or technical problems: a person takes over now (True if a case was opened)."""
    row = await _own(session, interview_id, customer_id)
    text = f"Exit interview: {row.reason}" + (f" ({row.event})" if row.event else "")
    _, created = await support.open_case(
        session,
        clock=clock,
        customer_id=customer_id,
        group_chat_id=group_chat_id,
        origin="exit_interview",
        origin_text=text,
    )
    row.handed_over = True
    await session.flush()
    return created


async def last_interview(session: AsyncSession, *, customer_id: int) -> InterviewView | None:
    row = (
        await session.execute(
            select(ExitInterview)
            .where(ExitInterview.customer_id == customer_id, ExitInterview.reason.is_not(None))
            .order_by(ExitInterview.answered_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return _view(row) if row else None


async def get_interview(session: AsyncSession, *, interview_id: int) -> InterviewView:
    row = await session.get(ExitInterview, interview_id)
    if row is None:
        raise NotFound("interview not found", code="interview_not_found")
    return _view(row)
