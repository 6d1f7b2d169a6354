"""Outreach background work and the hook that sees customers write.

- `run_scheduler`: queues sequence steps whose delay has passed, folds new orders and refunds
  into the segment summary (conversions, purchase exits), completes finished campaigns, and
  logs progress (sent/total, rate, ETA) for running campaigns.
- `run_webhooks`: posts signed campaign events to the backend, retrying with backoff.
- `OutreachMiddleware`: every private message or button press is activity (not dormant any
  more) and a reply to any campaign message that reached the person, which ends that sequence
  (a campaign button's handler records its reply itself, with the answer). The update then
  goes on to the flows as usual (free text ends up with support).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.context import BotContext
from bot.middlewares import TOUCH_EVERY
from core import jobs
from core.clock import Clock
from core.customers import CustomerView
from core.outreach import delivery, sequences, stats, webhooks
from dialogs.outreach.handlers import is_campaign_button
from storage.db import Database

log = logging.getLogger(__name__)

SIGNAL = "outreach"
WEBHOOK_SIGNAL = "outreach-webhooks"
MAX_IDLE = 5.0


AWAITS_REPLY = "outreach_awaits_reply"


def awaits_reply_flag(customer_id: Any) -> Any:
    """For the customer middleware's read (`flags`): is a campaign message awaiting a reply?"""
    return sequences.awaits_reply_flag(customer_id)


class OutreachMiddleware(BaseMiddleware):
    """Outer update middleware, after the customer middleware (it needs `customer`).

    It runs on every private update, so it writes only when there is something to write:
    activity at most once per `TOUCH_EVERY` per customer (last-seen's resolution; remembered
    in process by (customer id, Telegram id): a merge on linking frees a customer id that
    SQLite hands to the next new customer, who has another Telegram id, so a reused id never
    inherits "already noted"), and a reply only when a campaign message reached the customer and is still
    unanswered (one indexed read, made with the customer middleware's, otherwise).
    """

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        # (customer id, Telegram id) -> activity last written. Never keyed by the id alone: ids
        # are reused after a merge or an erase (issue 11: 253 of 300 linking customers lost
        # their activity to a stale entry of a merged-away customer with the same id).
        self._noted: dict[tuple[int, int | None], datetime] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        customer: CustomerView | None = data.get("customer")
        if customer is not None and isinstance(event, Update) and (event.message or event.callback_query):
            # A campaign button is a reply with an answer: its handler records it, choice included.
            reply = not (event.callback_query and is_campaign_button(event.callback_query.data))
            try:
                await self._record(
                    customer.id, customer.telegram_id, reply=reply, awaits=data.get(AWAITS_REPLY)
                )
            except Exception:  # bookkeeping must never cost the customer their answer
                log.exception("outreach: recording activity of customer %s failed", customer.id)
        return await handler(event, data)

    async def _record(
        self, customer_id: int, telegram_id: int | None, *, reply: bool, awaits: bool | None
    ) -> None:
        now = self.clock.now()
        key = (customer_id, telegram_id)
        noted = self._noted.get(key)
        activity = noted is None or not timedelta(0) <= now - noted < TOUCH_EVERY
        if not activity:
            if not reply:
                return
            if awaits is None:  # not read with the customer (see awaits_reply_flag)
                async with self.db.read() as session:
                    awaits = await sequences.awaits_reply(session, customer_id=customer_id)
            if not awaits:
                return
        async with self.db.begin() as session:
            if activity:
                await stats.note_activity(session, customer_id=customer_id, at=now, resolution=TOUCH_EVERY)
            if reply:
                await sequences.on_reply(session, clock=self.clock, customer_id=customer_id)
        if activity:
            if len(self._noted) > 100_000:
                self._noted.clear()
            self._noted[key] = now


async def _phase(name: str, work: Callable[[], Awaitable[Any]]) -> Any:
    """One phase of the scheduler; a failure is logged and the other phases still run."""
    try:
        return await work()
    except Exception:  # the loop must outlive any bad row (issue 11)
        log.exception("outreach scheduler: %s failed; the other phases go on", name)
        return None


