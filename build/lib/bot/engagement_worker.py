"""Engagement: the periodic jobs behind NPS surveys, exit interviews and loyalty notices.

The API and these jobs only write rows (a scheduled survey, a scheduled interview, a queued
notice); the delivery worker (bot/delivery_worker.py) sends them when the customer may be
contacted, through core.delivery.sources.

Jobs (every ENGAGEMENT_JOBS_SECONDS): expire unanswered surveys and interviews, schedule surveys
after closed support cases and first purchases, warn before points expire and expire them,
credit birthdays, alert staff about detractors who did not finish the survey. (What erased
customers wrote is scrubbed by `core.customers.forget` itself.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import BotContext
from core import customers as customers_svc
from core import exit_interview, loyalty, nps
from core import jobs as fleet
from dialogs.nps.handlers import queue_alert

log = logging.getLogger(__name__)
SIGNAL = "engagement"
BATCH = 20


def _cap(ctx: BotContext) -> timedelta:
    return timedelta(days=ctx.settings.proactive_cap_days)


# ------------------------------------------------------------------ periodic jobs


async def _detractor_alerts(session: AsyncSession, ctx: BotContext) -> int:
    ids = await nps.alerts_due(session, clock=ctx.clock, rules=ctx.rules.nps)
    done = 0
    for survey_id in ids:
        survey = await nps.get_survey(session, survey_id=survey_id)
        customer = await customers_svc.get_customer(session, customer_id=survey.customer_id)
        done += int(
            await queue_alert(
                session,
                clock=ctx.clock,
                settings=ctx.settings,
                i18n=ctx.i18n,
                survey_id=survey_id,
                language=customer.language,
            )
        )
    return done


async def run_jobs_once(ctx: BotContext) -> dict[str, Any]:
    """One pass of every periodic job, each in its own transaction; returns what each did."""
    s = ctx.settings
    nps_rules, loyalty_rules, exit_rules = ctx.rules.nps, ctx.rules.loyalty, ctx.rules.exit
    cap = _cap(ctx)
    jobs: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]]]] = [
        ("surveys_expired", lambda db: nps.expire_surveys(db, clock=ctx.clock)),
        (
            "interviews_expired",
            lambda db: exit_interview.expire_interviews(db, clock=ctx.clock, rules=exit_rules),
        ),
        (
            "after_support_case",
            lambda db: nps.schedule_after_support_cases(db, clock=ctx.clock, rules=nps_rules, cap=cap),
        ),
        (
            "after_first_purchase",
            lambda db: nps.schedule_after_first_purchase(db, clock=ctx.clock, rules=nps_rules, cap=cap),
        ),
        ("expiry", lambda db: loyalty.run_expiry(db, clock=ctx.clock, rules=loyalty_rules)),
        (
            "birthdays",
            lambda db: loyalty.run_birthdays(
                db, clock=ctx.clock, rules=loyalty_rules, default_timezone=s.default_timezone
            ),
        ),
        ("detractor_alerts", lambda db: _detractor_alerts(db, ctx)),
    ]
    results: dict[str, Any] = {}
    for name, job in jobs:
        try:
            async with ctx.db.begin() as session:
                await fleet.exclusive(session, f"engagement:{name}")  # one process at a time
                results[name] = await job(session)
        except Exception:
            log.exception("engagement job %s failed", name)
    if results.get("detractor_alerts"):
        ctx.notify("group_posts")
    ctx.notify(SIGNAL)
    return results


async def run_jobs(ctx: BotContext) -> None:
    """Every ENGAGEMENT_JOBS_SECONDS, once for the whole fleet (core/jobs.py)."""
    period = timedelta(seconds=ctx.settings.engagement_jobs_seconds)
    while not ctx.stop.is_set():
        async with ctx.db.begin() as session:
            go = await fleet.due(session, "engagement", now=ctx.clock.now(), period=period)
        if go:
            await run_jobs_once(ctx)
        if await ctx.wait("engagement_jobs", ctx.settings.engagement_jobs_seconds):
            break
