"""Read models of cases for the API and reports, and the erasure after /forget."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.support.cases import ACTIVE, CaseView, case_view
from storage.models_support import FaqQuery, GroupPost, SupportCase, SupportMessage


async def list_cases(
    session: AsyncSession,
    *,
    status: str | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    after_id: int = 0,
) -> list[CaseView]:
    """Cases, newest last (keyset paging by id)."""
    stmt = select(SupportCase).where(SupportCase.id > after_id)
    if status == "active":
        stmt = stmt.where(SupportCase.status.in_(ACTIVE))
    elif status:
        stmt = stmt.where(SupportCase.status == status)
    if customer_id is not None:
        stmt = stmt.where(SupportCase.customer_id == customer_id)
    rows = (await session.execute(stmt.order_by(SupportCase.id).limit(limit))).scalars()
    return [case_view(r) for r in rows]


async def case_messages(session: AsyncSession, *, case_id: int) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(SupportMessage).where(SupportMessage.case_id == case_id).order_by(SupportMessage.id)
        )
    ).scalars()
    return [
        {
            "id": m.id,
            "direction": m.direction,
            "kind": m.kind,
            "text": m.text,
            "staff_id": m.staff_id,
            "created_at": m.created_at,
            "edited_at": m.edited_at,
        }
        for m in rows
    ]


async def get_case(session: AsyncSession, *, case_id: int) -> CaseView:
    row = await session.get(SupportCase, case_id)
    if row is None:
        raise NotFound("case not found", code="case_not_found")
    return case_view(row)


async def scrub_customer(session: AsyncSession, customer_id: int) -> None:
    """After /forget: erase what the customer wrote to support and the FAQ, and drop posts
    still queued for staff (counts, scores and timings stay for the figures)."""
    await session.execute(
        update(SupportCase)
        .where(SupportCase.customer_id == customer_id)
        .values(origin_text=None, csat_comment=None)
    )
    cases = select(SupportCase.id).where(SupportCase.customer_id == customer_id)
    await session.execute(update(SupportMessage).where(SupportMessage.case_id.in_(cases)).values(text=None))
    await session.execute(
        update(FaqQuery).where(FaqQuery.customer_id == customer_id).values(text="", normalized="")
    )
    await session.execute(
        update(GroupPost)
        .where(GroupPost.customer_id == customer_id, GroupPost.status == "queued")
        .values(status="skipped", error="customer erased their data", payload={})
    )