async def run_scheduler(ctx: BotContext) -> None:
    """Sequence steps, order sync, completion and the progress log line.

    Each phase is guarded: an error in one (a bad row) is logged and the others still run;
    the order sync itself skips a customer it cannot fold in (core.jobs.guarded) and moves its
    watermark on, so it never retries the same row forever.
    """
    s = ctx.settings
    last_sync = last_log = 0.0
    seen: dict[int, tuple[int, float]] = {}

    async def schedule() -> int:
        queued = 0
        while True:
            async with ctx.db.begin() as session:
                await jobs.exclusive(session, "outreach_schedule")  # one process at a time
                n = await delivery.schedule_due(session, clock=ctx.clock)
            queued += n
            if n < 5000:
                return queued

    async def sync() -> None:
        async with ctx.db.begin() as session:
            await jobs.exclusive(session, "outreach_sync")  # one process at a time
            synced = await stats.sync_orders(session, clock=ctx.clock)
        if synced.backfilled:
            log.info("outreach: segment summary built from customers and orders")

    async def finish() -> None:
        async with ctx.db.begin() as session:
            finished = await delivery.finish_campaigns(session, clock=ctx.clock)
        for cid in finished:
            log.info("outreach: campaign %s completed", cid)

    async def progress(mono: float) -> None:
        async with ctx.db() as session:
            for p in await delivery.progress(session):
                before = seen.get(p.campaign_id)
                rate = (p.sent - before[0]) / (mono - before[1]) if before and mono > before[1] else None
                seen[p.campaign_id] = (p.sent, mono)
                eta = f"{p.waiting / rate:.0f}s" if rate else "-"
                log.info(
                    "outreach: campaign %s %r: sent %d/%d (%.0f%%), %s, ETA %s; failed %d, skipped %d",
                    p.campaign_id,
                    p.name,
                    p.sent,
                    p.total,
                    100 * p.sent / max(p.total, 1),
                    f"{rate:.1f} msg/s" if rate is not None else "rate -",
                    eta,
                    p.failed,
                    p.skipped,
                )

    async def next_due() -> Any:
        async with ctx.db() as session:
            return await delivery.next_step_due(session)

    while not ctx.stop.is_set():
        if await _phase("scheduling due steps", schedule):
            ctx.notify("outbox")
        mono = time.monotonic()
        if mono - last_sync >= s.outreach_sync_seconds:
            last_sync = mono
            await _phase("order sync", sync)
        await _phase("finishing campaigns", finish)
        if mono - last_log >= s.outreach_progress_log_seconds:
            last_log = mono
            await _phase("progress log", lambda m=mono: progress(m))  # type: ignore[misc]
        due = await _phase("next step", next_due)
        wait = MAX_IDLE
        if due is not None:
            wait = max(0.05, min(wait, (due - ctx.clock.now()).total_seconds()))
        wait = min(wait, s.outreach_sync_seconds)
        if await ctx.wait(SIGNAL, wait):
            return


async def run_webhooks(ctx: BotContext) -> None:
    """Post signed campaign events to the backend (at least once; receivers dedupe by id)."""
    s = ctx.settings
    rules = ctx.rules.outreach
    async with httpx.AsyncClient(timeout=s.outreach_webhook_timeout_seconds) as http:
        while not ctx.stop.is_set():
            async with ctx.db.begin() as session:  # claims them (several processes)
                due = await webhooks.due_webhooks(session, now=ctx.clock.now())
            for hook in due:
                error: str | None = None
                try:
                    r = await http.post(hook.url, content=hook.body, headers=hook.headers)
                    if r.status_code >= 300:
                        error = f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                async with ctx.db.begin() as session:
                    status = await webhooks.webhook_done(
                        session,
                        webhook_id=hook.id,
                        now=ctx.clock.now(),
                        error=error,
                        max_attempts=rules.webhook_max_attempts,
                    )
                if status == "failed":
                    log.warning("outreach webhook %s to %s gave up: %s", hook.id, hook.url, error)
            if due:
                await asyncio.sleep(0)
                continue
            async with ctx.db() as session:
                nxt = await webhooks.next_webhook_at(session)
            wait = MAX_IDLE
            if nxt is not None:
                wait = max(0.05, min(MAX_IDLE, (nxt - ctx.clock.now()).total_seconds()))
            if await ctx.wait(WEBHOOK_SIGNAL, wait):
                return
