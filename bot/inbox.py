"""Durable update inbox.

aiogram's own polling confirms updates to Telegram (the next getUpdates offset) before their
handlers finish, so a crash in a burst loses messages. Here every update is written to the
database together with the new offset *before* the next getUpdates confirms it; handlers run
from what was stored. On start-up whatever was stored but not finished is handled first.

Updates of one chat are handled strictly in order; different chats run concurrently up to
`workers`. The same path serves webhook mode: the webhook route calls `accept()`.

Several processes on one PostgreSQL database (`shared=True`): any process may store an update
(webhooks behind a load balancer, or the one poller), and every process handles stored ones.
A chat's updates are handled by one process at a time, in update order, under a lease
(`inbox_leases`, renewed while held): the process that stored an update takes the chat's lease
once one of its workers is free (a chat queued behind a backlog holds none, so another process
may take it up meanwhile) and handles everything pending for that chat from the database; if
another process holds it, that one will (it looks again before letting go), and a sweeper picks
up whatever a dead process left once its lease lapsed (those updates are handled as replays: a
send found in the journal is not repeated). Starting never takes over a live process's chats.
The leases and the sweeper are in bot/inbox_leases.py (`ChatLeases`, which `Inbox` inherits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates
from aiogram.types import Update
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import CallbackAnswers
from bot.inbox_leases import ChatLeases, _back_off
from bot.inbox_statements import (
    DROP_JOURNAL,
    INBOX,
    LEASES,
    MARK_DONE,
    OFFSET_KEY,
    STORE_STATEMENTS,
    chat_key,
)
from bot.journal import UncertainDelivery, UpdateContext, current_update
from core import logs, telemetry
from core.clock import Clock
from storage.db import Database, run_recorded, update_writes
from storage.dialect import is_postgres
from storage.hot import Step
from storage.models import BotState, InboxUpdate

log = logging.getLogger(__name__)


class Inbox(ChatLeases):
    def __init__(
        self,
        *,
        bot: Bot,
        dispatcher: Dispatcher,
        sessionmaker: Database,
        clock: Clock,
        workers: int = 8,
        allowed_updates: list[str] | None = None,
        polling_timeout: int = 25,
        on_handled: Callable[[int], Awaitable[None]] | None = None,
        callbacks: CallbackAnswers | None = None,
        shared: bool = False,
        owner: str = "",
        lease_seconds: float = 6.0,
    ) -> None:
        self.bot = bot
        self.dp = dispatcher
        self.db = sessionmaker
        self.clock = clock
        self.allowed_updates = allowed_updates
        self.polling_timeout = polling_timeout
        self._sem = asyncio.Semaphore(workers)
        self._queues: dict[Any, deque[tuple[int, dict[str, Any], bool, Update | None]]] = {}
        self._tasks: dict[Any, asyncio.Task[None]] = {}
        self._known: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._polling = False
        self._on_handled = on_handled
        self._callbacks = callbacks
        self.shared = shared  # several processes handle this database's updates
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self._held: set[str] = set()  # chat keys whose lease this process holds
        self._stale: set[str] = set()  # chat keys taken over from a dead process: replays
        # Updates this process began and could not finish (their done mark failed): when the
        # sweeper brings one back here, it is a replay (its sends are journaled), not a new one.
        self._unfinished: set[int] = set()
        self._background: list[asyncio.Task[None]] = []
        self.handled = 0
        self.replayed: list[int] = []

    # ------------------------------------------------------------------ storing

    async def _offset(self) -> int:
        async with self.db() as session:
            value = await session.scalar(select(BotState.value).where(BotState.key == OFFSET_KEY))
        return int(value) if value else 0

    async def store(self, payloads: Iterable[dict[str, Any]], *, offset: int | None = None) -> list[int]:
        """Persist updates (and the offset that confirms them) in one transaction.

        Returns the ids that were new: Telegram redelivers a webhook update it thinks failed,
        and an update already stored must not be handled again.
        """
        rows = [
            {
                "update_id": p["update_id"],
                "payload": p,
                "chat_id": chat_key(p),
                "status": "pending",
                "attempts": 0,
                "received_at": self.clock.now(),
            }
            for p in payloads
        ]
        inserted: list[int] = []
        if self.db.hot is not None:  # hot statements (storage/hot.py)
            store, store_offset = STORE_STATEMENTS[self.db.dialect_name]
            now = self.clock.now()
            steps: list[Step] = [
                (
                    store,
                    {
                        "b_update_id": r["update_id"],
                        "b_payload": r["payload"],
                        "b_chat_id": r["chat_id"],
                        "b_received_at": r["received_at"],
                    },
                )
                for r in rows
            ]
            if offset is not None:
                steps.append(
                    (
                        store_offset,
                        {
                            "b_key": OFFSET_KEY,
                            "b_value": str(offset),
                            "b_at": now,
                            "b_value2": str(offset),
                            "b_at2": now,
                        },
                    )
                )
            done = await self.db.write(steps)
            fresh = {row["update_id"] for result in done[: len(rows)] for row in result}
            return [r["update_id"] for r in rows if r["update_id"] in fresh]

        async def write(session: AsyncSession) -> None:
            nonlocal inserted
            insert_ = pg_insert if is_postgres(session) else sqlite_insert
            if rows:
                # RETURNING gives exactly the rows that were new (a redelivery conflicts).
                result = await session.execute(
                    insert_(INBOX)
                    .on_conflict_do_nothing(index_elements=["update_id"])
                    .returning(INBOX.c.update_id),
                    rows,
                )
                inserted = list(result.scalars())
            if offset is not None:
                now = self.clock.now()
                await session.execute(
                    insert_(BotState)
                    .values(key=OFFSET_KEY, value=str(offset), updated_at=now)
                    .on_conflict_do_update(
                        index_elements=["key"], set_={"value": str(offset), "updated_at": now}
                    )
                )

        # Webhook deliveries arriving together (Telegram opens several connections) share a commit.
        await self.db.batched(write)
        fresh = set(inserted)
        return [r["update_id"] for r in rows if r["update_id"] in fresh]

    async def accept(self, payload: dict[str, Any]) -> None:
        """Store one update (webhook mode) and schedule it, unless it was delivered before."""
        if await self.store([payload]):
            self._schedule(payload["update_id"], payload, replay=False)

    # ------------------------------------------------------------------ polling

    async def poll(self, stop: asyncio.Event) -> None:
        """Long-poll Telegram until `stop` is set; store before confirming."""
        self._polling = True
        offset = await self._offset()
        backoff = 1.0
        while not stop.is_set():
            try:
                get = asyncio.ensure_future(
                    self.bot(
                        GetUpdates(
                            offset=offset or None,
                            timeout=self.polling_timeout,
                            allowed_updates=self.allowed_updates,
                        ),
                        request_timeout=self.polling_timeout + 10,
                    )
                )
                stopper = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({get, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    await asyncio.gather(get, return_exceptions=True)
                    break
                stopper.cancel()
                updates: list[Update] = get.result()
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network trouble: keep polling with backoff
                log.warning("getUpdates failed: %s; retrying in %.0fs", exc, backoff)
                backoff = await _back_off(stop, backoff)
                continue
            if not updates:
                continue
            payloads = [u.model_dump(mode="json", exclude_none=True, by_alias=True) for u in updates]
            next_offset = max(p["update_id"] for p in payloads) + 1
            try:
                new = set(await self.store(payloads, offset=next_offset))
            except Exception:
                # Not stored, so not confirmed: the same updates come back with the old offset.
                log.exception("could not store %d updates; asking for them again", len(payloads))
                backoff = await _back_off(stop, backoff)
                continue
            offset = next_offset
            for u, p in zip(updates, payloads, strict=True):
                if p["update_id"] in new:
                    self._schedule(p["update_id"], p, replay=False, parsed=u)
        self._polling = False

    # ------------------------------------------------------------------ handling

    def start_shared(self, stop: asyncio.Event) -> None:
        """Several processes: renew this process's chat leases and sweep up what others left."""
        if self.shared and not self._background:
            self._background = [
                asyncio.create_task(self._renew(stop), name="inbox-renew"),
                asyncio.create_task(self._sweep(stop), name="inbox-sweep"),
            ]

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        if self.shared and self._held:
            with contextlib.suppress(Exception):
                async with self.db.begin() as session:
                    await session.execute(
                        delete(LEASES).where(LEASES.c.owner == self.owner, LEASES.c.chat_key.in_(self._held))
                    )

    async def recover(self) -> int:
        """Schedule whatever was stored but not finished before the last stop.

        Any of them may have been half-handled when the process died, so all are handled as
        replays: a send found in the journal is not repeated (bot/journal.py). Several
        processes: nothing here; the sweeper takes what a dead process left once its leases
        lapsed (never a live process's chats).
        """
        if self.shared:
            return 0
        async with self.db.begin() as session:
            rows = (
                await session.execute(
                    select(InboxUpdate.update_id, InboxUpdate.payload)
                    .where(InboxUpdate.status == "pending")
                    .order_by(InboxUpdate.update_id)
                )
            ).all()
            if rows:
                await session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.status == "pending")
                    .values(attempts=InboxUpdate.attempts + 1)
                )
        for update_id, payload in rows:
            self.replayed.append(update_id)
            self._schedule(update_id, payload, replay=True)
        if rows:
            log.info("recovered %d stored updates from before the last stop", len(rows))
        return len(rows)

    def _schedule(
        self, update_id: int, payload: dict[str, Any], *, replay: bool, parsed: Update | None = None
    ) -> None:
        """Queue an update behind its chat's others (`parsed`: the object polling already has,
        so it is not parsed again from the stored payload)."""
        if update_id in self._known:
            return
        self._known.add(update_id)
        key = chat_key(payload) or f"u{update_id}"
        queue = self._queues.setdefault(key, deque())
        if self._callbacks is not None and "callback_query" in payload:
            # A press must be answered within ~15 s: never let it wait behind its chat's queue.
            self._callbacks.received(payload["callback_query"]["id"], queued_behind=len(queue), replay=replay)
        queue.append((update_id, payload, replay, parsed))
        if key not in self._tasks:
            self._idle.clear()
            self._tasks[key] = asyncio.create_task(self._drain(key), name=f"chat-{key}")

    async def _drain(self, key: Any) -> None:
        if self.shared:
            await self._drain_shared(key)
            return
        queue = self._queues[key]
        try:
            while queue:
                update_id, payload, replay, parsed = queue[0]
                try:
                    async with self._sem:
                        await self._handle(update_id, payload, replay, parsed)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # e.g. the database refused the done mark: the row stays pending and is
                    # handled again at the next start; the chat's other updates go on.
                    log.exception("update %s could not be finished; left pending", update_id)
                queue.popleft()
                self._known.discard(update_id)
        finally:
            self._tasks.pop(key, None)
            if not queue:
                self._queues.pop(key, None)
            if not self._tasks:
                self._idle.set()

    async def _handle(
        self, update_id: int, payload: dict[str, Any], replay: bool, parsed: Update | None = None
    ) -> None:
        error: str | None = None
        recorded: list[Any] = []
        started = time.monotonic()
        log_token = logs.bind(update_id=update_id)  # every log line of this update carries its id
        ctx = UpdateContext(update_id=update_id, replay=replay)
        token = current_update.set(ctx)
        try:
            tg_update = parsed or Update.model_validate(payload, context={"bot": self.bot})
            with update_writes() as recorded:  # the handler's `db.record(...)` writes
                await self.dp.feed_update(self.bot, tg_update, replayed_update=replay)
        except asyncio.CancelledError:
            raise
        except UncertainDelivery:
            pass
        except Exception as exc:  # a handler bug must not stop the worker
            log.exception("update %s failed", update_id)
            error = f"{type(exc).__name__}: {exc}"[:2000]
        finally:
            current_update.reset(token)
            logs.unbind(log_token)
        if ctx.uncertain:
            log.warning(
                "update %s: %s may or may not have reached Telegram before the stop; not repeated",
                update_id,
                ", ".join(ctx.uncertain),
            )
            error = "uncertain: " + ", ".join(ctx.uncertain)
        steps: list[Step] = [
            (
                MARK_DONE,
                {
                    "b_update_id": update_id,
                    "b_status": "failed" if error and not ctx.uncertain else "done",
                    "b_handled_at": self.clock.now(),
                    "b_error": error,
                },
            )
        ]
        # The journal only matters while the update may be replayed; an update that sent
        # nothing (in this run or, for a replay, an earlier one) has no rows to drop.
        if ctx.written or ctx.replay:
            steps.append((DROP_JOURNAL, {"b_update_id": update_id}))

        async def finish(session: AsyncSession) -> None:
            await run_recorded(session, recorded)
            for prepared, params in steps:
                await session.execute(prepared.stmt, dict(params))

        try:
            if all(isinstance(write, list) for write in recorded):  # hot steps only
                hot = [step for write in recorded if isinstance(write, list) for step in write]
                await self.db.write(hot + steps)  # shares a commit with others
            else:
                await self.db.batched(finish)  # the same through a session
        except Exception:
            if not recorded:
                raise
            # A recorded write that fails must not keep the update pending (replayed forever).
            log.exception("update %s: its recorded writes failed; marked done without them", update_id)
            recorded.clear()
            await self.db.write(steps)
        self.handled += 1
        result = "uncertain" if ctx.uncertain else "failed" if error else "done"
        telemetry.update_finished(started, time.monotonic(), result)
        if self._on_handled is not None:
            await self._on_handled(update_id)

    # ------------------------------------------------------------------ several processes

    async def _drain_shared(self, key: Any) -> None:
        """Handle the chat's pending updates from the database while holding its lease."""
        lease_key = str(key)
        mine = self._queues.get(key) or deque()
        local = {u: (p, parsed) for u, p, _r, parsed in mine}
        handled: set[int] = set()

        def waiting() -> list[int]:  # updates this process stored that nobody handled here
            return [u for u, *_ in mine if u not in handled]

        try:
            while True:
                # A worker first, then the lease: a chat waiting for a worker holds no lease, so
                # its next update, stored by another process meanwhile, is handled there at once
                # (with this one) instead of waiting here behind this process's backlog.
                async with self._sem:
                    got = await self._acquire(lease_key)
                    if got:
                        try:
                            await self._handle_pending(key, lease_key, local, handled)
                        finally:
                            await self._release(lease_key)
                if not got:
                    # Another process holds the chat: it handles what we stored (it looks again
                    # before letting go). Wait until ours are done, or the lease comes free.
                    if await self._all_done(waiting()):
                        return
                    await asyncio.sleep(0.2)
                    continue
                # Stored meanwhile by a process that found the chat taken: ours to handle now.
                if not [r for r in await self._pending_of(key) if r[0] not in handled]:
                    if await self._all_done(waiting()):
                        return
        finally:
            for update_id, *_ in mine:
                self._known.discard(update_id)
            self._tasks.pop(key, None)
            self._queues.pop(key, None)
            if not self._tasks:
                self._idle.set()

    async def _handle_pending(
        self,
        key: Any,
        lease_key: str,
        local: dict[int, tuple[dict[str, Any], Update | None]],
        handled: set[int],
    ) -> None:
        """Handle the chat's pending updates, in order, until none is left (lease held)."""
        while True:
            rows = [r for r in await self._pending_of(key) if r[0] not in handled]
            if not rows:
                return
            replay = lease_key in self._stale
            for update_id, payload, attempts in rows:
                payload_, parsed = local.get(update_id, (payload, None))
                again = replay or attempts > 0 or update_id in self._unfinished
                try:
                    await self._handle(update_id, payload_, again, parsed)
                    self._unfinished.discard(update_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("update %s could not be finished; left pending", update_id)
                    self._unfinished.add(update_id)
                handled.add(update_id)

    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every scheduled update is handled; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    @property
    def backlog(self) -> int:
        return sum(len(q) for q in self._queues.values())
