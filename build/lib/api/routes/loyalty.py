"""/v1/customers/{external_id}/loyalty: balance, history, earning, redeeming and adjusting points."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from api.deps import ClockDep, RulesDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.common import EXTERNAL_ID_PATTERN, MAX_ID
from api.schemas.loyalty import AdjustIn, BalanceOut, EntryOut, HistoryPage, MovementOut, PointsIn
from core import loyalty
from core.apikeys import ApiKeyView

router = APIRouter(prefix="/v1/customers/{external_id}/loyalty", tags=["loyalty"])

ExternalId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=EXTERNAL_ID_PATTERN,
        description="Your system's id for the customer.",
        examples=["crm-42"],
    ),
]
CanRead = Annotated[ApiKeyView, Depends(require_scope("loyalty:read"))]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("loyalty:write"))]
MOVEMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": MovementOut,
        "description": "The idempotency key was used before: acknowledged, "
        "nothing changed (`duplicate: true`).",
    },
}


@router.get(
    "",
    summary="Balance, tier and referral link",
    description="Requires scope `loyalty:read`. Spendable and pending points, the tier (from net "
    "spend and orders) and what the next tier needs, when the points expire without activity, and "
    "the customer's personal referral link (created on first use). 404 `customer_not_found`.",
    responses=error_responses(401, 403, 404, 422),
)
async def get_balance(
    _key: CanRead, external_id: ExternalId, session: SessionDep, clock: ClockDep, rules: RulesDep
) -> BalanceOut:
    cid = await loyalty.customer_id_for(session, external_id=external_id)
    view = await loyalty.balance(session, clock=clock, rules=rules.loyalty, customer_id=cid)
    info = await loyalty.referral_info(session, clock=clock, customer_id=cid)
    await session.commit()
    return BalanceOut.build(external_id, view, info)


@router.get(
    "/history",
    summary="Points history (newest first, keyset paging)",
    description="Requires scope `loyalty:read`. Every movement with its kind, reason and when it "
    "becomes spendable. Pass `next_before` as `before` for the next page. 404 `customer_not_found`.",
    responses=error_responses(401, 403, 404, 422),
)
async def get_history(
    _key: CanRead,
    external_id: ExternalId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, 1-200.")] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Movements with an id below this one.")
    ] = None,
) -> HistoryPage:
    cid = await loyalty.customer_id_for(session, external_id=external_id)
    items, next_before = await loyalty.history(session, customer_id=cid, limit=limit, before_id=before)
    await session.commit()
    return HistoryPage(items=[EntryOut.from_view(e) for e in items], next_before=next_before)


@router.post(
    "/earn",
    status_code=201,
    summary="Credit points",
    description="Requires scope `loyalty:write`. Points outside an order (a bonus, a goodwill "
    "gesture), spendable at once. Idempotent by `idempotency_key`. 404 `customer_not_found`; "
    "409 `idempotency_conflict` (the key was used for a different movement).",
    responses={**MOVEMENT_RESPONSES, **error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
    response_description="Credited.",
)
async def earn_points(
    _key: CanWrite,
    external_id: ExternalId,
    body: PointsIn,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
) -> MovementOut:
    cid = await loyalty.customer_id_for(session, external_id=external_id)
    result = await loyalty.earn(
        session,
        clock=clock,
        rules=rules.loyalty,
        customer_id=cid,
        points=body.points,
        reason=body.reason,
        idempotency_key=body.idempotency_key,
    )
    await session.commit()
    if result.duplicate:
        response.status_code = 200
    return MovementOut.from_result(result)


@router.post(
    "/redeem",
    status_code=201,
    summary="Spend points",
    description="Requires scope `loyalty:write`. Only spendable points can be spent (pending ones "
    "cannot). More than the spendable balance: 409 `insufficient_points` with `details` "
    "{spendable, pending, requested}, and nothing changes. Idempotent by `idempotency_key`: a "
    "repeat returns the first answer. 404 `customer_not_found`; 409 `idempotency_conflict`.",
    responses={**MOVEMENT_RESPONSES, **error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
    response_description="Spent.",
)
async def redeem_points(
    _key: CanWrite,
    external_id: ExternalId,
    body: PointsIn,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
) -> MovementOut:
    cid = await loyalty.customer_id_for(session, external_id=external_id)
    result = await loyalty.redeem(
        session,
        clock=clock,
        rules=rules.loyalty,
        customer_id=cid,
        points=body.points,
        reason=body.reason,
        idempotency_key=body.idempotency_key,
    )
    await session.commit()
    if result.duplicate:
        response.status_code = 200
    return MovementOut.from_result(result)


@router.post(
    "/adjust",
    status_code=201,
    summary="Correct the balance by hand",
    description="Requires scope `loyalty:write`. A signed, non-zero correction with a reason (it may "
    "take the balance below zero: it is a correction). Idempotent by `idempotency_key`. "
    "404 `customer_not_found`; 409 `idempotency_conflict`; 422 `invalid_points` (zero).",
    responses={**MOVEMENT_RESPONSES, **error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
    response_description="Adjusted.",
)
async def adjust_points(
    _key: CanWrite,
    external_id: ExternalId,
    body: AdjustIn,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
) -> MovementOut:
    cid = await loyalty.customer_id_for(session, external_id=external_id)
    result = await loyalty.adjust(
        session,
        clock=clock,
        rules=rules.loyalty,
        customer_id=cid,
        points=body.points,
        reason=body.reason,
        idempotency_key=body.idempotency_key,
    )
    await session.commit()
    if result.duplicate:
        response.status_code = 200
    return MovementOut.from_result(result)
