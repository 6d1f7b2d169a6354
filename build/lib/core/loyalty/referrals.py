"""Referrals: codes and links, attribution at the first order, rewards and their reversal."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.loyalty.ledger import _add_entry
from core.loyalty.notices import SERVICE, queue_notice
from core.loyalty.rules import (
    LoyaltyRules,
    referral_refusal,
)
from core.loyalty.views import _CODE_ALPHABET, REFERRAL_PREFIX, ReferralInfo, ReferralOutcome
from storage.models import Customer
from storage.models_loyalty import (
    LedgerEntry,
    Order,
    Referral,
    ReferralCode,
)
from storage.state import get_state

# ------------------------------------------------------------------ referrals


async def bot_username(session: AsyncSession) -> str | None:
    value = await get_state(session, key="bot_username")
    return (value or "").strip().removeprefix("@") or None


def referral_link(username: str | None, code: str) -> str | None:
    return f"https://t.me/{username}?start={REFERRAL_PREFIX}{code}" if username else None


async def referral_code(session: AsyncSession, *, clock: Clock, customer_id: int) -> str:
    """The customer's personal referral code, created on first use."""
    code = await session.scalar(
        select(ReferralCode.code).where(ReferralCode.customer_id == customer_id).order_by(ReferralCode.id)
    )
    if code is not None:
        return str(code)
    for _ in range(10):
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        try:
            async with session.begin_nested():
                session.add(ReferralCode(customer_id=customer_id, code=code, created_at=clock.now()))
        except IntegrityError:
            continue
        return code
    raise RuntimeError("could not find a free referral code")


async def referral_info(session: AsyncSession, *, clock: Clock, customer_id: int) -> ReferralInfo:
    """The personal link and how many friends came and bought through it."""
    code = await referral_code(session, clock=clock, customer_id=customer_id)
    invited, rewarded = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Referral.status == "rewarded", 1), else_=0)), 0),
            ).where(Referral.referrer_id == customer_id)
        )
    ).one()
    return ReferralInfo(
        code=code,
        link=referral_link(await bot_username(session), code),
        start_command=f"/start {REFERRAL_PREFIX}{code}",
        invited=int(invited),
        rewarded=int(rewarded),
    )


async def _referrer_chain(session: AsyncSession, customer_id: int, limit: int = 50) -> list[int]:
    chain: list[int] = []
    current = customer_id
    for _ in range(limit):
        up = await session.scalar(select(Referral.referrer_id).where(Referral.referred_id == current))
        if up is None or up in chain:
            break
        chain.append(int(up))
        current = int(up)
    return chain


async def attribute_referral(
    session: AsyncSession, *, clock: Clock, customer_id: int, payload: str
) -> ReferralOutcome:
    """Credit the owner of a `ref_<code>` link with bringing this customer (first link wins)."""
    code = payload.removeprefix(REFERRAL_PREFIX).lower()
    owner = await session.scalar(select(ReferralCode.customer_id).where(ReferralCode.code == code))
    already = await session.scalar(select(Referral.id).where(Referral.referred_id == customer_id))
    has_orders = await session.scalar(select(Order.id).where(Order.customer_id == customer_id).limit(1))
    chain = await _referrer_chain(session, int(owner)) if owner is not None else []
    refusal = referral_refusal(
        referrer_id=int(owner) if owner is not None else None,
        referred_id=customer_id,
        referred_has_orders=has_orders is not None,
        already_referred=already is not None,
        referrer_chain=chain,
    )
    if refusal is not None:
        return ReferralOutcome(refusal, int(owner) if owner is not None else None)
    referrer = await session.get(Customer, int(owner))  # type: ignore[arg-type]
    if referrer is None or referrer.erased_at is not None:
        return ReferralOutcome("unknown_code")
    try:
        async with session.begin_nested():
            session.add(
                Referral(
                    referrer_id=referrer.id,
                    referred_id=customer_id,
                    code=code,
                    status="pending",
                    created_at=clock.now(),
                )
            )
    except IntegrityError:
        return ReferralOutcome("already_referred", referrer.id)
    return ReferralOutcome("attributed", referrer.id, referrer.first_name)


async def _reward_referral(
    session: AsyncSession, *, clock: Clock, rules: LoyaltyRules, referred_id: int, order: Order
) -> bool:
    now = clock.now()
    ref = (
        await session.execute(
            select(Referral).where(Referral.referred_id == referred_id, Referral.status == "pending")
        )
    ).scalar_one_or_none()
    if ref is None:
        return False
    referrer = await session.get(Customer, ref.referrer_id)
    referred = await session.get(Customer, referred_id)
    available = max(now, order.placed_at + rules.pending)
    sides = [
        (
            ref.referrer_id,
            "referrer",
            rules.referral_reward_referrer,
            {"friend": (referred.first_name if referred else None) or ""},
        ),
        (referred_id, "referred", rules.referral_reward_referred, {}),
    ]
    for customer_id, side, points, params in sides:
        if points <= 0 or (side == "referrer" and (referrer is None or referrer.erased_at is not None)):
            continue
        await _add_entry(
            session,
            now=now,
            customer_id=customer_id,
            kind="referral",
            points=points,
            reason=f"Referral #{ref.id}: first purchase ({side})",
            key=f"referral:{ref.id}:{side}",
            order_id=order.id if side == "referred" else None,
            available_at=available,
        )
        await queue_notice(
            session,
            clock=clock,
            customer_id=customer_id,
            kind=f"referral_{side}",
            dedupe_key=f"referral:{ref.id}:{side}",
            policy=SERVICE,
            params={"points": points, **params},
        )
    ref.status, ref.rewarded_at, ref.order_id = "rewarded", now, order.id
    return True


async def _void_referral(session: AsyncSession, *, now: datetime, order: Order) -> None:
    """The purchase that paid a referral was undone: take both rewards back."""
    ref = (
        await session.execute(
            select(Referral).where(Referral.order_id == order.id, Referral.status == "rewarded")
        )
    ).scalar_one_or_none()
    if ref is None:
        return
    rewards = (
        (
            await session.execute(
                select(LedgerEntry).where(
                    LedgerEntry.idempotency_key.in_(
                        [f"referral:{ref.id}:referrer", f"referral:{ref.id}:referred"]
                    )
                )
            )
        )
        .scalars()
        .all()
    )
    for entry in rewards:
        await _add_entry(
            session,
            now=now,
            customer_id=entry.customer_id,
            kind="reversal",
            points=-entry.points,
            reason=f"Referral #{ref.id}: the qualifying order {order.external_id} was undone",
            key=f"{entry.idempotency_key}:reversal",
            reverses_id=entry.id,
            available_at=entry.available_at,
        )
    ref.status = "void"
