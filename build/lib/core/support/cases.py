"""Cases and their states: opened (with the card that starts each one in the topic), answered,
closed (rated: core/support/customer.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.delivery import wake
from core.support.topics import _topic_row
from storage.models_support import GroupPost, SupportCase, SupportMessage, SupportTopic

ACTIVE = ("waiting", "open")
PRIORITY_CUSTOMER, PRIORITY_EDIT, PRIORITY_CARD, PRIORITY_REMINDER = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class CaseView:
    id: int
    customer_id: int
    number: int
    status: str
    origin: str
    origin_text: str | None
    group_chat_id: int
    opened_at: datetime
    first_staff_reply_at: datetime | None
    closed_at: datetime | None
    csat_score: int | None
    csat_comment: str | None


def case_view(row: SupportCase) -> CaseView:
    return CaseView(
        id=row.id,
        customer_id=row.customer_id,
        number=row.number,
        status=row.status,
        origin=row.origin,
        origin_text=row.origin_text,
        group_chat_id=row.group_chat_id,
        opened_at=row.opened_at,
        first_staff_reply_at=row.first_staff_reply_at,
        closed_at=row.closed_at,
        csat_score=row.csat_score,
        csat_comment=row.csat_comment,
    )


def route_group(
    *, default: int | None, routes: dict[str, int], language: str, category: str | None = None
) -> int | None:
    """Which staff group serves this customer: by FAQ category, then language, then default."""
    if category and f"category:{category}" in routes:
        return routes[f"category:{category}"]
    return routes.get(language, default)


async def active_case(session: AsyncSession, *, customer_id: int) -> CaseView | None:
    """The customer's waiting or open case, if any."""
    row = await _active_row(session, customer_id)
    return case_view(row) if row else None


_CASES = cast(Table, SupportCase.__table__)
_TOPICS = cast(Table, SupportTopic.__table__)
_MESSAGES = cast(Table, SupportMessage.__table__)


def _case_from(row: dict[str, Any]) -> CaseView:
    return CaseView(**{name: row[name] for name in CaseView.__dataclass_fields__})


async def _active_row(session: AsyncSession, customer_id: int) -> SupportCase | None:
    return (
        await session.execute(
            select(SupportCase)
            .where(SupportCase.customer_id == customer_id, SupportCase.status.in_(ACTIVE))
            .order_by(SupportCase.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def recent_case(session: AsyncSession, *, customer_id: int, since: datetime) -> CaseView | None:
    """The customer's last case if staff closed it after `since` (a follow-up goes to staff)."""
    row = (
        await session.execute(
            select(SupportCase)
            .where(
                SupportCase.customer_id == customer_id,
                SupportCase.status == "closed",
                SupportCase.closed_at >= since,
            )
            .order_by(SupportCase.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return case_view(row) if row else None


async def open_case(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    group_chat_id: int,
    origin: str,
    origin_text: str | None = None,
) -> tuple[CaseView, bool]:
    """Open a case (or return the active one); returns (case, created).

    A new case in a customer's existing topic gets a notice there; a case with a known question
    (e.g. the FAQ query that did not help) is posted to staff right away with the card.
    """
    current = await _active_row(session, customer_id)
    if current is not None:
        return case_view(current), False
    now = clock.now()
    last_number = await session.scalar(
        select(func.coalesce(func.max(SupportCase.number), 0)).where(SupportCase.customer_id == customer_id)
    )
    number = (last_number or 0) + 1
    row = SupportCase(
        customer_id=customer_id,
        number=number,
        status="waiting",
        origin=origin,
        origin_text=(origin_text or None) and origin_text[:2000],
        group_chat_id=group_chat_id,
        opened_at=now,
    )
    session.add(row)
    topic = await _topic_row(session, customer_id, group_chat_id)
    if topic is None:
        session.add(
            SupportTopic(
                customer_id=customer_id,
                group_chat_id=group_chat_id,
                thread_id=None,
                name="",
                banned=False,
                created_at=now,
                updated_at=now,
            )
        )
    await session.flush()
    if row.origin_text:
        # A known question is worth staff's attention now; a bare request waits for the
        # customer's first real message (no empty topics from a stray tap).
        await _queue_card(session, row, now)
    return case_view(row), True


async def _queue_card(session: AsyncSession, case: SupportCase, now: datetime) -> None:
    """The card opens every case in the topic: who is writing and why."""
    session.add(
        GroupPost(
            group_chat_id=case.group_chat_id,
            customer_id=case.customer_id,
            case_id=case.id,
            priority=PRIORITY_CUSTOMER,
            kind="card",
            payload={},
            status="queued",
            attempts=0,
            created_at=now,
        )
    )
    wake(session, "group_posts")
    await session.flush()


async def close_case(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    closed_by: int | None,
    status: str = "closed",
) -> CaseView | None:
    """Close the active case; None if there was none."""
    row = await _active_row(session, customer_id)
    if row is None:
        return None
    row.status, row.closed_at, row.closed_by = status, clock.now(), closed_by
    await session.flush()
    return case_view(row)


async def record_unreachable(session: AsyncSession, *, case_id: int, reason: str) -> None:
    """A staff reply bounced with 403: note it on the case (never retried)."""
    await session.execute(
        update(SupportCase).where(SupportCase.id == case_id).values(unreachable_reason=reason)
    )
