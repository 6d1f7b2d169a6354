"""The scheduled loyalty jobs: birthday rewards and points expiry (each row once, guarded)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, zone
from core.errors import Invalid
from core.jobs import guarded
from core.loyalty.ledger import _add_entry, _lock_customer
from core.loyalty.notices import PROACTIVE, queue_notice
from core.loyalty.queries import PurchaseStats, _sum_overflow, purchase_stats
from core.loyalty.rules import (
    LoyaltyRules,
    birthday_in,
    birthday_refusal,
    expiry_at,
    expiry_stage,
)
from core.loyalty.views import ACTIVITY_KINDS
from storage.models import Customer
from storage.models_loyalty import (
    LedgerEntry,
    LoyaltyProfile,
)

# ------------------------------------------------------------------ birthdays


async def set_birthday(session: AsyncSession, *, clock: Clock, customer_id: int, birthday: date) -> None:
    """The customer told the bot their birthday (remembered with when, for the notice rule)."""
    now = clock.now()
    if birthday > now.date() or birthday.year < 1900:
        raise Invalid("not a plausible birthday", code="invalid_birthday")
    row = await _lock_customer(session, customer_id)
    row.birthday, row.updated_at = birthday, now
    profile = await session.get(LoyaltyProfile, customer_id)
    if profile is None:
        session.add(
            LoyaltyProfile(customer_id=customer_id, birthday=birthday, birthday_set_at=now, updated_at=now)
        )
    elif profile.birthday != birthday:
        profile.birthday, profile.birthday_set_at, profile.updated_at = birthday, now, now
    await session.flush()


async def run_birthdays(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, default_timezone: str = "UTC"
) -> list[int]:
    """Credit today's birthdays (in each customer's time zone), once a year; returns who got one.

    When a birthday was set is learnt here: a new or changed birthday is dated at the
    customer's last update (the latest it can have been set), so nobody gains by setting one
    a few days before.
    """
    if rules.birthday_reward <= 0:
        return []
    now = clock.now()
    rows = (
        await session.execute(
            select(Customer, LoyaltyProfile)
            .outerjoin(LoyaltyProfile, LoyaltyProfile.customer_id == Customer.id)
            .where(Customer.birthday.is_not(None), Customer.erased_at.is_(None))
        )
    ).all()
    rewarded: list[int] = []
    for customer, profile in rows:
        ok, got = await guarded(
            session,
            job="loyalty birthdays",
            customer_id=customer.id,
            step=lambda c=customer, p=profile: _birthday_one(  # type: ignore[misc]
                session,
                clock=clock,
                rules=rules,
                now=now,
                customer=c,
                profile=p,
                default_timezone=default_timezone,
            ),
        )
        if ok and got:
            rewarded.append(customer.id)
    await session.flush()
    return rewarded


async def _birthday_one(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    now: datetime,
    customer: Customer,
    profile: LoyaltyProfile | None,
    default_timezone: str,
) -> bool:
    if customer.birthday is None:
        return False
    if profile is None:
        profile = LoyaltyProfile(
            customer_id=customer.id,
            birthday=customer.birthday,
            birthday_set_at=min(customer.updated_at, now),
            updated_at=now,
        )
        session.add(profile)
    elif profile.birthday != customer.birthday:
        profile.birthday = customer.birthday
        profile.birthday_set_at = min(customer.updated_at, now)
        profile.updated_at = now
    today = now.astimezone(zone(customer.timezone, default_timezone)).date()
    if birthday_refusal(birthday=customer.birthday, today=today, set_at=profile.birthday_set_at, rules=rules):
        return False
    _, dup = await _add_entry(
        session,
        now=now,
        customer_id=customer.id,
        kind="birthday",
        points=rules.birthday_reward,
        reason=f"Birthday {today.year}",
        key=f"birthday:{customer.id}:{today.year}",
    )
    if dup:
        return False
    await queue_notice(
        session,
        clock=clock,
        customer_id=customer.id,
        kind="birthday",
        dedupe_key=f"birthday:{customer.id}:{today.year}",
        policy=PROACTIVE,
        params={"points": rules.birthday_reward},
        deadline=now + timedelta(days=2),
    )
    return True


def next_birthday(birthday: date, today: date) -> date:
    this_year = birthday_in(today.year, birthday)
    return this_year if this_year >= today else birthday_in(today.year + 1, birthday)


# ------------------------------------------------------------------ expiry


async def run_expiry(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules
) -> tuple[list[int], list[int]]:
    """Warn before balances burn and burn those past their date; returns (warned, expired)."""
    if rules.expiry is None:
        return [], []
    now = clock.now()
    try:
        async with session.begin_nested():
            rows = list(
                (
                    await session.execute(
                        select(
                            LedgerEntry.customer_id,
                            func.sum(case((LedgerEntry.available_at <= now, LedgerEntry.points), else_=0)),
                            func.max(
                                case(
                                    (LedgerEntry.kind.in_(ACTIVITY_KINDS), LedgerEntry.created_at), else_=None
                                )
                            ),
                        )
                        .group_by(LedgerEntry.customer_id)
                        .having(
                            func.sum(case((LedgerEntry.available_at <= now, LedgerEntry.points), else_=0)) > 0
                        )
                    )
                ).all()
            )
    except (DBAPIError, OverflowError) as exc:  # a sum beyond 64 bits (data from before the limits)
        if isinstance(exc, DBAPIError) and not _sum_overflow(exc):
            raise  # a real database error is not hidden behind the slow path
        rows = await _expiry_rows_in_python(session, now=now)
    if not rows:
        return [], []
    stats = await purchase_stats(session, customer_ids=[int(r[0]) for r in rows])
    warned: list[int] = []
    expired: list[int] = []
    for cid, spendable, last_ledger in rows:
        ok, outcome = await guarded(
            session,
            job="loyalty expiry",
            customer_id=int(cid),
            step=lambda c=int(cid), p=int(spendable), ll=last_ledger: _expiry_one(  # type: ignore[misc]
                session,
                clock=clock,
                rules=rules,
                now=now,
                cid=c,
                spendable=p,
                last_ledger=ll,
                last_purchase=stats.get(c, PurchaseStats()).last_purchase_at,
            ),
        )
        if ok and outcome == "warned":
            warned.append(int(cid))
        elif ok and outcome == "expired":
            expired.append(int(cid))
    await session.flush()
    return warned, expired


async def _expiry_rows_in_python(session: AsyncSession, *, now: datetime) -> list[Any]:
    totals: dict[int, int] = {}
    last: dict[int, datetime] = {}
    result = await session.execute(
        select(
            LedgerEntry.customer_id,
            LedgerEntry.points,
            LedgerEntry.available_at,
            LedgerEntry.kind,
            LedgerEntry.created_at,
        )
    )
    for cid, points, available_at, kind, created_at in result:
        if available_at <= now:
            totals[cid] = totals.get(cid, 0) + int(points)
        if kind in ACTIVITY_KINDS and (cid not in last or created_at > last[cid]):
            last[cid] = created_at
    return [(cid, total, last.get(cid)) for cid, total in totals.items() if total > 0]


async def _expiry_one(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    now: datetime,
    cid: int,
    spendable: int,
    last_ledger: datetime | None,
    last_purchase: datetime | None,
) -> str | None:
    assert rules.expiry is not None
    last = max((d for d in (last_ledger, last_purchase) if d), default=None)
    stage = expiry_stage(spendable=spendable, last_activity=last, now=now, rules=rules)
    when = expiry_at(last_activity=last, rules=rules)
    if stage == "none" or last is None or when is None:
        return None
    anchor = last.strftime("%Y%m%dT%H%M%S")
    if stage == "warn":
        queued = await queue_notice(
            session,
            clock=clock,
            customer_id=cid,
            kind="expiry_warning",
            dedupe_key=f"expiry_warning:{cid}:{anchor}",
            policy=PROACTIVE,
            params={"points": spendable, "expires_at": when.isoformat()},
            deadline=when - timedelta(hours=12),
        )
        return "warned" if queued else None
    await _lock_customer(session, cid)
    _, dup = await _add_entry(
        session,
        now=now,
        customer_id=cid,
        kind="expire",
        points=-spendable,
        reason=f"Expired after {rules.expiry.days} days without activity",
        key=f"expire:{cid}:{anchor}",
    )
    return None if dup else "expired"
