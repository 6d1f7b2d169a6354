"""What a customer does with support, one use case each (dialogs/handoff/customer.py calls them):
ask for a person, cancel the request, rate a closed case (CSAT), write again soon after a case
closed (a follow-up opens the next case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import faq_stats
from core.business_hours import BusinessHours
from core.clock import Clock
from core.errors import Invalid, NotFound
from core.support.cases import CaseView, case_view, close_case, open_case, recent_case
from core.support.posts import queue_notice
from core.support.relay import relay_customer_message
from core.support.topics import is_banned
from storage.models_support import SupportCase


@dataclass(frozen=True, slots=True)
class PersonRequest:
    """What asking for a person did: `case` (None: no staff group serves them), whether it is a
    new one, whether its question went to staff with it, and when support opens next if it is
    closed now (None: staffed now)."""

    case: CaseView | None
    created: bool
    with_question: bool
    opens_at: datetime | None


async def request_person(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    group_chat_id: int | None,
    origin: str,
    hours: BusinessHours,
    faq_query_id: int = 0,
) -> PersonRequest:
    """Open the customer's case (or point to the active one) in `group_chat_id`.

    Asked under an FAQ answer (`faq_query_id`), the answer is marked unhelpful and escalated,
    and the question travels with the case (staff get it with the card at once). That is
    recorded even when no staff group serves the customer: the FAQ figures count the need."""
    origin_text = None
    if faq_query_id:
        asked = await faq_stats.escalate(session, query_id=faq_query_id, customer_id=customer_id)
        origin_text = asked.text if asked is not None else None
    if group_chat_id is None:
        return PersonRequest(case=None, created=False, with_question=False, opens_at=None)
    case, created = await open_case(
        session,
        clock=clock,
        customer_id=customer_id,
        group_chat_id=group_chat_id,
        origin=origin,
        origin_text=origin_text,
    )
    now = clock.now()
    opens_at = None if hours.is_open(now) else hours.next_open(now)
    return PersonRequest(case=case, created=created, with_question=bool(origin_text), opens_at=opens_at)


async def cancel_case(session: AsyncSession, *, clock: Clock, customer_id: int) -> CaseView | None:
    """The customer withdraws their request: the active case ends as cancelled and staff are
    told in its topic. None when there was nothing to cancel."""
    case = await close_case(session, clock=clock, customer_id=customer_id, closed_by=None, status="cancelled")
    if case is not None:
        await queue_notice(
            session,
            clock=clock,
            customer_id=customer_id,
            group_chat_id=case.group_chat_id,
            case_id=case.id,
            key="staff-case-cancelled",
            number=case.number,
        )
    return case


@dataclass(frozen=True, slots=True)
class Rating:
    """What a CSAT answer did. `case` is None when the case is not this customer's (a keyboard
    forwarded or forged): nothing is stored. `stored` is False when a score came for a case
    rated already: the first score counts."""

    case: CaseView | None
    stored: bool


async def rate_case(
    session: AsyncSession,
    *,
    clock: Clock,
    case_id: int,
    customer_id: int,
    score: int | None = None,
    comment: str | None = None,
) -> Rating:
    """Store the CSAT score (1-5) and/or comment of a closed case and tell staff in its topic.

    Raises NotFound for a case that does not exist, Invalid for a score outside 1-5."""
    row = await session.get(SupportCase, case_id)
    if row is None:
        raise NotFound("case not found", code="case_not_found")
    if row.customer_id != customer_id:
        return Rating(case=None, stored=False)
    if score is not None:
        if row.csat_score is not None:
            return Rating(case=case_view(row), stored=False)
        if not 1 <= score <= 5:
            raise Invalid("CSAT score must be 1-5", code="invalid_score")
        row.csat_score, row.csat_at = score, clock.now()
    if comment is not None:
        row.csat_comment = comment[:2000]
    await session.flush()
    case = case_view(row)
    if score is not None:
        await queue_notice(
            session,
            clock=clock,
            customer_id=customer_id,
            group_chat_id=case.group_chat_id,
            case_id=case.id,
            key="staff-csat",
            number=case.number,
            score=score,
        )
    if comment is not None:
        await queue_notice(
            session,
            clock=clock,
            customer_id=customer_id,
            group_chat_id=case.group_chat_id,
            case_id=case.id,
            key="staff-csat-comment",
            number=case.number,
            comment=comment[:1000],
        )
    return Rating(case=case, stored=True)


async def follow_up_case(
    session: AsyncSession, *, clock: Clock, customer_id: int, days: int
) -> CaseView | None:
    """The case a message from this customer follows up: their last case if staff closed it in
    the last `days` days (0: follow-ups are off) and staff did not stop relaying them."""
    if days == 0:
        return None
    last = await recent_case(session, customer_id=customer_id, since=clock.now() - timedelta(days=days))
    if last is None or await is_banned(session, customer_id=customer_id):
        return None
    return last


@dataclass(frozen=True, slots=True)
class FollowUp:
    case: CaseView
    created: bool  # False: the case was opened by an earlier message (an album's first photo)


async def follow_up(
    session: AsyncSession, *, clock: Clock, last: CaseView, message: dict[str, Any]
) -> FollowUp:
    """A message soon after a case closed opens the next case in the same staff group, and goes
    to staff as its first message. `message`: `relay_customer_message`'s arguments."""
    case, created = await open_case(
        session,
        clock=clock,
        customer_id=last.customer_id,
        group_chat_id=last.group_chat_id,
        origin="message",
    )
    await relay_customer_message(session, clock=clock, case=case, **message)
    return FollowUp(case=case, created=created)
