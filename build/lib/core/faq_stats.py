"""What customers asked the FAQ, whether it helped, and how many questions needed no human.

The customer's FAQ use cases (dialogs/faq/handlers.py) live here too: `ask` (free text answered
from the FAQ and logged), `browse` (an entry opened from the categories, logged), `set_feedback`
("did this help?") and `escalate` ("talk to a person" under an FAQ reply, dialogs/handoff)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Date, and_, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.faq import FaqEntry, FaqLibrary, FaqMatch
from core.faq.text import normalize
from storage.dialect import is_postgres
from storage.models_support import FaqQuery


async def record_query(
    session: AsyncSession,
    *,
    now: datetime,
    customer_id: int | None,
    language: str,
    text: str,
    result: str,
    entry_id: str | None,
    score: float | None,
) -> int:
    """Log one FAQ lookup (free text or browsing); returns its id for feedback."""
    row = FaqQuery(
        customer_id=customer_id,
        language=language,
        text=text[:2000],
        normalized=normalize(text)[:512],
        result=result,
        entry_id=entry_id,
        score=score,
        helpful=None,
        escalated=False,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row.id


@dataclass(frozen=True)
class FaqQueryView:
    """One logged FAQ lookup, as the bot needs it after "did this help?" or "talk to a person"."""

    id: int
    customer_id: int | None
    language: str
    text: str
    result: str  # answer | suggest | none | browse | assisted
    entry_id: str | None
    helpful: bool | None
    escalated: bool


def _view(row: FaqQuery) -> FaqQueryView:
    return FaqQueryView(
        id=row.id,
        customer_id=row.customer_id,
        language=row.language,
        text=row.text,
        result=row.result,
        entry_id=row.entry_id,
        helpful=row.helpful,
        escalated=row.escalated,
    )


@dataclass(frozen=True)
class Asked:
    """A customer's free text looked up in the FAQ: the match (answer, suggestions or nothing)
    and the logged lookup, whose id the reply's buttons carry ("did this help?", a person)."""

    match: FaqMatch
    query_id: int


async def ask(
    session: AsyncSession,
    *,
    library: FaqLibrary,
    now: datetime,
    customer_id: int,
    language: str,
    text: str,
) -> Asked:
    """Free text outside a case: match it against the FAQ of the customer's language and log the
    lookup (the best entry and its score only when something matched), so unanswered and
    unhelpful questions show up in the FAQ gaps and the deflection report."""
    match = library.search(language, text)
    query_id = await record_query(
        session,
        now=now,
        customer_id=customer_id,
        language=language,
        text=text,
        result=match.kind,
        entry_id=(match.best.id if match.best else None),
        score=match.score if match.best else None,
    )
    return Asked(match, query_id)


@dataclass(frozen=True)
class Browsed:
    """An entry opened from the categories (or a suggestion) and its logged lookup."""

    entry: FaqEntry
    query_id: int


async def browse(
    session: AsyncSession,
    *,
    library: FaqLibrary,
    now: datetime,
    customer_id: int,
    language: str,
    entry_id: str,
) -> Browsed | None:
    """Open an entry by its id (from a button): logged as a "browse" lookup so "did this help?"
    counts for it too. None when the entry is gone (the FAQ changed since the button was sent):
    nothing is logged."""
    entry = library.entry(language, entry_id)
    if entry is None:
        return None
    query_id = await record_query(
        session,
        now=now,
        customer_id=customer_id,
        language=language,
        text=entry.question,
        result="browse",
        entry_id=entry.id,
        score=None,
    )
    return Browsed(entry, query_id)


async def set_feedback(
    session: AsyncSession, *, query_id: int, customer_id: int, helpful: bool
) -> FaqQueryView | None:
    """Record "did this help?"; returns the query (None if not this customer's)."""
    row = await session.get(FaqQuery, query_id)
    if row is None or row.customer_id != customer_id:
        return None
    row.helpful = helpful
    await session.flush()
    return _view(row)


async def mark_escalated(session: AsyncSession, *, query_id: int, customer_id: int) -> None:
    await session.execute(
        update(FaqQuery)
        .where(FaqQuery.id == query_id, FaqQuery.customer_id == customer_id)
        .values(escalated=True)
    )


