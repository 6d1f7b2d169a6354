"""/v1/events: what customers do outside the bot (activity, subscriptions, carts), idempotent by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import ClockDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.outreach.events import EventResultOut, EventsIn, EventsOut
from core.apikeys import ApiKeyView
from core.outreach import stats
from core.outreach.stats import EventInput

router = APIRouter(prefix="/v1/events", tags=["events"])
CanWrite = Annotated[ApiKeyView, Depends(require_scope("customers:write"))]


@router.post(
    "",
    summary="Record customer events (batch, idempotent by event id)",
    description="Requires scope `customers:write`. Events keep segments current: `activity` (a visit, "
    "an app open) and `subscription_started` / `cart_abandoned` count as activity (not dormant); "
    "`subscription_expiring` (with `expires_at`) and `subscription_cancelled` (an explicit churn) "
    "drive renewal and churn segments. Purchases come from `POST /v1/orders`; messages to the bot "
    "count as activity by themselves. An event id seen before is acknowledged (`duplicate: true`) "
    "and changes nothing. Unknown customer ids create the customer. "
    "422 `expires_at_required` for `subscription_expiring` without `expires_at`.",
    responses=error_responses(400, 401, 403, 413, 415, 422),
)
async def record_events(_key: CanWrite, body: EventsIn, session: SessionDep, clock: ClockDep) -> EventsOut:
    now = clock.now()
    items = [
        (
            e.customer_external_id,
            EventInput(
                event_id=e.event_id,
                kind=e.kind,
                occurred_at=e.occurred_at or now,
                expires_at=e.expires_at,
                product=e.product,
                data=dict(e.data or {}),
            ),
        )
        for e in body.events
    ]
    results = await stats.record_backend_events(session, clock=clock, items=items)
    await session.commit()
    duplicates = sum(1 for r in results if r.duplicate)
    return EventsOut(
        recorded=len(results) - duplicates,
        duplicates=duplicates,
        results=[EventResultOut(event_id=r.event_id, duplicate=r.duplicate) for r in results],
    )
