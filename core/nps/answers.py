"""What a customer answers (score, comment) and what follows for detractors: the staff alert
and, when asked for, a support case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import support
from core.clock import Clock
from core.errors import NotFound
from core.loyalty.queries import customer_tiers
from core.loyalty.rules import LoyaltyRules
from core.nps.rules import DETRACTOR, NpsRules, nps_category
from core.nps.surveys import SurveyView, _view
from storage.models_loyalty import Survey

# ------------------------------------------------------------------ answers


@dataclass(frozen=True, slots=True)
class ScoreResult:
    survey_id: int
    score: int
    category: str
    already: bool  # the survey had been answered before; the first answer stands


async def _own(session: AsyncSession, survey_id: int, customer_id: int) -> Survey:
    row = await session.get(Survey, survey_id)
    if row is None or row.customer_id != customer_id or row.status in ("skipped", "failed", "scheduled"):
        raise NotFound("survey not found", code="survey_not_found")
    return row


async def start_from_menu(
    session: AsyncSession, *, clock: Clock, rules: NpsRules, customer_id: int, chat_id: int
) -> SurveyView:
    """The customer chose to rate us: an unthrottled survey that is not a proactive message."""
    now = clock.now()
    row = Survey(
        customer_id=customer_id,
        trigger="menu",
        status="sent",
        not_before=now,
        sent_at=now,
        expires_at=now + rules.answer_window,
        chat_id=chat_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return _view(row)


async def record_score(
    session: AsyncSession,
    *,
    clock: Clock,
    loyalty_rules: LoyaltyRules,
    survey_id: int,
    customer_id: int,
    score: int,
) -> ScoreResult:
    """Store the 0-10 answer (the first one counts) with the customer's tier at that moment."""
    category = nps_category(score)
    row = await _own(session, survey_id, customer_id)
    if row.score is not None:
        return ScoreResult(row.id, row.score, row.category or nps_category(row.score), True)
    tier = (await customer_tiers(session, rules=loyalty_rules, customer_ids=[customer_id]))[customer_id]
    row.score, row.category, row.tier = score, category, tier
    row.status, row.answered_at = "answered", clock.now()
    await session.flush()
    return ScoreResult(row.id, score, category, False)


async def record_comment(
    session: AsyncSession, *, clock: Clock, survey_id: int, customer_id: int, comment: str | None
) -> tuple[SurveyView, bool]:
    """The answer to 'why?' (None: skipped). Returns (survey, whether this call completed it)."""
    row = await _own(session, survey_id, customer_id)
    if row.score is None:
        raise NotFound("survey not answered yet", code="survey_not_answered")
    if row.completed_at is not None:
        return _view(row), False
    row.comment = comment.strip()[:2000] if comment and comment.strip() else None
    row.completed_at = clock.now()
    await session.flush()
    return _view(row), True


async def own_survey(session: AsyncSession, *, survey_id: int, customer_id: int) -> SurveyView:
    """The customer's own survey (NotFound for another's: a forged button shows nothing)."""
    return _view(await _own(session, survey_id, customer_id))


async def get_survey(session: AsyncSession, *, survey_id: int) -> SurveyView:
    row = await session.get(Survey, survey_id)
    if row is None:
        raise NotFound("survey not found", code="survey_not_found")
    return _view(row)


async def last_response(session: AsyncSession, *, customer_id: int) -> SurveyView | None:
    """The customer's latest answered survey."""
    row = (
        await session.execute(
            select(Survey)
            .where(Survey.customer_id == customer_id, Survey.score.is_not(None))
            .order_by(Survey.answered_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return _view(row) if row else None


@dataclass(frozen=True, slots=True)
class MenuRating:
    survey: SurveyView | None  # the survey to show, or None: they rated recently
    last: SurveyView | None  # their latest answered survey, if any


async def rate_from_menu(
    session: AsyncSession, *, clock: Clock, rules: NpsRules, customer_id: int, chat_id: int
) -> MenuRating:
    """'Rate us' from the menu: a new survey, unless their last answer is younger than the
    cooldown (one answer per cooldown counts; they are shown the one they gave)."""
    last = await last_response(session, customer_id=customer_id)
    if last is not None and last.answered_at and clock.now() - last.answered_at < rules.answered_cooldown:
        return MenuRating(None, last)
    survey = await start_from_menu(
        session, clock=clock, rules=rules, customer_id=customer_id, chat_id=chat_id
    )
    return MenuRating(survey, last)


@dataclass(frozen=True, slots=True)
class Finished:
    survey: SurveyView
    completed: bool  # False: it had been completed before (a second 'why?' or skip)
    alerted: bool  # a detractor alert was queued for the staff topic


async def finish(
    session: AsyncSession,
    *,
    clock: Clock,
    survey_id: int,
    customer_id: int,
    comment: str | None,
    staff_group: int | None,
    alert_key: str,
    alert_params: dict[str, Any],
) -> Finished:
    """The answer to 'why?' (None: skipped) and, for a detractor, the staff alert queued in the
    same transaction (once; `staff_group` None: no group to alert, logged by the caller)."""
    survey, completed = await record_comment(
        session, clock=clock, survey_id=survey_id, customer_id=customer_id, comment=comment
    )
    alerted = False
    if completed and survey.category == DETRACTOR:
        alerted = await queue_staff_alert(
            session,
            clock=clock,
            survey_id=survey_id,
            group_chat_id=staff_group,
            key=alert_key,
            params=alert_params,
        )
    return Finished(survey, completed, alerted)


# ------------------------------------------------------------------ detractor alerts


async def alerts_due(session: AsyncSession, *, clock: Clock, rules: NpsRules) -> list[int]:
    """Detractor answers not yet shown to staff: completed, or left without a comment for a while."""
    cutoff = clock.now() - rules.alert_after
    rows = await session.execute(
        select(Survey.id).where(
            Survey.category == DETRACTOR,
            Survey.alerted_at.is_(None),
            (Survey.completed_at.is_not(None)) | (Survey.answered_at <= cutoff),
        )
    )
    return [int(i) for i in rows.scalars()]


async def queue_staff_alert(
    session: AsyncSession,
    *,
    clock: Clock,
    survey_id: int,
    group_chat_id: int | None,
    key: str,
    params: dict[str, Any],
) -> bool:
    """Post the detractor alert into the customer's staff topic, once; False if done before.

    Without a staff group the alert is only marked (and logged by the caller).
    """
    row = await session.get(Survey, survey_id)
    if row is None or row.alerted_at is not None:
        return False
    row.alerted_at = clock.now()
    if group_chat_id is not None:
        await support.queue_notice(
            session,
            clock=clock,
            customer_id=row.customer_id,
            group_chat_id=group_chat_id,
            case_id=None,
            key=key,
            priority=support.PRIORITY_CARD,
            **params,
        )
    await session.flush()
    return True


async def open_detractor_case(
    session: AsyncSession, *, clock: Clock, survey_id: int, customer_id: int, group_chat_id: int
) -> bool:
    """The detractor wants to talk: hand over to a person (True if a new case was opened)."""
    row = await _own(session, survey_id, customer_id)
    text = f"NPS {row.score}/10" + (f": {row.comment}" if row.comment else "")
    _, created = await support.open_case(
        session,
        clock=clock,
        customer_id=customer_id,
        group_chat_id=group_chat_id,
        origin="detractor",
        origin_text=text,
    )
    return created