async def escalate(session: AsyncSession, *, query_id: int, customer_id: int) -> FaqQueryView | None:
    """ "Talk to a person" under an FAQ reply: the reply did not help (helpful is False, whatever
    the lookup's result) and the question went to a person (escalated: never deflected). Returns
    the question, whose text travels with the request (None if it is not this customer's)."""
    asked = await set_feedback(session, query_id=query_id, customer_id=customer_id, helpful=False)
    if asked is None:
        return None
    await mark_escalated(session, query_id=asked.id, customer_id=customer_id)
    return replace(asked, escalated=True)


@dataclass(frozen=True)
class FrequentQuestion:
    normalized: str
    example: str
    language: str
    count: int
    unanswered: int
    unhelpful: int
    last_asked: datetime


async def frequent_gaps(
    session: AsyncSession, *, since: datetime, limit: int = 20, language: str | None = None
) -> list[FrequentQuestion]:
    """Questions the FAQ could not answer or whose answer did not help, most frequent first."""
    gap = or_(FaqQuery.result == "none", FaqQuery.helpful.is_(False), FaqQuery.escalated)
    stmt = (
        select(
            FaqQuery.normalized,
            func.min(FaqQuery.text),
            FaqQuery.language,
            func.count(),
            func.sum(cast(FaqQuery.result == "none", type_=FaqQuery.id.type)),
            func.sum(cast(FaqQuery.helpful.is_(False), type_=FaqQuery.id.type)),
            func.max(FaqQuery.created_at),
        )
        .where(FaqQuery.created_at >= since, FaqQuery.result.not_in(("browse", "assisted")), gap)
        .group_by(FaqQuery.normalized, FaqQuery.language)
        .order_by(func.count().desc(), func.max(FaqQuery.created_at).desc())
        .limit(limit)
    )
    if language:
        stmt = stmt.where(FaqQuery.language == language)
    rows = (await session.execute(stmt)).all()
    out = []
    for norm, example, lang, count, none, unhelpful, last in rows:
        if last is not None and last.tzinfo is None:
            from datetime import UTC

            last = last.replace(tzinfo=UTC)
        out.append(
            FrequentQuestion(norm, example, lang, int(count), int(none or 0), int(unhelpful or 0), last)
        )
    return out


@dataclass(frozen=True)
class DeflectionDay:
    day: date
    questions: int  # self-service lookups (typed or browsed); assisted answers not included
    deflected: int
    escalated: int
    assisted: int = 0  # FAQ entries staff sent from a customer's topic (a person was needed)

    @property
    def rate(self) -> float | None:
        return None if self.questions == 0 else self.deflected / self.questions


async def deflection_by_day(session: AsyncSession, *, start: datetime, end: datetime) -> list[DeflectionDay]:
    """Per UTC day: FAQ answers shown, how many ended without a human (not 'no', not escalated),
    and, apart, answers staff sent from the FAQ (assisted; never counted as questions or deflected)."""
    day = cast(FaqQuery.created_at, Date) if is_postgres(session) else func.date(FaqQuery.created_at)
    answered = FaqQuery.result.in_(("answer", "browse"))
    deflected = and_(answered, FaqQuery.helpful.is_not(False), FaqQuery.escalated.is_(False))
    self_service = FaqQuery.result != "assisted"
    rows = (
        await session.execute(
            select(
                day,
                func.sum(cast(self_service, type_=FaqQuery.id.type)),
                func.sum(cast(deflected, type_=FaqQuery.id.type)),
                func.sum(cast(FaqQuery.escalated, type_=FaqQuery.id.type)),
                func.sum(cast(FaqQuery.result == "assisted", type_=FaqQuery.id.type)),
            )
            .where(FaqQuery.created_at >= start, FaqQuery.created_at < end)
            .group_by(day)
            .order_by(day)
        )
    ).all()
    by_day = {
        (d if isinstance(d, date) else date.fromisoformat(str(d))): (
            int(q or 0),
            int(x or 0),
            int(e or 0),
            int(a or 0),
        )
        for d, q, x, e, a in rows
    }
    out = []
    cursor = start.date()
    while cursor < end.date() or (cursor == end.date() and end.time() != datetime.min.time()):
        q, x, e, a = by_day.get(cursor, (0, 0, 0, 0))
        out.append(DeflectionDay(cursor, q, x, e, a))
        cursor += timedelta(days=1)
    return out
