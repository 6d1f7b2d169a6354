"""/v1/segments: who is dormant, churned, VIP...; count and a sample, sending nothing."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import ClockDep, RulesDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.outreach.segments import (
    SegmentKindOut,
    SegmentPreviewIn,
    SegmentPreviewOut,
    SegmentSampleOut,
)
from core.apikeys import ApiKeyView
from core.outreach import segments

router = APIRouter(prefix="/v1/segments", tags=["segments"])
CanRead = Annotated[ApiKeyView, Depends(require_scope("campaigns:read"))]


@router.get(
    "",
    summary="The segments there are",
    description="Requires scope `campaigns:read`. Each kind with what it means and its default window "
    "in days (from settings: OUTREACH_DORMANT_DAYS, OUTREACH_CHURN_DAYS...).",
    responses=error_responses(401, 403, 422),
)
async def list_segments(_key: CanRead, session: SessionDep, rules: RulesDep) -> list[SegmentKindOut]:
    await session.commit()  # keeps the key's last-used time
    outreach = rules.outreach
    defaults = {
        "active": outreach.dormant_days,
        "dormant": outreach.dormant_days,
        "churned": outreach.churn_days,
        "late_churn": outreach.churn_days,
        "quick_churn": outreach.churn_days,
        **segments.DEFAULT_DAYS,
    }
    return [
        SegmentKindOut(kind=k, description=d, default_days=defaults.get(k)) for k, d in segments.KINDS.items()
    ]


@router.post(
    "/preview",
    summary="Count a segment and show a sample (sends nothing)",
    description="Requires scope `campaigns:read`. `count` is everyone in the segment, `contactable` those "
    "a message could reach now (linked to Telegram, opted in, not blocked); the frequency cap is "
    "checked at send time. The sample lists the best prospects first: most orders, longest tenure. "
    "Filters combine with AND; `tiers` and `languages` match any of their values.",
    responses=error_responses(400, 401, 403, 413, 415, 422),
)
async def preview_segment(
    _key: CanRead, body: SegmentPreviewIn, session: SessionDep, clock: ClockDep, rules: RulesDep
) -> SegmentPreviewOut:
    started = time.perf_counter()
    result = await segments.preview(
        session,
        body.to_spec(),
        now=clock.now(),
        rules=rules.outreach,
        default_language=rules.outreach.default_language,
        sample_size=body.sample_size,
    )
    await session.commit()
    return SegmentPreviewOut(
        count=result.count,
        contactable=result.contactable,
        sample=[
            SegmentSampleOut(
                customer_id=s.customer_id,
                external_id=s.external_id,
                first_name=s.first_name,
                language=s.language,
                tier=s.tier,
                orders=s.orders,
                spend_minor=s.spend_minor,
                days_inactive=s.days_inactive,
                last_engaged_at=s.last_engaged_at,
                contactable=s.contactable,
            )
            for s in result.sample
        ],
        took_ms=round((time.perf_counter() - started) * 1000, 1),
    )
