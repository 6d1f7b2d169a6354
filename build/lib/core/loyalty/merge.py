"""Customer lifecycle for loyalty, survey and exit-interview rows.

`merge_customer_rows` moves them when a bot-only customer is merged into the backend's record;
`forget_customer` / `scrub_erased` remove what erased customers wrote in their own words. Both
are `core.customers.CustomerHooks` the composition root passes (supportbot/runtime.py).
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer
from storage.models_loyalty import (
    ExitInterview,
    FeatureRequest,
    LedgerEntry,
    LoyaltyNotice,
    LoyaltyProfile,
    Order,
    PromoCode,
    Referral,
    ReferralCode,
    Survey,
)


async def merge_customer_rows(session: AsyncSession, from_id: int, to_id: int) -> None:
    """Re-home every row of `from_id` to `to_id`, dropping what would duplicate."""
    for model in (Order, LedgerEntry, ReferralCode, Survey, ExitInterview, LoyaltyNotice):
        await session.execute(update(model).where(model.customer_id == from_id).values(customer_id=to_id))
    await session.execute(update(PromoCode).where(PromoCode.customer_id == from_id).values(customer_id=to_id))
    # One feature request per customer and feature.
    target_keys = select(FeatureRequest.feature_key).where(FeatureRequest.customer_id == to_id)
    await session.execute(
        delete(FeatureRequest).where(
            FeatureRequest.customer_id == from_id, FeatureRequest.feature_key.in_(target_keys)
        )
    )
    await session.execute(
        update(FeatureRequest).where(FeatureRequest.customer_id == from_id).values(customer_id=to_id)
    )
    # One referral per referred customer; nobody refers themselves after the merge.
    if await session.scalar(select(Referral.id).where(Referral.referred_id == to_id)) is not None:
        await session.execute(delete(Referral).where(Referral.referred_id == from_id))
    await session.execute(update(Referral).where(Referral.referred_id == from_id).values(referred_id=to_id))
    await session.execute(update(Referral).where(Referral.referrer_id == from_id).values(referrer_id=to_id))
    await session.execute(delete(Referral).where(Referral.referrer_id == Referral.referred_id))
    if await session.get(LoyaltyProfile, to_id) is None:
        await session.execute(
            update(LoyaltyProfile).where(LoyaltyProfile.customer_id == from_id).values(customer_id=to_id)
        )
    else:
        await session.execute(delete(LoyaltyProfile).where(LoyaltyProfile.customer_id == from_id))


async def forget_customer(session: AsyncSession, _customer_id: int) -> None:
    """The forget hook: set-based over every erased customer; touches only what is left."""
    await scrub_erased(session)


async def scrub_erased(session: AsyncSession) -> int:
    """Erase free text (comments, reasons in words, feature names) of erased customers.

    `core.customers.forget` anonymises the customer row; what they typed in surveys lives here.
    Counts, scores and normalised feature keys stay, so reports still add up.
    """
    erased = select(Customer.id).where(Customer.erased_at.is_not(None))
    done = 0
    for stmt in (
        update(Survey)
        .where(Survey.customer_id.in_(erased), Survey.comment.is_not(None))
        .values(comment=None),
        update(ExitInterview)
        .where(ExitInterview.customer_id.in_(erased), ExitInterview.detail.is_not(None))
        .values(detail=None),
        update(FeatureRequest)
        .where(FeatureRequest.customer_id.in_(erased), FeatureRequest.label != FeatureRequest.feature_key)
        .values(label=FeatureRequest.feature_key),
        update(LoyaltyNotice)
        .where(LoyaltyNotice.customer_id.in_(erased), LoyaltyNotice.status == "queued")
        .values(status="skipped", error="erased", params={}),
    ):
        result = await session.execute(stmt.execution_options(synchronize_session=False))
        done += int(getattr(result, "rowcount", 0) or 0)
    return done
