"""Promo codes: the save offer an interview may assign, loading codes, looking one up."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.errors import Invalid, NotFound
from storage.models import Customer
from storage.models_loyalty import PromoCode

if TYPE_CHECKING:
    pass
from core.exit_interview.rules import _CODE_ALPHABET, ExitRules


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
        code=row.code,
        pool=row.pool,
        discount_percent=row.discount_percent,
        source=row.source,
        expires_at=row.expires_at,
        customer_id=row.customer_id,
        customer_external_id=external_id,
        assigned_at=row.assigned_at,
        redeemed_at=row.redeemed_at,
        redeemed_order=row.redeemed_order,
        status=status,
    )


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
            select(PromoCode)
            .where(
                PromoCode.customer_id == customer_id,
                PromoCode.redeemed_at.is_(None),
                (PromoCode.expires_at.is_(None)) | (PromoCode.expires_at > now + timedelta(days=1)),
            )
            .order_by(PromoCode.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if held is not None:
        return _promo_view(held, now)
    # A code that would lapse within a day is no gift; FOR UPDATE SKIP LOCKED on PostgreSQL.
    free = (
        await session.execute(
            select(PromoCode)
            .where(
                PromoCode.pool == rules.save_offer_pool,
                PromoCode.customer_id.is_(None),
                PromoCode.redeemed_at.is_(None),
                (PromoCode.expires_at.is_(None)) | (PromoCode.expires_at > now + timedelta(days=1)),
            )
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
        row = PromoCode(
            code=_generated_code(),
            pool=rules.save_offer_pool,
            discount_percent=rules.save_offer_discount_percent,
            source="generated",
            expires_at=now + rules.save_offer_valid,
            customer_id=customer_id,
            assigned_at=now,
            created_at=now,
        )
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
        session.add(
            PromoCode(
                code=code,
                pool=pool,
                discount_percent=discount_percent,
                source="pool",
                expires_at=expires_at,
                created_at=now,
            )
        )
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
