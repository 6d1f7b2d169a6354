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

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bot.inbox_statements import INBOX, LEASES
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
        where = (
            INBOX.c.update_id == int(key[1:])
            if isinstance(key, str) and key.startswith("u")
            else INBOX.c.chat_id == int(key)
        )
        async with self.db() as session:
            rows = await session.execute(
                select(INBOX.c.update_id, INBOX.c.payload, INBOX.c.attempts)
                .where(where, INBOX.c.status == "pending")
                .order_by(INBOX.c.update_id)
                .limit(100)
            )
            return [(r[0], r[1], r[2]) for r in rows.all()]

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
        async with self.db.begin() as session:
            got = await session.execute(
                pg_insert(LEASES)
                .values(chat_key=lease_key, owner=self.owner, lease_until=until)
                .on_conflict_do_nothing(index_elements=["chat_key"])
                .returning(LEASES.c.chat_key)
            )
            if got.first() is None:
                row = (
                    await session.execute(
                        select(LEASES.c.owner, LEASES.c.lease_until)
                        .where(LEASES.c.chat_key == lease_key)
                        .with_for_update()
                    )
                ).first()
                if row is None:  # let go between the insert and this read: the caller tries again
                    return False
                if row.owner != self.owner and row.lease_until > now:
                    return False
                if row.owner != self.owner:
                    self._stale.add(lease_key)  # its owner died mid-chat: replays
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
            async with self.db.begin() as session:
                await session.execute(
                    delete(LEASES).where(LEASES.c.chat_key == lease_key, LEASES.c.owner == self.owner)
                )
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
        """Pending updates nobody is handling (a dead process's, or stored while the chat's
        holder was letting go): take their chats."""
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
                            .where(INBOX.c.received_at < now - timedelta(seconds=1))
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
                        self._idle.clear()
                        self._tasks[key] = asyncio.create_task(self._drain(key), name=f"chat-{key}")
            except Exception:
                log.warning("inbox sweep failed; retrying", exc_info=True)
