"""Exit interviews: why a customer leaves, the reply that fits the reason, and the report.

The reason decides the reply: a save offer (a promo code) for price, a promise to write when a
missing feature ships, a person at once for poor support or technical problems, a respectful
goodbye (and a question whether we may write again) when it is no longer needed, a reminder on
the date of their choice for a break.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import delivery, idempotency, support
from core.clock import Clock
from core.contact_policy import block, lock_customers, record_contact
from core.customers import CustomerView, set_opt_in
from core.delivery import QueueTable
from core.errors import Invalid, NotFound
from core.loyalty_notices import PROACTIVE, REQUESTED, claim_recipient, queue_notice
from core.loyalty_rules import percent
from core.outreach.rules import zone
from storage.models import Customer
from storage.models_loyalty import ExitInterview, FeatureRequest, Order, PromoCode, ShippedFeature

if TYPE_CHECKING:
    from core.settings import Settings

REASONS: tuple[str, ...] = (
    "price", "feature", "competitor", "not_needed", "technical", "support", "break", "other",
)
# Reasons that need a second answer in words (optional except for "other").
DETAIL_REASONS = ("feature", "competitor", "other")
HANDOVER_REASONS = ("technical", "support")
LIVE = ("scheduled", "claimed", "sending", "sent", "answered", "completed")
QUEUE = QueueTable("exit_interviews", ExitInterview, queued="scheduled", wire="sending")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MAX_BREAK = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class ExitRules:
    save_offer_enabled: bool = True
    save_offer_pool: str = "exit-save"
    save_offer_discount_percent: int = 15
    save_offer_valid: timedelta = timedelta(days=14)
    save_window: timedelta = timedelta(days=30)
    send_window: timedelta = timedelta(days=3)
    # Nobody is interviewed twice within this time.
    recent: timedelta = timedelta(days=30)
    answer_window: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, s: Settings) -> ExitRules:
        return cls(
            save_offer_enabled=s.exit_save_offer_enabled,
            save_offer_pool=s.exit_save_offer_pool,
            save_offer_discount_percent=s.exit_save_offer_discount_percent,
            save_offer_valid=timedelta(days=s.exit_save_offer_valid_days),
            save_window=timedelta(days=s.exit_save_window_days),
            send_window=timedelta(days=s.exit_send_window_days),
        )


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
        id=row.id, customer_id=row.customer_id, source=row.source, event=row.event,
        status=row.status, skip_reason=row.skip_reason, reason=row.reason, detail=row.detail,
        may_write_again=row.may_write_again, break_until=row.break_until,
        handed_over=row.handed_over, sent_at=row.sent_at, answered_at=row.answered_at,
        created_at=row.created_at,
    )


@dataclass(frozen=True, slots=True)
class PromoView:
    code: str
    pool: str
    discount_percent: int
    source: str
    expires_at: datetime | None
    customer_id: int | None
    customer_external_id: str | None
    assigned_at: datetime | None
    redeemed_at: datetime | None
    redeemed_order: str | None
    status: str  # available | assigned | redeemed | expired

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _promo_view(row: PromoCode, now: datetime, external_id: str | None = None) -> PromoView:
    if row.redeemed_at is not None:
        status = "redeemed"
    elif row.expires_at is not None and row.expires_at <= now:
        status = "expired"
    elif row.customer_id is not None:
        status = "assigned"
    else:
        status = "available"
    return PromoView(
        code=row.code, pool=row.pool, discount_percent=row.discount_percent, source=row.source,
        expires_at=row.expires_at, customer_id=row.customer_id, customer_external_id=external_id,
        assigned_at=row.assigned_at, redeemed_at=row.redeemed_at, redeemed_order=row.redeemed_order,
        status=status,
    )


# ------------------------------------------------------------------ starting


async def _recent_block(
    session: AsyncSession, customer_id: int, now: datetime, rules: ExitRules
) -> str | None:
    rows = (
        await session.execute(
            select(ExitInterview).where(
                ExitInterview.customer_id == customer_id, ExitInterview.status.in_(LIVE),
                ExitInterview.created_at > now - rules.recent,
            )
        )
    ).scalars().all()
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
        session, clock=clock, kind="exit", key=idempotency_key,
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
        customer_id=customer.id, request_id=request.id, source="api", event=event,
        status="skipped" if reason else "scheduled", skip_reason=reason, not_before=now,
        send_deadline=now + rules.send_window, created_at=now,
    )
    session.add(row)
    if not reason:
        delivery.wake(session, "engagement")
    await session.flush()
    answer = {"request_id": request.id, "interview_id": row.id, "status": row.status,
              "skip_reason": reason, "event": event}
    await idempotency.finish(session, request=request, result=answer)
    return answer, False


async def start_from_menu(
    session: AsyncSession, *, clock: Clock, customer_id: int, chat_id: int
) -> InterviewView:
    """The customer said they want to leave: ask why right away (not a proactive message)."""
    now = clock.now()
    row = ExitInterview(customer_id=customer_id, source="menu", status="sent", not_before=now,
                        sent_at=now, chat_id=chat_id, created_at=now)
    session.add(row)
    await session.flush()
    return _view(row)


# ------------------------------------------------------------------ sending


@dataclass(frozen=True, slots=True)
class OutgoingInterview:
    id: int
    customer: CustomerView
    event: str | None


async def claim_interviews(
    session: AsyncSession, *, clock: Clock, cap: timedelta, limit: int = 20, owner: str = ""
) -> list[OutgoingInterview]:
    """Due interviews that may go now (claimed by `owner`); the rest wait or are skipped."""
    now = clock.now()
    rows = await delivery.lock_due(session, QUEUE, now=now, limit=limit)
    await lock_customers(session, [r.customer_id for r in rows])
    out: list[OutgoingInterview] = []
    for row in rows:
        customer = await claim_recipient(session, row, now=now, cap=cap, policy=PROACTIVE,
                                         deadline=row.send_deadline, late_reason="deadline_passed",
                                         queue=QUEUE, owner=owner)
        if customer is not None:
            out.append(OutgoingInterview(row.id, customer, row.event))
    await session.flush()
    return out


async def interview_sent(
    session: AsyncSession, *, clock: Clock, interview_id: int, chat_id: int, message_id: int | None
) -> None:
    row = await session.get(ExitInterview, interview_id)
    if row is None:
        return
    row.status, row.sent_at, row.chat_id, row.message_id = "sent", clock.now(), chat_id, message_id
    row.owner, row.lease_until = None, None
    await record_contact(session, customer_id=row.customer_id, kind="exit_interview", ref=str(row.id),
                         now=clock.now())
    await session.flush()


async def interview_failed(
    session: AsyncSession, *, interview_id: int, reason: str, retry_at: datetime | None = None
) -> None:
    values: dict[str, Any] = (
        {"status": "scheduled", "not_before": retry_at} if retry_at else
        {"status": "failed", "skip_reason": reason[:32]}
    )
    await delivery.finish(session, QUEUE, [interview_id], **values)


async def recover_interviews(session: AsyncSession, *, clock: Clock, everything: bool = True) -> int:
    """What a dead worker left: claimed interviews go back to the schedule; ones on the wire
    may have arrived: never ask twice."""
    gone: list[tuple[int, int]] = []
    _, lost = await delivery.recover(
        session, QUEUE, now=clock.now(), everything=everything,
        lost={"status": "sent", "sent_at": clock.now()}, lost_rows=gone,
    )
    for interview_id, customer_id in gone:  # it probably arrived: it counts against the budget
        await record_contact(session, customer_id=customer_id, kind="exit_interview", ref=str(interview_id),
                             now=clock.now())
    return lost


async def expire_interviews(session: AsyncSession, *, clock: Clock, rules: ExitRules) -> int:
    """Interviews nobody answered within the window."""
    result = await session.execute(
        update(ExitInterview)
        .where(ExitInterview.status == "sent", ExitInterview.sent_at <= clock.now() - rules.answer_window)
        .values(status="expired")
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ------------------------------------------------------------------ answers


@dataclass(frozen=True, slots=True)
class ReasonOutcome:
    interview: InterviewView
    already: bool  # a reason had been given before; the first one stands
    offer: PromoView | None = None


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


async def _promo_of(session: AsyncSession, row: ExitInterview, now: datetime) -> PromoView | None:
    if row.promo_code_id is None:
        return None
    promo = await session.get(PromoCode, row.promo_code_id)
    return _promo_view(promo, now) if promo else None


def feature_key(text: str) -> str:
    """How a feature name is matched: case, punctuation, 'ё' and spacing do not matter."""
    s = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    s = re.sub(r"[\W_]+", " ", s).strip()
    return s[:128]


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
        shipped = await session.scalar(select(ShippedFeature.id).where(ShippedFeature.feature_key == key)) \
            is not None
        exists = await session.scalar(
            select(FeatureRequest.id).where(FeatureRequest.customer_id == customer_id,
                                            FeatureRequest.feature_key == key)
        )
        if exists is None:
            session.add(FeatureRequest(customer_id=customer_id, feature_key=key, label=clean[:256],
                                       exit_interview_id=row.id, created_at=now,
                                       shipped_at=now if shipped else None))
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
            session, clock=clock, customer_id=customer_id, kind="break_reminder",
            dedupe_key=f"break:{row.id}", policy=REQUESTED, params={"since": row.created_at.isoformat()},
            not_before=remind_at, deadline=remind_at + timedelta(days=7),
        )
    row.break_until = until
    row.completed_at, row.status = row.completed_at or now, "completed"
    await session.flush()
    return _view(row)


async def hand_over(
    session: AsyncSession, *, clock: Clock, interview_id: int, customer_id: int, group_chat_id: int
) -> bool:
    """Poor support or technical problems: a person takes over now (True if a case was opened)."""
    row = await _own(session, interview_id, customer_id)
    text = f"Exit interview: {row.reason}" + (f" ({row.event})" if row.event else "")
    _, created = await support.open_case(
        session, clock=clock, customer_id=customer_id, group_chat_id=group_chat_id,
        origin="exit_interview", origin_text=text,
    )
    row.handed_over = True
    await session.flush()
    return created


async def last_interview(session: AsyncSession, *, customer_id: int) -> InterviewView | None:
    row = (
        await session.execute(
            select(ExitInterview).where(ExitInterview.customer_id == customer_id,
                                        ExitInterview.reason.is_not(None))
            .order_by(ExitInterview.answered_at.desc()).limit(1)
        )
    ).scalar_one_or_none()
    return _view(row) if row else None


async def get_interview(session: AsyncSession, *, interview_id: int) -> InterviewView:
    row = await session.get(ExitInterview, interview_id)
    if row is None:
        raise NotFound("interview not found", code="interview_not_found")
    return _view(row)


# ------------------------------------------------------------------ promo codes


def _generated_code() -> str:
    return "SAVE-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


async def assign_save_offer(
    session: AsyncSession, *, clock: Clock, rules: ExitRules, customer_id: int
) -> PromoView:
    """A promo code for this customer: the one they still hold, a pool code, or a new one."""
    now = clock.now()
    held = (
        await session.execute(
            select(PromoCode).where(
                PromoCode.customer_id == customer_id, PromoCode.redeemed_at.is_(None),
                (PromoCode.expires_at.is_(None)) | (PromoCode.expires_at > now + timedelta(days=1)),
            ).order_by(PromoCode.id.desc()).limit(1)
        )
    ).scalar_one_or_none()
    if held is not None:
        return _promo_view(held, now)
    # A code that would lapse within a day is no gift; FOR UPDATE SKIP LOCKED on PostgreSQL.
    free = (
        await session.execute(
            select(PromoCode)
            .where(PromoCode.pool == rules.save_offer_pool, PromoCode.customer_id.is_(None),
                   PromoCode.redeemed_at.is_(None),
                   (PromoCode.expires_at.is_(None)) | (PromoCode.expires_at > now + timedelta(days=1)))
            .order_by(PromoCode.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if free is not None:
        free.customer_id, free.assigned_at = customer_id, now
        if free.expires_at is None:
            free.expires_at = now + rules.save_offer_valid
        await session.flush()
        return _promo_view(free, now)
    for _ in range(10):
        row = PromoCode(code=_generated_code(), pool=rules.save_offer_pool,
                        discount_percent=rules.save_offer_discount_percent, source="generated",
                        expires_at=now + rules.save_offer_valid, customer_id=customer_id,
                        assigned_at=now, created_at=now)
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        return _promo_view(row, now)
    raise RuntimeError("could not generate a free promo code")


async def load_promo_codes(
    session: AsyncSession,
    *,
    clock: Clock,
    pool: str,
    codes: list[str],
    discount_percent: int,
    expires_at: datetime | None,
) -> tuple[int, list[str]]:
    """Add codes your shop issued to a pool; returns (added, codes that already existed)."""
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise Invalid("expires_at is in the past", code="expires_in_past")
    wanted = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    existing = set(
        (await session.execute(select(PromoCode.code).where(PromoCode.code.in_(wanted)))).scalars()
    )
    added = 0
    for code in wanted:
        if code in existing:
            continue
        session.add(PromoCode(code=code, pool=pool, discount_percent=discount_percent, source="pool",
                              expires_at=expires_at, created_at=now))
        added += 1
    await session.flush()
    return added, sorted(existing)


async def get_promo(session: AsyncSession, *, clock: Clock, code: str) -> PromoView:
    row = (await session.execute(select(PromoCode).where(PromoCode.code == code))).scalar_one_or_none()
    if row is None:
        raise NotFound("promo code not found", code="promo_code_not_found")
    ext = None
    if row.customer_id is not None:
        ext = await session.scalar(select(Customer.external_id).where(Customer.id == row.customer_id))
    return _promo_view(row, clock.now(), ext)


# ------------------------------------------------------------------ features


@dataclass(frozen=True, slots=True)
class ShipResult:
    feature_key: str
    matched_keys: list[str]
    requests: int  # customers who asked and had not been told
    notified: int  # messages queued now


async def feature_shipped(
    session: AsyncSession, *, clock: Clock, feature: str, aliases: list[str] | None = None
) -> ShipResult:
    """Tell everyone who missed this feature (by its name or an alias) that it is here, once."""
    key = feature_key(feature)
    if not key:
        raise Invalid("feature must contain letters or digits", code="invalid_feature")
    keys = list(dict.fromkeys([key, *(k for k in (feature_key(a) for a in aliases or []) if k)]))
    now = clock.now()
    for k in keys:
        if await session.scalar(select(ShippedFeature.id).where(ShippedFeature.feature_key == k)) is None:
            session.add(ShippedFeature(feature_key=k, label=feature.strip()[:256], shipped_at=now))
    rows = (
        await session.execute(
            select(FeatureRequest).where(FeatureRequest.feature_key.in_(keys),
                                         FeatureRequest.shipped_at.is_(None))
        )
    ).scalars().all()
    notified = 0
    for req in rows:
        req.shipped_at = now
        queued = await queue_notice(
            session, clock=clock, customer_id=req.customer_id, kind="feature_shipped",
            dedupe_key=f"feature:{req.customer_id}:{req.feature_key}", policy=REQUESTED,
            params={"feature": feature.strip()[:256], "asked": req.label},
            deadline=now + timedelta(days=30),
        )
        notified += int(queued)
    await session.flush()
    return ShipResult(key, keys, len(rows), notified)


# ------------------------------------------------------------------ report


@dataclass(frozen=True, slots=True)
class ReasonLine:
    reason: str
    count: int
    share_percent: float
    saved: int


@dataclass(frozen=True, slots=True)
class FeatureLine:
    feature: str
    feature_key: str
    count: int
    shipped: bool


@dataclass(frozen=True, slots=True)
class ExitReport:
    since: datetime | None
    until: datetime | None
    interviews: int  # reached the customer
    answered: int
    response_rate_percent: float
    reasons: list[ReasonLine]
    top_features: list[FeatureLine]
    save_window_days: int
    customers: int
    saved: int
    save_rate_percent: float
    still_in_window: int  # not saved yet, but their window is still open
    offers_given: int
    offers_redeemed: int


async def report(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: ExitRules,
    since: datetime | None = None,
    until: datetime | None = None,
    top: int = 10,
) -> ExitReport:
    """Reasons by count and share, the most missed features and the save rate for a period."""
    now = clock.now()
    stmt = select(ExitInterview).where(ExitInterview.sent_at.is_not(None))
    if since is not None:
        stmt = stmt.where(ExitInterview.sent_at >= since)
    if until is not None:
        stmt = stmt.where(ExitInterview.sent_at < until)
    rows = list((await session.execute(stmt.order_by(ExitInterview.sent_at))).scalars())
    first_by_customer: dict[int, ExitInterview] = {}
    for row in rows:
        first_by_customer.setdefault(row.customer_id, row)

    # Saved: the customer ordered again within the window after their (first) interview.
    orders = (
        await session.execute(
            select(Order.customer_id, Order.placed_at).where(
                Order.customer_id.in_(list(first_by_customer)),
                Order.status.in_(("completed", "partially_refunded")),
            )
        )
    ).all() if first_by_customer else []
    saved_customers: set[int] = set()
    for cid, placed in orders:
        start = first_by_customer[cid].sent_at
        assert start is not None
        if start < placed <= start + rules.save_window:
            saved_customers.add(cid)
    in_window = sum(
        1 for cid, r in first_by_customer.items()
        if cid not in saved_customers and r.sent_at is not None and r.sent_at + rules.save_window > now
    )

    answered = [r for r in rows if r.reason is not None]
    counts = Counter(str(r.reason) for r in answered)
    saved_by_reason = Counter(str(r.reason) for r in answered if r.customer_id in saved_customers)
    reasons = [
        ReasonLine(reason, counts[reason], percent(counts[reason], len(answered)),
                   saved_by_reason[reason])
        for reason in sorted(counts, key=lambda k: (-counts[k], REASONS.index(k)))
    ]

    fstmt = select(FeatureRequest.feature_key, func.count(), func.min(FeatureRequest.label),
                   func.max(FeatureRequest.shipped_at)).group_by(FeatureRequest.feature_key)
    if since is not None:
        fstmt = fstmt.where(FeatureRequest.created_at >= since)
    if until is not None:
        fstmt = fstmt.where(FeatureRequest.created_at < until)
    features = sorted((await session.execute(fstmt)).all(), key=lambda r: (-r[1], r[0]))[:top]
    offers = [r.promo_code_id for r in rows if r.promo_code_id is not None]
    redeemed = 0
    if offers:
        redeemed = int(await session.scalar(
            select(func.count()).select_from(PromoCode)
            .where(PromoCode.id.in_(offers), PromoCode.redeemed_at.is_not(None))
        ) or 0)
    return ExitReport(
        since=since, until=until, interviews=len(rows), answered=len(answered),
        response_rate_percent=percent(len(answered), len(rows)), reasons=reasons,
        top_features=[FeatureLine(label, key, int(n), shipped is not None)
                      for key, n, label, shipped in features],
        save_window_days=rules.save_window.days, customers=len(first_by_customer),
        saved=len(saved_customers), save_rate_percent=percent(len(saved_customers), len(first_by_customer)),
        still_in_window=in_window, offers_given=len(offers), offers_redeemed=redeemed,
    )
