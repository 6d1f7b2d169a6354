"""/v1/surveys/nps: start NPS surveys (one customer, a list or a segment) and read the results."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.deps import ClockDep, RulesDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.common import MAX_ID, IsoDateTime
from api.schemas.surveys import (
    SKIP_REASONS,
    Category,
    NpsReportOut,
    NpsResponseOut,
    NpsResponsePage,
    NpsTriggerIn,
    NpsTriggerOut,
    Segment,
)
from core import nps
from core.apikeys import ApiKeyView

router = APIRouter(prefix="/v1/surveys/nps", tags=["surveys"])

CanRead = Annotated[ApiKeyView, Depends(require_scope("surveys:read"))]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("surveys:write"))]
Since = Annotated[IsoDateTime | None, Query(description="Period start (inclusive), ISO 8601 with zone.")]
Until = Annotated[IsoDateTime | None, Query(description="Period end (exclusive), ISO 8601 with zone.")]


@router.post(
    "",
    status_code=201,
    summary="Send an NPS survey to customers",
    description="Requires scope `surveys:write`. Give `external_ids` (one or a list) or a `segment`. "
    'The bot asks "How likely are you to recommend us?" (0-10), then an optional "why?". '
    "Throttles: nobody is asked again within NPS_ANSWERED_COOLDOWN_DAYS of answering or "
    "NPS_IGNORED_COOLDOWN_DAYS of ignoring one; a survey counts against the weekly proactive "
    f"budget. Skipped customers are counted by reason: {SKIP_REASONS}. "
    "Idempotent by `idempotency_key`: a repeat gets the first answer with `replayed: true` (200); "
    "the same key with another body is 409 `idempotency_conflict`.",
    responses={
        200: {"model": NpsTriggerOut, "description": "A repeat: the first answer."},
        **error_responses(400, 401, 403, 409, 413, 415, 422),
    },
    response_description="Scheduled (see `scheduled` / `skipped`).",
)
async def trigger_nps(
    _key: CanWrite,
    body: NpsTriggerIn,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    rules: RulesDep,
) -> NpsTriggerOut:
    result, replayed = await nps.trigger_from_api(
        session,
        clock=clock,
        rules=rules.nps,
        loyalty_rules=rules.loyalty,
        cap=rules.outreach.cap,
        idempotency_key=body.idempotency_key,
        external_ids=body.external_ids,
        segment=body.segment,
        delay=timedelta(minutes=body.delay_minutes),
    )
    await session.commit()
    if replayed:
        response.status_code = 200
    return NpsTriggerOut(**result, replayed=replayed)


@router.get(
    "/report",
    summary="NPS for a period, by tier and by trigger",
    description="Requires scope `surveys:read`. Over answers given in [since, until): counts and "
    "shares of promoters (9-10), passives (7-8) and detractors (0-6), NPS = %promoters - "
    "%detractors, and the same by the customer's tier when they answered and by what triggered "
    "the survey. Filter by `tier` or `trigger`.",
    responses=error_responses(401, 403, 422),
)
async def nps_report(
    _key: CanRead,
    session: SessionDep,
    since: Since = None,
    until: Until = None,
    tier: Annotated[Segment | None, Query(description="Only answers given in this tier.")] = None,
    trigger: Annotated[str | None, Query(pattern=r"^(api|support_case|first_purchase|menu)$")] = None,
) -> NpsReportOut:
    result = await nps.report(session, since=since, until=until, tier=tier, trigger=trigger)
    await session.commit()
    return NpsReportOut.from_report(result)


@router.get(
    "/responses",
    summary="Answers with their comments (keyset paging)",
    description="Requires scope `surveys:read`. Oldest first; pass `next_after` as `after`.",
    responses=error_responses(401, 403, 422),
)
async def nps_responses(
    _key: CanRead,
    session: SessionDep,
    since: Since = None,
    until: Until = None,
    category: Annotated[Category | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> NpsResponsePage:
    items, next_after = await nps.responses(
        session, since=since, until=until, category=category, limit=limit, after_id=after
    )
    await session.commit()
    return NpsResponsePage(
        items=[
            NpsResponseOut(
                survey_id=r.survey_id,
                customer_id=r.customer_id,
                external_id=r.external_id,
                score=r.score,
                category=r.category,  # type: ignore[arg-type]
                comment=r.comment,
                tier=r.tier,
                trigger=r.trigger,
                answered_at=r.answered_at,
            )
            for r in items
        ],
        next_after=next_after,
    )
