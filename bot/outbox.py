"""The delivery worker: sends the outbox at Telegram's limits, exactly once.

Per message: claim (send-time rules, rendering; core.outreach.delivery) -> a rate-limit token
from the shared flood gate in the campaign or paid lane (live replies always go first) ->
`inflight` committed -> the request -> its answer committed. Marks and answers are committed
together in small batches by one committer task, so the database sees a few transactions a
second instead of two per message, and a worker slot is freed only once its answer is on disk:
the rows `inflight` in the database never exceed `concurrency`, which bounds what a kill -9 can
leave uncertain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from datetime import datetime
from typing import Any

from bot import telegram_errors
from bot.context import BotContext
from bot.sender import sending
from core.outreach import delivery
from core.outreach.delivery import Outgoing, Result
from core.outreach.rules import OutreachRules
from core.ratelimit import Lane
from dialogs.outreach.handlers import keyboard

log = logging.getLogger(__name__)

IDLE_POLL = 0.5  # seconds between looks at an empty queue (the API cannot wake the worker)
SIGNAL = "outbox"


def classify(exc: BaseException) -> Result:
    """What a Telegram error means for this one message (outbox_id filled in by the caller);
    the meaning itself comes from the one classifier, bot/telegram_errors.py."""
    failure = telegram_errors.classify(exc)
    outcome = "retry" if failure.retryable else "failed"
    return Result(0, outcome, error_code=failure.code, error=failure.text, retry_after=failure.retry_after)


class Deliverer:
    """Two cooperating loops.

    The database loop owns every write, one short transaction per turn: Telegram's answers,
    the `inflight` marks of messages about to leave, messages put back, and (when the buffer
    runs low) the next batch claimed: checked against the send-time rules and rendered. SQLite
    takes its write lock for each transaction, so a few transactions a second with many rows
    each go much further than two per message.

    The dispatcher takes claimed messages from the buffer and paces them out through the
    flood gate, at most `concurrency` at a time; a sender task waits for its message's
    `inflight` mark to be committed, then makes the request.
    """

    def __init__(self, ctx: BotContext, *, concurrency: int | None = None) -> None:
        self.ctx = ctx
        self.rules = OutreachRules.from_settings(ctx.settings)
        self.concurrency = concurrency or ctx.settings.outreach_concurrency
        self.buffer_size = max(2 * self.concurrency, 32)
        self.busy = 0
        self._buffer: deque[Outgoing] = deque()
        self._marks: list[tuple[int, asyncio.Future[None]]] = []
        self._results: list[Result] = []
        self._requeue: list[tuple[int, datetime]] = []
        self._work = asyncio.Event()  # something for the database loop
        self._freed = asyncio.Event()  # a sender slot came free
        self._filled = asyncio.Event()  # the buffer got messages
        self._next_claim = 0.0  # monotonic time of the next look at an empty queue
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.counts: Counter[str] = Counter()

    # ------------------------------------------------------------------ the loops

    async def run(self) -> None:
        ctx = self.ctx
        async with ctx.db.begin() as session:
            requeued, uncertain = await delivery.recover(session, clock=ctx.clock)
        if requeued or uncertain:
            log.info(
                "outbox: recovered %d claimed (requeued) and %d in-flight (uncertain)", requeued, uncertain
            )
        database = asyncio.create_task(self._database(), name="outbox-db")
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
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
                log.warning("outbox: could not record every answer before stopping")
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
        """`ctx.notify("outbox")` (new messages queued): look at the queue now."""
        while not await self.ctx.wait(SIGNAL, 60):
            self._next_claim = 0.0
            self._work.set()

    async def _database(self) -> None:
        while True:
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
                log.exception("outbox: database turn failed; retrying")
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
            try:
                async with self.ctx.db.begin() as session:
                    if results:
                        self.counts.update(
                            await delivery.complete(
                                session, clock=self.ctx.clock, rules=self.rules, results=results
                            )
                        )
                    if requeue:
                        await delivery.release(session, items=requeue)
                    if marks:
                        await delivery.mark_inflight(session, ids=[i for i, _ in marks])
            except BaseException:
                # Nothing was committed: everything goes into the next turn.
                self._marks[:0], self._results[:0], self._requeue[:0] = marks, results, requeue
                raise
            for _, fut in marks:
                if not fut.done():
                    fut.set_result(None)
            if results:
                self.busy -= len(results)
                self._freed.set()
        if not self._wants_claim():
            return
        async with self.ctx.db.begin() as session:
            claimed = await delivery.claim(
                session,
                clock=self.ctx.clock,
                rules=self.rules,
                # Small batches keep each claim short.
                limit=min(self.buffer_size - len(self._buffer), max(32, self.concurrency // 2)),
            )
        self.counts.update({f"skipped:{k}": v for k, v in claimed.skipped.items()})
        self.counts.update({f"deferred:{k}": v for k, v in claimed.deferred.items()})
        if claimed.ready:
            self._buffer.extend(claimed.ready)
            self._filled.set()
        elif not claimed.examined:  # the queue is empty: look again in a while (or when told)
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
        gate, lane = self.ctx.gate, (Lane.PAID if out.paid else Lane.CAMPAIGN)
        self.busy += 1
        while gate is not None:
            if self.ctx.stop.is_set():
                self._give_back(out)
                return
            grant = gate.check(out.chat_id, lane)
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
            grant = gate.check(out.chat_id, lane)
            if grant.wait <= 0:
                self._go(out, lane)
                return
            wait = grant.wait

    def _go(self, out: Outgoing, lane: Lane) -> None:
        marked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((out.outbox_id, marked))
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
        self._requeue.append((out.outbox_id, self.ctx.clock.now()))
        self._work.set()

    async def _send(self, out: Outgoing, lane: Lane, marked: asyncio.Future[None]) -> None:
        await marked  # committed as inflight: a crash from here on leaves it "uncertain"
        t = self.ctx.i18n(out.language)
        try:
            with sending(lane=lane, prepaid=True, retry=False):
                message = await self.ctx.bot.send_message(
                    chat_id=out.chat_id,
                    text=out.text,
                    reply_markup=keyboard(t, out.buttons, out.recipient_id),
                    allow_paid_broadcast=True if out.paid else None,
                )
            result = Result(out.outbox_id, "sent", message_id=message.message_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            r = classify(exc)
            result = Result(
                out.outbox_id, r.outcome, error_code=r.error_code, error=r.error, retry_after=r.retry_after
            )
            if r.error_code in ("error", "unauthorized"):
                log.error("outbox %s: %s", out.outbox_id, r.error)
        self._results.append(result)
        self._work.set()


async def run(ctx: BotContext) -> None:
    """Worker entry point (bot/workers.py)."""
    await Deliverer(ctx).run()
