"""Engagement: sends NPS surveys, exit interviews and loyalty notices, and runs the periodic jobs.

The API only writes rows (a scheduled survey, a scheduled interview, a queued notice); these
workers send them when the customer may be contacted. Every send is checked at send time
(`core.contact_policy.may_contact` for proactive ones) and counted when it went out. 403 marks
the customer unreachable and is never retried; a row in flight at a crash is never sent twice.

Jobs (every ENGAGEMENT_JOBS_SECONDS): expire unanswered surveys and interviews, schedule surveys
after closed support cases and first purchases, warn before points expire and expire them,
credit birthdays, alert staff about detractors who did not finish the survey. (What erased
customers wrote is scrubbed by `core.customers.forget` itself.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import BotContext
from bot.sender import sending
from bot.telegram_errors import UNREACHABLE, classify
from core import customers as customers_svc
from core import exit_interview, loyalty, loyalty_notices, nps
from core.exit_interview import OutgoingInterview
from core.loyalty_notices import OutgoingNotice
from core.loyalty_rules import LoyaltyRules, NpsRules
from core.nps import OutgoingSurvey
from core.ratelimit import Lane
from dialogs.common import name_of
from dialogs.exit_interview.handlers import question as exit_question
from dialogs.loyalty.card import configure as configure_card
from dialogs.loyalty.messages import render_notice
from dialogs.nps.handlers import queue_alert, survey_message

log = logging.getLogger(__name__)
SIGNAL = "engagement"
BATCH = 20


RETRY_IN = timedelta(minutes=5)
T = TypeVar("T", OutgoingSurvey, OutgoingInterview, OutgoingNotice)


def _cap(ctx: BotContext) -> timedelta:
    return timedelta(days=ctx.settings.proactive_cap_days)


async def _send(
    ctx: BotContext, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> tuple[str, int | None, str | None]:
    """('sent', message id, None) | ('unreachable'|'retry'|'failed', None, why).

    In the campaign lane of the one sender: these messages are proactive, so a burst of them
    never holds up a reply to someone who is writing now.
    """
    try:
        with sending(lane=Lane.CAMPAIGN):
            message = await ctx.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        failure = classify(exc)
        if failure.outcome == UNREACHABLE:
            async with ctx.db.begin() as session:
                await customers_svc.set_reachable(session, clock=ctx.clock, telegram_id=chat_id,
                                                  reachable=False, reason=failure.code)
            return "unreachable", None, failure.code
        if failure.retryable:
            if failure.code == "error":
                log.exception("engagement: send to %s failed", chat_id)
            return "retry", None, failure.text
        return "failed", None, failure.code
    return "sent", message.message_id, None


async def _deliver(
    ctx: BotContext,
    due: Sequence[T],
    render: Callable[[T], tuple[str, InlineKeyboardMarkup | None]],
    sent: Callable[[AsyncSession, T, int | None], Awaitable[None]],
    failed: Callable[[AsyncSession, T, str, str | None, datetime | None], Awaitable[None]],
) -> int:
    """Send each claimed row and record the outcome (a retry is due again in RETRY_IN)."""
    for item in due:
        text, markup = render(item)
        assert item.customer.telegram_id is not None
        outcome, message_id, why = await _send(ctx, item.customer.telegram_id, text, markup)
        async with ctx.db.begin() as session:
            if outcome == "sent":
                await sent(session, item, message_id)
            else:
                retry_at = ctx.clock.now() + RETRY_IN if outcome == "retry" else None
                await failed(session, item, outcome, why, retry_at)
    return len(due)


def _skip_reason(outcome: str, why: str | None) -> str:
    return outcome if outcome != "failed" else (why or "failed")


async def send_surveys(ctx: BotContext) -> int:
    rules = NpsRules.from_settings(ctx.settings)
    async with ctx.db.begin() as session:
        due = await nps.claim_surveys(session, clock=ctx.clock, rules=rules, cap=_cap(ctx), limit=BATCH)

    def render(item: OutgoingSurvey) -> tuple[str, InlineKeyboardMarkup | None]:
        return survey_message(ctx.i18n(item.customer.language), survey_id=item.id,
                              shop=ctx.settings.business_name, customer_name=name_of(item.customer))

    async def sent(session: AsyncSession, item: OutgoingSurvey, message_id: int | None) -> None:
        await nps.survey_sent(session, clock=ctx.clock, rules=rules, survey_id=item.id,
                              chat_id=item.customer.telegram_id, message_id=message_id)

    async def failed(session: AsyncSession, item: OutgoingSurvey, outcome: str, why: str | None,
                     retry_at: datetime | None) -> None:
        await nps.survey_failed(session, survey_id=item.id, reason=_skip_reason(outcome, why),
                                retry_at=retry_at)

    return await _deliver(ctx, due, render, sent, failed)


async def send_interviews(ctx: BotContext) -> int:
    async with ctx.db.begin() as session:
        due = await exit_interview.claim_interviews(session, clock=ctx.clock, cap=_cap(ctx), limit=BATCH)

    def render(item: OutgoingInterview) -> tuple[str, InlineKeyboardMarkup | None]:
        return exit_question(ctx.i18n(item.customer.language), interview_id=item.id, event=item.event,
                             customer_name=name_of(item.customer))

    async def sent(session: AsyncSession, item: OutgoingInterview, message_id: int | None) -> None:
        await exit_interview.interview_sent(session, clock=ctx.clock, interview_id=item.id,
                                            chat_id=item.customer.telegram_id, message_id=message_id)

    async def failed(session: AsyncSession, item: OutgoingInterview, outcome: str, why: str | None,
                     retry_at: datetime | None) -> None:
        await exit_interview.interview_failed(session, interview_id=item.id,
                                              reason=_skip_reason(outcome, why), retry_at=retry_at)

    return await _deliver(ctx, due, render, sent, failed)


async def send_notices(ctx: BotContext) -> int:
    async with ctx.db.begin() as session:
        due = await loyalty_notices.claim_notices(session, clock=ctx.clock, cap=_cap(ctx), limit=BATCH)

    def render(item: OutgoingNotice) -> tuple[str, InlineKeyboardMarkup | None]:
        text = render_notice(ctx.i18n(item.customer.language), kind=item.kind, params=item.params,
                             timezone=item.customer.timezone,
                             default_timezone=ctx.settings.default_timezone)
        return text, None

    async def sent(session: AsyncSession, item: OutgoingNotice, _message_id: int | None) -> None:
        await loyalty_notices.notice_sent(session, clock=ctx.clock, notice_id=item.id)

    async def failed(session: AsyncSession, item: OutgoingNotice, outcome: str, why: str | None,
                     retry_at: datetime | None) -> None:
        await loyalty_notices.notice_failed(session, notice_id=item.id, error=why or outcome,
                                            retry_at=retry_at)

    return await _deliver(ctx, due, render, sent, failed)


async def recover(ctx: BotContext) -> None:
    """Rows left `sending` by a crash: they may have arrived, so they are never sent again."""
    async with ctx.db.begin() as session:
        counts = (
            await nps.recover_surveys(session, clock=ctx.clock, rules=NpsRules.from_settings(ctx.settings)),
            await exit_interview.recover_interviews(session, clock=ctx.clock),
            await loyalty_notices.recover_notices(session),
        )
    if any(counts):
        log.warning("engagement: %d surveys, %d interviews, %d notices were in flight at the last "
                    "stop; not repeated", *counts)


async def run_outgoing(ctx: BotContext) -> None:
    """Send what is due; poll every ENGAGEMENT_POLL_SECONDS (or sooner when notified)."""
    configure_card(settings=ctx.settings, clock=ctx.clock)
    await recover(ctx)
    while not ctx.stop.is_set():
        busy = 0
        for step in (send_surveys, send_interviews, send_notices):
            try:
                busy += await step(ctx)
            except Exception:  # one broken row must not stop the others
                log.exception("engagement: %s failed", step.__name__)
        if await ctx.wait(SIGNAL, 0.05 if busy >= BATCH else ctx.settings.engagement_poll_seconds):
            break


# ------------------------------------------------------------------ periodic jobs


async def _detractor_alerts(session: AsyncSession, ctx: BotContext) -> int:
    ids = await nps.alerts_due(session, clock=ctx.clock, rules=NpsRules.from_settings(ctx.settings))
    done = 0
    for survey_id in ids:
        survey = await nps.get_survey(session, survey_id=survey_id)
        customer = await customers_svc.get_customer(session, customer_id=survey.customer_id)
        done += int(await queue_alert(session, clock=ctx.clock, settings=ctx.settings, i18n=ctx.i18n,
                                      survey_id=survey_id, language=customer.language))
    return done


async def run_jobs_once(ctx: BotContext) -> dict[str, Any]:
    """One pass of every periodic job, each in its own transaction; returns what each did."""
    s = ctx.settings
    nps_rules = NpsRules.from_settings(s)
    loyalty_rules = LoyaltyRules.from_settings(s)
    exit_rules = exit_interview.ExitRules.from_settings(s)
    cap = _cap(ctx)
    jobs: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]]]] = [
        ("surveys_expired", lambda db: nps.expire_surveys(db, clock=ctx.clock)),
        ("interviews_expired",
         lambda db: exit_interview.expire_interviews(db, clock=ctx.clock, rules=exit_rules)),
        ("after_support_case",
         lambda db: nps.schedule_after_support_cases(db, clock=ctx.clock, rules=nps_rules, cap=cap)),
        ("after_first_purchase",
         lambda db: nps.schedule_after_first_purchase(db, clock=ctx.clock, rules=nps_rules, cap=cap)),
        ("expiry", lambda db: loyalty.run_expiry(db, clock=ctx.clock, rules=loyalty_rules)),
        ("birthdays", lambda db: loyalty.run_birthdays(db, clock=ctx.clock, rules=loyalty_rules,
                                                       default_timezone=s.default_timezone)),
        ("detractor_alerts", lambda db: _detractor_alerts(db, ctx)),
    ]
    results: dict[str, Any] = {}
    for name, job in jobs:
        try:
            async with ctx.db.begin() as session:
                results[name] = await job(session)
        except Exception:
            log.exception("engagement job %s failed", name)
    if results.get("detractor_alerts"):
        ctx.notify("group_posts")
    ctx.notify(SIGNAL)
    return results


async def run_jobs(ctx: BotContext) -> None:
    while not ctx.stop.is_set():
        await run_jobs_once(ctx)
        if await ctx.wait("engagement_jobs", ctx.settings.engagement_jobs_seconds):
            break
