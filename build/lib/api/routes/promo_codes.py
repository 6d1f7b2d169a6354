"""/v1/promo-codes: codes your shop issued for save offers, and looking a code up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import ClockDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.loyalty import PromoCodesAdded, PromoCodesIn, PromoOut
from core import exit_interview
from core.apikeys import ApiKeyView

router = APIRouter(prefix="/v1/promo-codes", tags=["promo codes"])

CanRead = Annotated[ApiKeyView, Depends(require_scope("loyalty:read"))]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("loyalty:write"))]
Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{3,64}$", examples=["SAVE-7QX2K9PM"])]


@router.post(
    "",
    status_code=201,
    summary="Add promo codes to a pool",
    description="Requires scope `loyalty:write`. The exit interview's save offer takes an unused "
    "code from the EXIT_SAVE_OFFER_POOL pool; when the pool is empty it generates one "
    "(EXIT_SAVE_OFFER_DISCOUNT_PERCENT, valid EXIT_SAVE_OFFER_VALID_DAYS) that you can look up "
    "with GET. Codes already known are left as they are. 422 `expires_in_past`.",
    responses=error_responses(400, 401, 403, 413, 415, 422),
)
async def add_promo_codes(
    _key: CanWrite, body: PromoCodesIn, session: SessionDep, clock: ClockDep
) -> PromoCodesAdded:
    added, existing = await exit_interview.load_promo_codes(
        session,
        clock=clock,
        pool=body.pool,
        codes=body.codes,
        discount_percent=body.discount_percent,
        expires_at=body.expires_at,
    )
    await session.commit()
    return PromoCodesAdded(added=added, existing=existing)


@router.get(
    "/{code}",
    summary="Look a promo code up (to honour it at checkout)",
    description="Requires scope `loyalty:read`. Who it was given to, its discount and expiry, and "
    "whether it was redeemed (an order sent with `promo_code` redeems it). 404 `promo_code_not_found`.",
    responses=error_responses(401, 403, 404, 422),
)
async def get_promo_code(_key: CanRead, code: Code, session: SessionDep, clock: ClockDep) -> PromoOut:
    view = await exit_interview.get_promo(session, clock=clock, code=code)
    await session.commit()
    return PromoOut.from_view(view)
