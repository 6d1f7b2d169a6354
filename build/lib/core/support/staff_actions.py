"""What staff do in a customer's topic, as use cases: /queue, /close, /ban and /unban, a reply
that bounced, an edit mirrored to the customer; and the rules that read a staff message (what is
a note, why a customer cannot be reached).

The staff side (dialogs/handoff/staff.py) reads the message, calls one of these and renders the
result; a reply itself is `record_staff_message` (core/support/staff.py: hot statements).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.customers import CustomerView, set_reachable
from core.support.cases import ACTIVE, CaseView, close_case, record_unreachable
from core.support.staff import staff_edited
from core.support.topics import find_by_thread, set_banned
from storage.models_support import GroupPost, SupportCase


@dataclass(frozen=True)
class QueueView:
    """/queue: active cases by state (every group's), posts still queued for this group."""

    waiting: int
    open: int
    queued: int


@dataclass(frozen=True)
class ClosedCase:
    """/close in a topic: the case that was closed and whose it was (to ask them for a rating)."""

    case: CaseView
    customer: CustomerView


@dataclass(frozen=True)
class EditedCopy:
    """Where the customer's copy of an edited staff message is."""

    customer_chat_id: int
    customer_message_id: int


def is_note(text: str | None) -> bool:
    """A note stays in the group: it starts with `//` or is a `/note` command."""
    text = (text or "").lstrip()
    return text.startswith("//") or text.split(maxsplit=1)[0:1] == ["/note"] or text.startswith("/note@")


def unreachable_reason(error: str) -> str:
    """Why a staff reply bounced with 403, as recorded on the customer and the case."""
    return "deactivated" if "deactivated" in error.lower() else "blocked"


async def queue_counts(session: AsyncSession, *, group_chat_id: int) -> QueueView:
    """How much work there is: waiting and open cases, and the posts not yet sent to this group."""
    counts = dict(
        (
            await session.execute(
                select(SupportCase.status, func.count())
                .where(SupportCase.status.in_(ACTIVE))
                .group_by(SupportCase.status)
            )
        ).all()
    )
    queued = await session.scalar(
        select(func.count()).where(GroupPost.status == "queued", GroupPost.group_chat_id == group_chat_id)
    )
    return QueueView(waiting=counts.get("waiting", 0), open=counts.get("open", 0), queued=queued or 0)


async def close_topic_case(
    session: AsyncSession, *, clock: Clock, group_chat_id: int, thread_id: int, closed_by: int
) -> ClosedCase | None:
    """Close the active case of the customer behind this forum thread; None when the thread is
    no customer's or they have no active case."""
    found = await find_by_thread(session, group_chat_id=group_chat_id, thread_id=thread_id)
    if found is None:
        return None
    topic, customer = found
    case = await close_case(session, clock=clock, customer_id=topic.customer_id, closed_by=closed_by)
    return ClosedCase(case, customer) if case is not None else None


async def ban_topic(
    session: AsyncSession, *, clock: Clock, group_chat_id: int, thread_id: int, banned: bool
) -> bool:
    """Stop (or restore) relaying the messages of the customer behind this forum thread; False
    when the thread is no customer's."""
    found = await find_by_thread(session, group_chat_id=group_chat_id, thread_id=thread_id)
    if found is None:
        return False
    topic, _ = found
    await set_banned(
        session, clock=clock, customer_id=topic.customer_id, group_chat_id=group_chat_id, banned=banned
    )
    return True


async def customer_unreachable(
    session: AsyncSession, *, clock: Clock, case_id: int, telegram_id: int, reason: str
) -> None:
    """A staff message to the customer bounced with 403: noted on the case, and the customer is
    unreachable (a churn signal) until they write again."""
    await record_unreachable(session, case_id=case_id, reason=reason)
    await set_reachable(session, clock=clock, telegram_id=telegram_id, reachable=False, reason=reason)


async def mirror_staff_edit(
    session: AsyncSession, *, clock: Clock, group_chat_id: int, topic_message_id: int, text: str | None
) -> EditedCopy | None:
    """A staff message was edited: the new text is recorded; returns where the customer's copy
    is (None when it was not relayed, e.g. a note, or did not land)."""
    msg = await staff_edited(
        session, clock=clock, group_chat_id=group_chat_id, topic_message_id=topic_message_id, text=text
    )
    if msg is None or msg.customer_message_id is None:
        return None
    return EditedCopy(customer_chat_id=msg.customer_chat_id, customer_message_id=msg.customer_message_id)
