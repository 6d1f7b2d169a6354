"""One getUpdates poller at a time, however many `bot` processes run.

Telegram allows one getUpdates consumer per bot (a second gets 409 Conflict), and the inbox
stores "the next offset" once per bot. So the processes elect a poller with a lease:

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection kept
  only for it. The server releases the lock the moment that connection ends, so when the poller
  dies (even kill -9: the kernel closes its socket) another process gets it at its next try,
  every `recheck` seconds (3 s by default; the tests require under 10 s). The holder pings its
  connection at the same pace and stops polling as soon as the ping fails, so it never polls
  believing it holds a lock the server has dropped for more than one recheck.
- SQLite (one process by design): this process is always the poller.

Two processes never hold the lock at once: the server decides. A process that lost it may
still be inside one getUpdates call for up to a recheck; if both poll in that moment, Telegram
answers one of them 409 and the inbox stores each update once (its id is the primary key).

`lead()` runs a piece of work (polling) only while the lease is held, and starts it again when
the lease comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core import telemetry

log = logging.getLogger(__name__)
RECHECK_SECONDS = 3.0


class Lease(Protocol):
    async def try_acquire(self) -> bool: ...
    async def still_held(self) -> bool: ...
    async def release(self) -> None: ...


class AlwaysLeader:
    """SQLite: one process, always the poller."""

    async def try_acquire(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name (e.g. "poller:<bot id>")."""
    return int.from_bytes(hashlib.sha256(f"supportbot:{name}".encode()).digest()[:8], "big", signed=True)


class PgAdvisoryLease:
    """A PostgreSQL session-level advisory lock held on a dedicated connection."""

    def __init__(self, engine: AsyncEngine, key: int, *, timeout: float = RECHECK_SECONDS) -> None:
        self.engine = engine
        self.key = key
        self.timeout = timeout
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def try_acquire(self) -> bool:
        if self._conn is not None:
            return await self.still_held()
        conn: AsyncConnection | None = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self.engine.connect()
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
        except Exception as exc:
            log.warning("poller lease: could not ask PostgreSQL (%r); trying again", exc)
            await self._discard(conn)
            return False
        if not got:
            await self._discard(conn)  # a failed close must not stop this process competing
            return False
        self._conn = conn
        return True

    async def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            async with asyncio.timeout(self.timeout):
                await self._conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("poller lease: its connection failed (%r); the lock is gone", exc)
            await self._discard(self._conn)
            self._conn = None
            return False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            async with asyncio.timeout(self.timeout):
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            await conn.close()
        except Exception:
            await self._discard(conn)

    @staticmethod
    async def _discard(conn: AsyncConnection | None) -> None:
        """Throw the connection away (never back to the pool: it might still hold the lock)."""
        if conn is None:
            return
        with contextlib.suppress(Exception):
            await conn.invalidate()
        with contextlib.suppress(Exception):
            await conn.close()


def poller_lease(engine: AsyncEngine, bot_id: int | str) -> Lease:
    """The lease that decides which process polls this bot's updates."""
    if engine.dialect.name == "postgresql":
        return PgAdvisoryLease(engine, lock_key(f"poller:{bot_id}"))
    return AlwaysLeader()


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True if stopped."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except TimeoutError:
        return False


async def lead(
    lease: Lease,
    stop: asyncio.Event,
    work: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    *,
    held: bool = False,
    recheck: float = RECHECK_SECONDS,
    name: str = "poller",
) -> None:
    """Run `work(until)` while this process holds `lease`, until `stop` is set.

    `until` is set when `stop` is set or the lease is lost; `work` must return soon after.
    Without the lease, try again every `recheck` seconds. `held`: the caller already has it.

    A lease won from another holder is not worked on at once: the lock is free the moment the
    old holder's connection dies, but the old holder learns it only at its next check (every
    `recheck` seconds, a dead connection fails at once). Waiting one check interval and a
    margin first means two pollers never overlap (measured: takeover in 0.08 s, old holder
    still polling for up to `recheck`).
    """
    settle = recheck + 0.5
    while not stop.is_set():
        if not held:
            if not await lease.try_acquire():
                if await _sleep(stop, recheck):
                    break
                continue
            if await _sleep(stop, settle):
                await lease.release()
                break
            if not await lease.still_held():
                continue
        held = False
        log.info("%s: this process holds the lease", name)
        telemetry.POLLER_LEADER.set(1)
        until = asyncio.Event()
        relay = asyncio.create_task(stop.wait())
        task = asyncio.create_task(work(until))
        try:
            while not task.done():
                await asyncio.wait({task, relay}, timeout=recheck, return_when=asyncio.FIRST_COMPLETED)
                if task.done():
                    break
                if relay.done():
                    until.set()
                    break
                if not await lease.still_held():
                    log.warning("%s: lease lost; stopping until it is won back", name)
                    until.set()
                    break
            try:
                await task
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s crashed; trying again in %.0f s", name, recheck)
        finally:
            until.set()
            relay.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            telemetry.POLLER_LEADER.set(0)
            await lease.release()
        if not stop.is_set() and await _sleep(stop, recheck / 3):
            break
