"""The delivery worker: every proactive message leaves through here, at Telegram's limits.

One worker, several kinds of traffic (`core.delivery.Source`): campaign messages, NPS
surveys, exit interviews and loyalty notices. Per message: claim (send-time rules applied, plain
data; core) -> a rate-limit token from the shared flood gate in its lane (campaign, or paid for
`allow_paid_broadcast`; live replies always go first) -> on the wire, committed -> the request
(rendered now, by its kind's renderer from dialogs/) -> its answer committed. Marks and answers
are committed together in small batches by one committer task, so the database sees a few
transactions a second instead of two per message, and a worker slot is freed only once its
answer is on disk: the rows on the wire never exceed `concurrency`, which bounds what a
kill -9 can leave uncertain.

Staff-group posts are the worker's second driver (bot/support_worker.py), on the same state
machine (core.delivery) and classifier: they are sent one request at a time per forum topic, in
order, merged and folded into cards, which is a different traffic shape from a broadcast.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from bot import telegram_errors
from bot.context import BotContext
from bot.sender import sending
from core import delivery
from core.delivery.outgoing import Outgoing, Result, Source
from core.delivery.sources import InterviewSource, NoticeSource, SurveySource
from core.outreach.delivery import CampaignSource
from core.ratelimit import Lane
from core.settings import Settings
from dialogs.exit_interview.handlers import render_interview
from dialogs.i18n import Translator
from dialogs.loyalty.messages import render_notice_message
from dialogs.nps.handlers import render_survey
from dialogs.outreach.handlers import render_campaign

log = logging.getLogger(__name__)

IDLE_POLL = 5.0  # seconds between looks at an empty queue for rows that became due (a commit
# that queues something wakes the worker at once: core.delivery.wake)
SIGNALS = ("outbox", "engagement")
LEASE_EVERY = 10.0  # seconds between lease renewals (leases last 30 s: core.delivery.queue)
ENGAGEMENT_BATCH = 20

Renderer = Callable[[Translator, Settings, Outgoing], tuple[str, InlineKeyboardMarkup | None]]
# Each kind of message is rendered by its dialog, from plain data, when it is sent.
RENDERERS: dict[str, Renderer] = {
    "campaign": render_campaign,
    "survey": render_survey,
    "interview": render_interview,
    "notice": render_notice_message,
}


def sources(ctx: BotContext) -> list[Source]:
    """The kinds of traffic this worker sends (campaigns first: they are the bulk)."""
    s, clock = ctx.settings, ctx.clock
    cap = timedelta(days=s.proactive_cap_days)
    return [
        CampaignSource(clock=clock, rules=ctx.rules.outreach),
        SurveySource(clock=clock, cap=cap, rules=ctx.rules.nps),
        InterviewSource(clock=clock, cap=cap),
        NoticeSource(clock=clock, cap=cap),
    ]


def classify(exc: BaseException, out: Outgoing | None = None) -> Result:
    """What a Telegram error means for this one message; the meaning itself comes from the one
    classifier, bot/telegram_errors.py."""
    failure = telegram_errors.classify(exc)
    outcome = "retry" if failure.retryable else "failed"
    kind, item, chat = (out.kind, out.id, out.chat_id) if out is not None else ("", 0, None)
    return Result(
        kind,
        item,
        outcome,
        error_code=failure.code,
        error=failure.text,
        retry_after=failure.retry_after,
        chat_id=chat,
    )


class Deliverer:
    """Two cooperating loops.

    The database loop owns every write, one short transaction per turn: Telegram's answers,
    the on-the-wire marks of messages about to leave, messages put back, and (when the buffer
    runs low) the next batch claimed from every source: checked against the send-time rules.
    SQLite takes its write lock for each transaction, so a few transactions a second with many
    rows each go much further than two per message.

    The dispatcher takes claimed messages from the buffer and paces them out through the
    flood gate, at most `concurrency` at a time; a sender task waits for its message's wire
    mark to be committed, then renders and makes the request.
    """

    def __init__(self, ctx: BotContext, *, concurrency: int | None = None) -> None:
        self.ctx = ctx
        self.sources: dict[str, Source] = {src.kind: src for src in sources(ctx)}
        self.concurrency = concurrency or ctx.settings.outreach_concurrency
        self.buffer_size = max(2 * self.concurrency, 32)
        self.busy = 0
        self._buffer: deque[Outgoing] = deque()
        self._marks: list[tuple[Outgoing, asyncio.Future[bool]]] = []
        self._results: list[Result] = []
        self._requeue: list[tuple[Outgoing, datetime]] = []
        self._work = asyncio.Event()  # something for the database loop
        self._freed = asyncio.Event()  # a sender slot came free
        self._filled = asyncio.Event()  # the buffer got messages
        self._next_claim = 0.0  # monotonic time of the next look at an empty queue
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.counts: Counter[str] = Counter()

    # ------------------------------------------------------------------ the loops

    async def recover(self) -> None:
        """What a dead worker left: claimed rows back to the queue, rows on the wire uncertain.
        One process on SQLite takes everything; several on PostgreSQL only expired leases."""
        ctx = self.ctx
        for kind, source in self.sources.items():
            async with ctx.db.begin() as session:
                requeued, uncertain = await source.recover(session, everything=ctx.single_process)
            if requeued or uncertain:
                log.info(
                    "delivery: %s: %d claimed put back, %d on the wire at the stop (uncertain, not repeated)",
                    kind,
                    requeued,
                    uncertain,
                )

    async def run(self) -> None:
        ctx = self.ctx
        await self.recover()
        database = asyncio.create_task(self._database(), name="delivery-db")
        listener = asyncio.create_task(self._listen(), name="delivery-listen")
        try:
            while not ctx.stop.is_set():
                if database.done():
                    database.result()  # a crash surfaces here; the runtime restarts the worker
                if not self._buffer:
                    self._filled.clear()
                    self._work.set()  # ask for more
                    await self._wait_any(self._filled, 1.0)
                    continue
                out = self._buffer.popleft()
                if len(self._buffer) < self.buffer_size // 2:
                    self._work.set()
                await self._dispatch(out)
        finally:
            while self._buffer:
                self._give_back(self._buffer.popleft(), counted=False)
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._closing = True  # the database loop writes the last answers, then ends
            self._work.set()
            try:
                await asyncio.wait_for(asyncio.shield(database), 10)
            except (TimeoutError, Exception):
                log.warning("delivery: could not record every answer before stopping")
                database.cancel()
            listener.cancel()
            await asyncio.gather(database, listener, return_exceptions=True)

    async def _wait_any(self, event: asyncio.Event, seconds: float) -> None:
        """Wait for `event`, at most `seconds` (a cancellation is never swallowed)."""
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    async def _listen(self) -> None:
        """A commit queued something for this worker (core.delivery.wake): look at once."""

        async def one(name: str) -> None:
            while not await self.ctx.wait(name, 60):
                self._next_claim = 0.0
                self._work.set()

        await asyncio.gather(*(one(name) for name in SIGNALS))

    async def _leases(self) -> None:
        """Keep our claims alive (renew), and take over what a dead process left once its
        leases lapsed (several processes; one process on SQLite recovered everything at start)."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            for source in self.sources.values():
                await delivery.renew(session, source.queue, owner=self.ctx.owner, now=now)
        if not self.ctx.single_process:
            await self.recover()

    async def _database(self) -> None:
        next_lease = time.monotonic() + LEASE_EVERY
        while True:
            if time.monotonic() >= next_lease and not self._closing:
                next_lease = time.monotonic() + LEASE_EVERY
                try:
                    await self._leases()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("delivery: renewing or recovering leases failed; retrying")
            pending = self._marks or self._results or self._requeue
            if self._closing and not pending:
                return
            if not (pending or self._wants_claim()):
                self._work.clear()
                wake = self._next_claim - time.monotonic() if self._next_claim else 1.0
                await self._wait_any(self._work, min(max(wake, 0.01), 1.0))
                continue
            try:
                await self._turn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery: database turn failed; retrying")
                await asyncio.sleep(0.5)

    def _wants_claim(self) -> bool:
        if self._closing or self.ctx.stop.is_set() or len(self._buffer) >= self.buffer_size // 2:
            return False
        return time.monotonic() >= self._next_claim

    async def _turn(self) -> None:
        """Answers, marks and put-backs in one transaction; then, if the buffer runs low, a new
        batch claimed in a second one (so a claim never delays a mark: senders wait on those)."""
        marks, results, requeue = self._marks, self._results, self._requeue
        self._marks, self._results, self._requeue = [], [], []
        if marks or results or requeue:
            owner = self.ctx.owner
            wired: set[tuple[str, int]] = set()
            try:
                async with self.ctx.db.begin() as session:
                    for kind, items in _by_kind(results, lambda r: r.kind).items():
                        self.counts.update(await self.sources[kind].complete(session, items))
                    for kind, put in _by_kind(requeue, lambda x: x[0].kind).items():
                        await self.sources[kind].release(session, [(o.id, at) for o, at in put])
                    for kind, marked in _by_kind(marks, lambda m: m[0].kind).items():
                        ok = await self.sources[kind].wire(session, [o.id for o, _ in marked], owner=owner)
                        wired.update((kind, i) for i in ok)
            except BaseException:
                # Nothing was committed: everything goes into the next turn.
                self._marks[:0], self._results[:0], self._requeue[:0] = marks, results, requeue
                raise
            for out, fut in marks:
                if not fut.done():
                    fut.set_result(out.key in wired)
            if results:
                self.busy -= len(results)
                self._freed.set()
        if not self._wants_claim():
            return
        room = self.buffer_size - len(self._buffer)
        examined = 0
        for kind, source in self.sources.items():
            limit = min(room, max(32, self.concurrency // 2)) if kind == "campaign" else ENGAGEMENT_BATCH
            if limit <= 0:
                continue
            try:
                async with self.ctx.db.begin() as session:
                    claimed = await source.claim(session, owner=self.ctx.owner, limit=limit)
            except Exception:
                # One kind's bad row must not stop the others: logged, the rest goes on.
                log.exception("delivery: claiming %s failed; the other kinds go on", kind)
                self.counts[f"claim_failed:{kind}"] += 1
                continue
            self.counts.update({f"skipped:{k}": v for k, v in claimed.skipped.items()})
            self.counts.update({f"deferred:{k}": v for k, v in claimed.deferred.items()})
            examined += claimed.examined
            if claimed.ready:
                room -= len(claimed.ready)
                self._buffer.extend(claimed.ready)
                self._filled.set()
        if not examined:  # every queue is empty: look again in a while (or when woken)
            self._next_claim = time.monotonic() + IDLE_POLL

    async def _dispatch(self, out: Outgoing) -> None:
        """Wait for a free slot and this message's rate-limit token, then hand it to a sender.

        The shared buckets (global, paid, a paused lane) pace the dispatcher itself; a busy
        chat only delays its own message, in a side task, so everyone else goes on.
        """
        while self.busy >= self.concurrency:
            self._freed.clear()
            await self._wait_any(self._freed, 1.0)
            if self.ctx.stop.is_set():
                self._give_back(out, counted=False)
                return
        gate, lane = self.ctx.gate, (Lane.PAID if out.lane == "paid" else Lane.CAMPAIGN)
        self.busy += 1
        while gate is not None:
            if self.ctx.stop.is_set():
                self._give_back(out)
                return
            grant = await gate.acheck(out.chat_id, lane)
            if grant.wait <= 0:
                break
            if grant.reason == "chat":
                self._spawn(self._after_chat_wait(out, lane, grant.wait))
                return
            # Sleep at least a few ms: at 1000/s, tokens are taken in small bursts rather than
            # one timer wake-up per message (the bucket's burst absorbs it).
            await asyncio.sleep(min(max(grant.wait, 0.005), 0.25))
        self._go(out, lane)

    async def _after_chat_wait(self, out: Outgoing, lane: Lane, wait: float) -> None:
        gate = self.ctx.gate
        assert gate is not None
        while True:
            if await self.ctx.sleep(min(wait, 1.0)):
                self._give_back(out)
                return
            grant = await gate.acheck(out.chat_id, lane)
            if grant.wait <= 0:
                self._go(out, lane)
                return
            wait = grant.wait

    def _go(self, out: Outgoing, lane: Lane) -> None:
        marked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._marks.append((out, marked))
        self._work.set()
        self._spawn(self._send(out, lane, marked))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _give_back(self, out: Outgoing, *, counted: bool = True) -> None:
        """A claimed message that will not go now (shutdown): back to the queue, untouched."""
        if counted:
            self.busy -= 1
            self._freed.set()
        self._requeue.append((out, self.ctx.clock.now()))
        self._work.set()

    async def _send(self, out: Outgoing, lane: Lane, marked: asyncio.Future[bool]) -> None:
        if not await marked:
            # Our lease ran out and another process recovered the row: it is theirs to send.
            log.warning("delivery: %s %s is no longer ours; not sent", out.kind, out.id)
            self.counts["lease_lost"] += 1
            self.busy -= 1
            self._freed.set()
            return
        try:
            t = self.ctx.i18n(out.language)
            text, markup = RENDERERS[out.kind](t, self.ctx.settings, out)
            with sending(lane=lane, prepaid=True, retry=False):
                message = await self.ctx.bot.send_message(
                    chat_id=out.chat_id,
                    text=text,
                    reply_markup=markup,
                    allow_paid_broadcast=True if out.lane == "paid" else None,
                )
            result = Result(out.kind, out.id, "sent", message_id=message.message_id, chat_id=out.chat_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = classify(exc, out)
            if result.error_code in ("error", "unauthorized"):
                log.error("delivery: %s %s: %s", out.kind, out.id, result.error, exc_info=exc)
        self._results.append(result)
        self._work.set()


def _by_kind(items: list[Any], kind: Callable[[Any], str]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        groups[kind(item)].append(item)
    return groups


async def run(ctx: BotContext) -> None:
    """Worker entry point (bot/workers.py): every queued message leaves through here, in two
    drivers on one state machine: proactive messages (this module's Deliverer, paced per
    lane) and staff-group posts (bot/support_worker.py: one request at a time per topic)."""
    from bot import support_worker

    async with asyncio.TaskGroup() as drivers:  # one fails: both stop, the runtime restarts them
        drivers.create_task(Deliverer(ctx).run(), name="delivery-proactive")
        drivers.create_task(support_worker.run_group_posts(ctx), name="delivery-staff-posts")
