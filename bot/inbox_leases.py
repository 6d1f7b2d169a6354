"""The several-process part of the durable inbox (bot/inbox.py): chat leases.

Moved out of bot/inbox.py (issue 14) as a mixin the `Inbox` inherits, its methods unchanged.
With `shared=True` a chat's updates are handled by one process at a time, in update order,
under a lease (`inbox_leases`, renewed while held); a sweeper takes the chats of pending updates
nobody is handling (a dead process's, once its lease lapsed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.inbox_statements import INBOX, LEASE_DROP, LEASE_TAKE, LEASES, PENDING_OF_CHAT, PENDING_OF_UPDATE
from core import telemetry
from core.clock import Clock
from storage.db import Database

log = logging.getLogger("bot.inbox")  # the inbox's logger, as before the move


async def _back_off(stop: asyncio.Event, seconds: float) -> float:
    """Wait `seconds` (less if `stop` is set meanwhile); the next, doubled wait (at most 30 s)."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
    return min(seconds * 2, 30.0)


class ChatLeases:
    """Chat leases and the sweeper of the `Inbox` (which sets these attributes)."""

    db: Database
    clock: Clock
    owner: str
    lease: timedelta
    _held: set[str]  # chat keys whose lease this process holds
    _stale: set[str]  # chat keys taken over from a dead process: replays
    _tasks: dict[Any, asyncio.Task[None]]
    _idle: asyncio.Event
    _drain: Callable[[Any], Coroutine[Any, Any, None]]

    async def _pending_of(self, key: Any) -> list[tuple[int, dict[str, Any], int]]:
        if isinstance(key, str) and key.startswith("u"):
            rows = await self.db.fetch(PENDING_OF_UPDATE, {"b_id": int(key[1:])})
        else:
            rows = await self.db.fetch(PENDING_OF_CHAT, {"b_id": int(key)})
        return [(r["update_id"], r["payload"], r["attempts"]) for r in rows]

    async def _all_done(self, ids: list[int]) -> bool:
        if not ids:
            return True
        async with self.db() as session:
            left = await session.scalar(
                select(func.count()).where(INBOX.c.update_id.in_(ids), INBOX.c.status == "pending")
            )
        return not left

    async def _acquire(self, lease_key: str) -> bool:
        """Take (or keep) the chat's lease; False while a live process holds it."""
        now = self.clock.now()
        until = now + self.lease
        take = {"b_key": lease_key, "b_owner": self.owner, "b_until": until}
        (got,) = await self.db.write([(LEASE_TAKE, take)], alone=True)
        if got:  # the chat was free: the common case, one statement
            self._held.add(lease_key)
            telemetry.INBOX_LEASES.labels("free").inc()
            return True
        async with self.db.begin() as session:  # taken: by us, by a live process, or lapsed
            row = (
                await session.execute(
                    select(LEASES.c.owner, LEASES.c.lease_until)
                    .where(LEASES.c.chat_key == lease_key)
                    .with_for_update()
                )
            ).first()
            if row is None:  # let go between the insert and this read: the caller tries again
                telemetry.INBOX_LEASES.labels("busy").inc()
                return False
            if row.owner != self.owner and row.lease_until > now:
                telemetry.INBOX_LEASES.labels("busy").inc()
                return False
            if row.owner != self.owner:
                self._stale.add(lease_key)  # its owner died mid-chat: replays
                telemetry.INBOX_LEASES.labels("taken_over").inc()
            else:
                telemetry.INBOX_LEASES.labels("kept").inc()  # ours already (a release that failed)
            await session.execute(
                LEASES.update()
                .where(LEASES.c.chat_key == lease_key)
                .values(owner=self.owner, lease_until=until)
            )
        self._held.add(lease_key)
        return True

    async def _release(self, lease_key: str) -> None:
        self._held.discard(lease_key)
        self._stale.discard(lease_key)
        try:
            await self.db.write([(LEASE_DROP, {"b_key": lease_key, "b_owner": self.owner})], alone=True)
        except Exception:  # it lapses by itself
            log.warning("could not release the lease of chat %s; it lapses in %s", lease_key, self.lease)

    async def _renew(self, stop: asyncio.Event) -> None:
        every = self.lease.total_seconds() / 3
        while not stop.is_set():
            await _back_off(stop, every)
            if self._held:
                try:
                    async with self.db.begin() as session:
                        await session.execute(
                            LEASES.update()
                            .where(LEASES.c.owner == self.owner, LEASES.c.chat_key.in_(list(self._held)))
                            .values(lease_until=self.clock.now() + self.lease)
                        )
                except Exception:
                    log.warning("could not renew chat leases; retrying", exc_info=True)

    async def _sweep(self, stop: asyncio.Event) -> None:
        """Pending updates nobody is handling: take their chats. Only updates older than a
        lease: a chat waits for one of its process's workers before it takes its lease
        (`Inbox._drain_shared`), so under a backlog a live process's queued chats hold no lease
        yet; taking those at once (as with a one-second threshold) made the other process
        start a drain for half of every burst's chats, each one done twice over for nothing.
        A dead process's chats come back after a lease either way: the ones it held once their
        leases lapse, the ones it had queued once they are a lease old."""
        while not stop.is_set():
            await _back_off(stop, 1.0)
            if stop.is_set():
                return
            try:
                now = self.clock.now()
                async with self.db() as session:
                    pending = (
                        await session.execute(
                            select(INBOX.c.update_id, INBOX.c.chat_id)
                            .where(INBOX.c.status == "pending")
                            .where(INBOX.c.received_at < now - self.lease)
                            .order_by(INBOX.c.update_id)
                            .limit(500)
                        )
                    ).all()
                    keys = {
                        (str(c) if c is not None else f"u{u}"): (c if c is not None else f"u{u}")
                        for u, c in pending
                    }
                    if not keys:
                        continue
                    busy = set(
                        (
                            await session.execute(
                                select(LEASES.c.chat_key).where(
                                    LEASES.c.chat_key.in_(list(keys)), LEASES.c.lease_until >= now
                                )
                            )
                        ).scalars()
                    )
                for lease_key, key in keys.items():
                    if lease_key not in busy and key not in self._tasks:
                        telemetry.INBOX_SWEPT.inc()
                        self._idle.clear()
                        self._tasks[key] = asyncio.create_task(self._drain(key), name=f"chat-{key}")
            except Exception:
                log.warning("inbox sweep failed; retrying", exc_info=True)
