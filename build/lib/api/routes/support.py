"""/v1/support: cases handled by staff, with their messages, and the staff-group queue."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from api.deps import SessionDep, require_scope
from api.errors import error_responses
from api.schemas.common import MAX_ID
from core import support
from core.apikeys import ApiKeyView

router = APIRouter(prefix="/v1/support", tags=["support"])
CanRead = Annotated[ApiKeyView, Depends(require_scope("support:read"))]


class CaseOut(BaseModel):
    id: int
    customer_id: int
    number: int
    status: Literal["waiting", "open", "closed", "cancelled"]
    origin: str
    origin_text: str | None
    group_chat_id: int
    opened_at: datetime
    first_staff_reply_at: datetime | None
    closed_at: datetime | None
    csat_score: int | None
    csat_comment: str | None


class CaseMessageOut(BaseModel):
    id: int
    direction: Literal["in", "out", "note"]
    kind: str
    text: str | None
    staff_id: int | None
    created_at: datetime
    edited_at: datetime | None


class CaseDetail(CaseOut):
    messages: list[CaseMessageOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    next_after: int | None


class QueueOut(BaseModel):
    groups: dict[str, int]
    total: int


@router.get(
    "/cases",
    summary="List support cases",
    description="Requires scope `support:read`. `status=active` means waiting or open. "
    "Keyset paging: pass `next_after` as `after`.",
    responses=error_responses(401, 403, 422),
)
async def list_cases(
    _key: CanRead,
    session: SessionDep,
    status: Annotated[Literal["active", "waiting", "open", "closed", "cancelled"] | None, Query()] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> CasePage:
    rows = await support.list_cases(
        session, status=status, customer_id=customer_id, limit=limit, after_id=after
    )
    items = [CaseOut(**_as_dict(r)) for r in rows]
    return CasePage(items=items, next_after=items[-1].id if len(items) == limit else None)


def _as_dict(case: support.CaseView) -> dict[str, Any]:
    return dataclasses.asdict(case)


@router.get(
    "/cases/{case_id}",
    summary="One case with its messages",
    description="Requires scope `support:read`. Messages: `in` from the customer, `out` from "
    "staff, `note` internal notes.",
    responses=error_responses(401, 403, 404, 422),
)
async def get_case(
    _key: CanRead, session: SessionDep, case_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> CaseDetail:
    case = await support.get_case(session, case_id=case_id)
    messages = await support.case_messages(session, case_id=case_id)
    return CaseDetail(**_as_dict(case), messages=[CaseMessageOut(**m) for m in messages])


@router.get(
    "/queue",
    summary="Posts waiting to go into each staff group",
    description="Requires scope `support:read`. Telegram allows about 20 bot messages a "
    "minute per group; this is the backlog per group chat id.",
    responses=error_responses(401, 403, 422),
)
async def queue(_key: CanRead, session: SessionDep) -> QueueOut:
    depth = await support.queue_depth(session)
    return QueueOut(groups={str(k): v for k, v in depth.items()}, total=sum(depth.values()))
