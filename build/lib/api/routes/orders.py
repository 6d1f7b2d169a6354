"""/v1/orders: purchases from your shop, idempotent by the order's own id; refunds and cancellations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from api.deps import ClockDep, RulesDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.common import EXTERNAL_ID_PATTERN
from api.schemas.loyalty import CancelIn, OrderChanged, OrderIn, OrderOut, OrderRecorded, RefundIn
from core import loyalty
from core.apikeys import ApiKeyView

router = APIRouter(prefix="/v1/orders", tags=["orders"])

OrderId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=EXTERNAL_ID_PATTERN,
        description="The order's own id.",
        examples=["A-1001"],
    ),
]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("orders:write"))]
CanRead = Annotated[ApiKeyView, Depends(require_scope("loyalty:read"))]


def _changed(view: loyalty.OrderView, changed: bool) -> OrderChanged:
    return OrderChanged(**OrderOut.from_view(view).model_dump(), changed=changed)


@router.post(
    "",
    status_code=201,
    summary="Record a purchase (idempotent by order id)",
    description="Requires scope `orders:write`. Credits the order's points (LOYALTY_POINTS_PER_UNIT "
    "per unit of LOYALTY_CURRENCY, spendable after LOYALTY_PENDING_DAYS), counts it for the tier, "
    "and pays a pending referral on the customer's first purchase. 201 when recorded; the same "
    "order again is acknowledged with 200 and `duplicate: true` (nothing counted twice). "
    "409 `order_conflict`: this order id was recorded with another customer, amount or currency. "
    "422 `unsupported_currency` (no rate in LOYALTY_EXCHANGE_RATES), `unknown_currency`, "
    "`invalid_amount` (too many decimals), `placed_at_in_future`.",
    responses={
        200: {"model": OrderRecorded, "description": "Already recorded: acknowledged."},
        **error_responses(400, 401, 403, 409, 413, 415, 422),
    },
    response_description="Recorded.",
)
async def record_order(
    _key: CanWrite,
    body: OrderIn,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
) -> OrderRecorded:
    result = await loyalty.record_order(
        session,
        clock=clock,
        rules=rules.loyalty,
        customer_external_id=body.customer_external_id,
        order_id=body.order_id,
        amount=body.amount,
        currency=body.currency,
        placed_at=body.placed_at or clock.now(),
        promo_code=body.promo_code,
    )
    await session.commit()
    if not result.created:
        response.status_code = 200
    else:
        response.headers["Location"] = f"/v1/orders/{body.order_id}"
    return OrderRecorded(
        **OrderOut.from_view(result.order).model_dump(),
        duplicate=not result.created,
        points_credited=result.points,
        referral_rewarded=result.referral_rewarded,
    )


@router.get(
    "/{order_id}",
    summary="Get an order",
    description="Requires scope `loyalty:read`. 404 `order_not_found`.",
    responses=error_responses(401, 403, 404, 422),
)
async def get_order(_key: CanRead, order_id: OrderId, session: SessionDep) -> OrderOut:
    view = await loyalty.get_order(session, order_id=order_id)
    await session.commit()
    return OrderOut.from_view(view)


@router.post(
    "/{order_id}/refund",
    summary="Refund an order in full or in part",
    description="Requires scope `orders:write`. Takes back the points in proportion to the refunded "
    "amount (all of them on a full refund) and, when the order paid a referral and is now refunded "
    "in full, both referral rewards. Omit `amount` to refund what is left. A partial refund needs "
    "`refund_id`; repeating a refund is acknowledged with `changed: false`. "
    "404 `order_not_found`; 409 `refund_exceeds_order`, `order_already_refunded`; "
    "422 `refund_id_required`, `invalid_amount`.",
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
async def refund_order(
    _key: CanWrite,
    order_id: OrderId,
    body: RefundIn,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
) -> OrderChanged:
    view, changed = await loyalty.refund_order(
        session,
        clock=clock,
        rules=rules.loyalty,
        order_id=order_id,
        refund_id=body.refund_id,
        amount=body.amount,
        reason=body.reason,
    )
    await session.commit()
    return _changed(view, changed)


@router.post(
    "/{order_id}/cancel",
    summary="Cancel an order",
    description="Requires scope `orders:write`. Like a full refund (points and referral rewards are "
    "taken back) with status `cancelled`. Cancelling twice is acknowledged with `changed: false`. "
    "404 `order_not_found`.",
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
async def cancel_order(
    _key: CanWrite,
    order_id: OrderId,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
    body: CancelIn | None = None,
) -> OrderChanged:
    view, changed = await loyalty.refund_order(
        session,
        clock=clock,
        rules=rules.loyalty,
        order_id=order_id,
        reason=body.reason if body else None,
        cancel=True,
    )
    await session.commit()
    return _changed(view, changed)
