"""/start: a deep link's payload (a backend link token, a referral), opting back in, onboarded.

One use case, because these steps share a transaction: the payload is recorded with the
customer, a link token may merge their record into the backend's one (so what follows acts on
the customer it returns), a referral is attributed, and the welcome is marked shown. Customers
(core/customers.py) cannot call loyalty's referrals themselves (loyalty imports customers), so
this small module joins the two, as the composition root joins the domains' hooks.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core import customers, loyalty
from core.clock import Clock
from core.customers import CustomerHooks, CustomerView
from core.errors import DomainError


@dataclass(frozen=True, slots=True)
class Started:
    """What /start did."""

    customer: CustomerView  # as it is now (linked to the backend's record, opted back in)
    link: str | None = None  # a link token: "ok", or why it was refused (link_expired, ...)
    referral: loyalty.ReferralOutcome | None = None  # a ref_<code> payload: what it gave
    back: bool = False  # they had opted out of messages: /start opted them back in


def nothing_to_do(customer: CustomerView, payload: str) -> Started | None:
    """A returning customer's plain /start writes nothing (the hot path): what it did, without
    a transaction; None when `start` has work to do."""
    if payload or not customer.opted_in or customer.onboarded_at is None:
        return None
    return Started(customer=customer)


async def start(
    session: AsyncSession,
    *,
    clock: Clock,
    hooks: CustomerHooks,
    customer: CustomerView,
    telegram_id: int,
    payload: str,
) -> Started:
    """Record the payload and act on it, opt an opted-out customer back in, mark onboarded.

    A link token that cannot be redeemed is a refusal to report, not an error: the rest of
    /start still happens (nothing was written by the failed redeem)."""
    link: str | None = None
    referral: loyalty.ReferralOutcome | None = None
    back = not customer.opted_in
    if payload:
        kind = await customers.record_deep_link(
            session, clock=clock, customer_id=customer.id, payload=payload
        )
        if kind == "link":
            try:
                customer = await customers.redeem_link_token(
                    session, clock=clock, hooks=hooks, token=payload, telegram_id=telegram_id
                )
                link = "ok"
            except DomainError as exc:
                link = exc.code
        elif kind == "referral":
            referral = await loyalty.attribute_referral(
                session, clock=clock, customer_id=customer.id, payload=payload
            )
    if back:
        customer = await customers.set_opt_in(session, clock=clock, telegram_id=telegram_id, opted_in=True)
    await customers.mark_onboarded(session, clock=clock, telegram_id=telegram_id)
    return Started(customer=customer, link=link, referral=referral, back=back)
