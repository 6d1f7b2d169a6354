"""Staff teach the FAQ: customer phrasings linked to entries (pending until approved through the
API, then matched like keywords at once) and answers staff sent from the FAQ (assisted answers).

The staff group's FAQ use cases (dialogs/faq/staff.py) live here too: `topic_question` and
`teach_target` find the customer's message staff act on, `teach` links its phrasing, and
`record_sent_entry` records an entry staff sent to the customer from the topic."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import support
from core.clock import Clock
from core.customers import CustomerView
from core.customers import view as customer_view
from core.errors import Conflict, Invalid, NotFound
from core.faq.model import MAX_KEYWORD
from core.faq.text import normalize
from storage.models import Customer
from storage.models_faq import FaqLearned
from storage.models_support import FaqQuery, SupportCase, SupportMessage

STATUSES = ("pending", "approved", "rejected")
LEARNED_SIGNAL = "faq_learned"  # a commit that approved or rejected a phrasing wakes this name
MAX_PHRASING = 300  # longer messages are cut here before they are stored as a phrasing


@dataclass(frozen=True, slots=True)
class LearnedView:
    id: int
    language: str
    entry_id: str
    text: str
    status: str
    customer_id: int | None
    support_message_id: int | None
    taught_by: int | None
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


def _view(row: FaqLearned) -> LearnedView:
    return LearnedView(
        id=row.id,
        language=row.language,
        entry_id=row.entry_id,
        text=row.text,
        status=row.status,
        customer_id=row.customer_id,
        support_message_id=row.support_message_id,
        taught_by=row.taught_by,
        created_at=row.created_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )


async def teach(
    session: AsyncSession,
    *,
    clock: Clock,
    language: str,
    entry_id: str,
    text: str,
    customer_id: int | None = None,
    support_message_id: int | None = None,
    taught_by: int | None = None,
) -> tuple[LearnedView, bool]:
    """Link a customer's phrasing to an entry (pending approval); (row, created). Teaching the same
    phrasing for the same entry again returns the existing row unchanged."""
    text = " ".join(text.split())[:MAX_PHRASING]
    normalized = normalize(text)[:512]
    if not normalized:
        raise Invalid("the message has no words to learn from", code="faq_learn_empty")
    existing = await session.scalar(
        select(FaqLearned).where(
            FaqLearned.language == language,
            FaqLearned.normalized == normalized,
            FaqLearned.entry_id == entry_id,
        )
    )
    if existing is not None:
        return _view(existing), False
    row = FaqLearned(
        language=language,
        entry_id=entry_id,
        text=text,
        normalized=normalized,
        status="pending",
        customer_id=customer_id,
        support_message_id=support_message_id,
        taught_by=taught_by,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():  # two taps at once: the second finds the first
            session.add(row)
            await session.flush()
    except IntegrityError:
        again = await session.scalar(
            select(FaqLearned).where(
                FaqLearned.language == language,
                FaqLearned.normalized == normalized,
                FaqLearned.entry_id == entry_id,
            )
        )
        if again is None:
            raise
        return _view(again), False
    return _view(row), True


async def list_learned(
    session: AsyncSession,
    *,
    status: str | None = None,
    language: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[LearnedView]:
    """Learned phrasings, newest first, optionally of one status and language."""
    stmt = select(FaqLearned).order_by(FaqLearned.created_at.desc(), FaqLearned.id.desc())
    if status is not None:
        stmt = stmt.where(FaqLearned.status == status)
    if language is not None:
        stmt = stmt.where(FaqLearned.language == language)
    rows = (await session.execute(stmt.limit(limit).offset(offset))).scalars().all()
    return [_view(r) for r in rows]


async def decide(
    session: AsyncSession, *, clock: Clock, learned_id: int, approve: bool, by: str
) -> LearnedView:
    """Approve or reject a phrasing (a decision can be changed later: approve after reject...)."""
    row = await session.get(FaqLearned, learned_id)
    if row is None:
        raise NotFound(f"no learned phrasing {learned_id}", code="faq_learned_not_found")
    status = "approved" if approve else "rejected"
    if row.status == status:
        raise Conflict(f"the phrasing is already {status}", code="faq_learned_already_decided")
    row.status = status
    row.decided_at = clock.now()
    row.decided_by = by[:64]
    await session.flush()
    return _view(row)


async def approved_phrasings(session: AsyncSession) -> dict[str, dict[str, list[str]]]:
    """{language: {entry id: [phrasing]}} of every approved phrasing (what the matcher uses)."""
    out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    rows = await session.execute(
        select(FaqLearned.language, FaqLearned.entry_id, FaqLearned.text)
        .where(FaqLearned.status == "approved")
        .order_by(FaqLearned.id)
    )
    for language, entry_id, text in rows:
        out[language][entry_id].append(text[:MAX_KEYWORD])
    return {lang: dict(entries) for lang, entries in out.items()}


async def record_assisted(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    language: str,
    text: str,
    entry_id: str,
) -> int:
    """Staff sent an FAQ entry to a customer from the topic: an assisted answer (a person was
    needed, so it never counts as self-service deflection)."""
    row = FaqQuery(
        customer_id=customer_id,
        language=language,
        text=text[:2000],
        normalized=normalize(text)[:512],
        result="assisted",
        entry_id=entry_id,
        score=None,
        helpful=None,
        escalated=False,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    return row.id


async def forget_customer(session: AsyncSession, customer_id: int) -> None:
    """After /forget: pending and rejected phrasings of the customer are deleted; approved ones are
    FAQ content by then and stay, no longer linked to the customer."""
    await session.execute(
        delete(FaqLearned).where(FaqLearned.customer_id == customer_id, FaqLearned.status != "approved")
    )
    await session.execute(
        update(FaqLearned).where(FaqLearned.customer_id == customer_id).values(customer_id=None)
    )


# ------------------------------------------------------------------ staff in a customer's topic


@dataclass(frozen=True, slots=True)
class TopicQuestion:
    """A customer's message relayed into their staff topic: what staff answer from the FAQ or
    teach the FAQ with."""

    support_message_id: int
    text: str  # "" for a message without text (a photo...)
    customer: CustomerView  # the case's customer (the FAQ language is theirs)


@dataclass(frozen=True, slots=True)
class TeachTarget:
    """What `/teach` in a topic acts on: the topic's customer and their message (None when the
    topic holds no message of theirs, or none behind the message staff replied to)."""

    customer: CustomerView
    question: TopicQuestion | None


async def topic_question(
    session: AsyncSession, *, support_message_id: int, group_chat_id: int
) -> TopicQuestion | None:
    """The customer's message under which staff pressed an FAQ button (None: not in this group,
    or gone, e.g. scrubbed after /forget)."""
    row = (
        await session.execute(
            select(SupportMessage, Customer)
            .join(SupportCase, SupportCase.id == SupportMessage.case_id)
            .join(Customer, Customer.id == SupportCase.customer_id)
            .where(SupportMessage.id == support_message_id, SupportMessage.group_chat_id == group_chat_id)
        )
    ).first()
    if row is None:
        return None
    msg, customer = row[0], row[1]
    return TopicQuestion(msg.id, msg.text or "", customer_view(customer))


async def teach_target(
    session: AsyncSession, *, group_chat_id: int, thread_id: int, reply_to: int | None
) -> TeachTarget | None:
    """`/teach` in a forum thread: the thread's customer and the message to learn from: the
    customer's message relayed as `reply_to` when staff replied to one, else the customer's latest
    message in this group. None when the thread is no customer's topic."""
    found = await support.find_by_thread(session, group_chat_id=group_chat_id, thread_id=thread_id)
    if found is None:
        return None
    topic, customer = found
    stmt = (
        select(SupportMessage)
        .join(SupportCase, SupportCase.id == SupportMessage.case_id)
        .where(
            SupportCase.customer_id == topic.customer_id,
            SupportMessage.direction == "in",
            SupportMessage.group_chat_id == group_chat_id,
        )
    )
    if reply_to is not None:
        stmt = stmt.where(SupportMessage.topic_message_id == reply_to)
    msg = await session.scalar(stmt.order_by(SupportMessage.id.desc()).limit(1))
    if msg is None:
        return TeachTarget(customer, None)
    return TeachTarget(customer, TopicQuestion(msg.id, msg.text or "", customer))


async def record_sent_entry(
    session: AsyncSession,
    *,
    clock: Clock,
    question: TopicQuestion,
    entry_id: str,
    text: str,
    group_chat_id: int,
    note_message_id: int,
    staff_id: int,
    customer_message_id: int,
) -> int:
    """Staff sent an FAQ entry (`text`, as the customer received it as `customer_message_id`) in
    answer to `question`, and the bot noted it in the topic (`note_message_id`): the case records
    it as the staff's reply, delivered where it landed (edit sync), and the FAQ as an assisted
    answer. One transaction: the reply and its assisted answer are never counted apart."""
    _, support_message_id = await support.staff_reply(
        session,
        clock=clock,
        customer_id=question.customer.id,
        group_chat_id=group_chat_id,
        topic_message_id=note_message_id,
        staff_id=staff_id,
        kind="text",
        text=text,
    )
    if support_message_id is not None:
        await support.mark_delivered(
            session, support_message_id=support_message_id, customer_message_id=customer_message_id
        )
    return await record_assisted(
        session,
        clock=clock,
        customer_id=question.customer.id,
        language=question.customer.language,
        text=question.text,
        entry_id=entry_id,
    )
