"""/v1/exit-interviews and /v1/features: why customers leave, and telling them a missed feature shipped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.deps import ClockDep, RulesDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.common import IsoDateTime
from api.schemas.surveys import (
    ExitInterviewIn,
    ExitInterviewOut,
    ExitReportOut,
    FeatureShippedIn,
    FeatureShippedOut,
)
from core import exit_interview
from core.apikeys import ApiKeyView

router = APIRouter(tags=["exit interviews"])

CanRead = Annotated[ApiKeyView, Depends(require_scope("surveys:read"))]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("surveys:write"))]


@router.post(
    "/v1/exit-interviews",
    status_code=201,
    summary="Ask a leaving customer why (after an event such as a cancelled subscription)",
    description="Requires scope `surveys:write`. The bot asks why with one tap (too expensive, "
    "missing a feature, switched provider, no longer needed, technical problems, poor support, "
    "taking a break, other) and answers as the reason deserves: a save offer (promo code) for "
    "price, a person at once for poor support or technical problems, a reminder date for a break. "
    "`status` is `scheduled` or `skipped` with `skip_reason`. Idempotent by `idempotency_key` "
    "(a repeat gets the first answer, 200, `replayed: true`). 404 `customer_not_found`; 409 "
    "`idempotency_conflict`.",
    responses={
        200: {"model": ExitInterviewOut, "description": "A repeat: the first answer."},
        **error_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
    response_description="Scheduled or skipped (see `status`).",
)
async def start_exit_interview(
    _key: CanWrite,
    body: ExitInterviewIn,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
) -> ExitInterviewOut:
    result, replayed = await exit_interview.request_from_api(
        session,
        clock=clock,
        rules=rules.exit,
        idempotency_key=body.idempotency_key,
        external_id=body.external_id,
        event=body.event,
    )
    await session.commit()
    if replayed:
        response.status_code = 200
    return ExitInterviewOut(**result, replayed=replayed)


@router.get(
    "/v1/exit-interviews/report",
    summary="Why customers leave: reasons, missing features, save rate",
    description="Requires scope `surveys:read`. For interviews that reached customers in "
    "[since, until): reasons by count and share of the answers (with how many of those customers "
    "were saved), the most requested missing features, and the save rate: customers who ordered "
    "again within EXIT_SAVE_WINDOW_DAYS after their interview.",
    responses=error_responses(401, 403, 422),
)
async def exit_report(
    _key: CanRead,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
    since: Annotated[IsoDateTime | None, Query(description="Period start (inclusive).")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Period end (exclusive).")] = None,
    top: Annotated[int, Query(ge=1, le=100, description="How many features to list.")] = 10,
) -> ExitReportOut:
    result = await exit_interview.report(
        session, clock=clock, rules=rules.exit, since=since, until=until, top=top
    )
    await session.commit()
    return ExitReportOut.from_report(result)


@router.post(
    "/v1/features/shipped",
    summary="A feature shipped: tell everyone who missed it, once",
    description="Requires scope `surveys:write`. Customers who named this feature (or one of its "
    "`aliases`; case, punctuation and spacing do not matter) in an exit interview get one message "
    "that it is available. Calling it again tells nobody twice; people who name it later are told "
    "it already exists.",
    responses=error_responses(400, 401, 403, 413, 415, 422),
)
async def feature_shipped(
    _key: CanWrite, body: FeatureShippedIn, session: SessionDep, clock: ClockDep
) -> FeatureShippedOut:
    result = await exit_interview.feature_shipped(
        session, clock=clock, feature=body.feature, aliases=body.aliases
    )
    await session.commit()
    return FeatureShippedOut(
        feature_key=result.feature_key,
        matched_keys=result.matched_keys,
        requests=result.requests,
        notified=result.notified,
    )
