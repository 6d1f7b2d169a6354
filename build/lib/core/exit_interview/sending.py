"""Exit interviews' send queue: claimed with the send-time rules, marked sent or failed,
recovered after a crash, expired when nobody answered (core/delivery does the queue work)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core import delivery
from core.clock import Clock
from core.contact_policy import lock_customers, record_contact
from core.customers import CustomerView
from core.exit_interview.interviews import QUEUE
from core.exit_interview.rules import ExitRules
from core.loyalty.notices import PROACTIVE, claim_recipient
from storage.models_loyalty import ExitInterview


@dataclass(frozen=True, slots=True)
class OutgoingInterview:
    id: int
    customer: CustomerView
    event: str | None


async def claim_interviews(
    session: AsyncSession, *, clock: Clock, cap: timedelta, limit: int = 20, owner: str = ""
) -> list[OutgoingInterview]:
    """Due interviews that may go now (claimed by `owner`); the rest wait or are skipped."""
    now = clock.now()
    rows = await delivery.lock_due(session, QUEUE, now=now, limit=limit)
    await lock_customers(session, [r.customer_id for r in rows])
    out: list[OutgoingInterview] = []
    for row in rows:
        customer = await claim_recipient(
            session,
            row,
            now=now,
            cap=cap,
            policy=PROACTIVE,
            deadline=row.send_deadline,
            late_reason="deadline_passed",
            queue=QUEUE,
            owner=owner,
        )
        if customer is not None:
            out.append(OutgoingInterview(row.id, customer, row.event))
    await session.flush()
    return out


async def interview_sent(
    session: AsyncSession, *, clock: Clock, interview_id: int, chat_id: int, message_id: int | None
) -> None:
    row = await session.get(ExitInterview, interview_id)
    if row is None:
        return
    row.status, row.sent_at, row.chat_id, row.message_id = "sent", clock.now(), chat_id, message_id
    row.owner, row.lease_until = None, None
    await record_contact(
        session, customer_id=row.customer_id, kind="exit_interview", ref=str(row.id), now=clock.now()
    )
    await session.flush()


async def interview_failed(
    session: AsyncSession, *, interview_id: int, reason: str, retry_at: datetime | None = None
) -> None:
    values: dict[str, Any] = (
        {"status": "scheduled", "not_before": retry_at}
        if retry_at
        else {"status": "failed", "skip_reason": reason[:32]}
    )
    await delivery.finish(session, QUEUE, [interview_id], **values)


async def recover_interviews(session: AsyncSession, *, clock: Clock, everything: bool = True) -> int:
    """What a dead worker left: claimed interviews go back to the schedule; ones on the wire
    may have arrived: never ask twice."""
    gone: list[tuple[int, int]] = []
    _, lost = await delivery.recover(
        session,
        QUEUE,
        now=clock.now(),
        everything=everything,
        lost={"status": "sent", "sent_at": clock.now()},
        lost_rows=gone,
    )
    for interview_id, customer_id in gone:  # it probably arrived: it counts against the budget
        await record_contact(
            session, customer_id=customer_id, kind="exit_interview", ref=str(interview_id), now=clock.now()
        )
    return lost


async def expire_interviews(session: AsyncSession, *, clock: Clock, rules: ExitRules) -> int:
    """Interviews nobody answered within the window."""
    result = await session.execute(
        update(ExitInterview)
        .where(ExitInterview.status == "sent", ExitInterview.sent_at <= clock.now() - rules.answer_window)
        .values(status="expired")
    )
    return int(getattr(result, "rowcount", 0) or 0)
