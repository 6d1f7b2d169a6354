"""Wake-ups between processes on PostgreSQL: LISTEN/NOTIFY.

A commit that queued something wakes the queue's worker in its own process at once
(core.delivery.wake). With several processes the free worker may be in another one: this bridge
sends the queue names on a NOTIFY channel after the commit, and every process LISTENs and wakes
its own workers. One dedicated asyncpg connection per process; if it drops, it reconnects (the
workers still look at their queues every few seconds meanwhile, so nothing is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
CHANNEL = "supportbot_wake"


class PgWakeBridge:
    def __init__(self, database_url: str, on_wake: Callable[[frozenset[str]], None]) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.on_wake = on_wake
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self.connected = asyncio.Event()

    def publish(self, names: frozenset[str]) -> None:
        """Tell every process (after a local commit queued something for these queues)."""
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(",".join(sorted(names)))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-wake")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        names = frozenset(n for n in payload.split(",") if n)
        if names:
            self.on_wake(names)

    async def _run(self) -> None:
        import asyncpg

        delay = 0.5
        while not self._stop.is_set():
            try:
                self._conn = await asyncpg.connect(self.dsn)
                await self._conn.add_listener(CHANNEL, self._received)
                self.connected.set()
                delay = 0.5
                while not self._stop.is_set():
                    payload = await self._outbox.get()
                    await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                log.warning("wake-up channel to PostgreSQL lost (%s); reconnecting in %.1f s", exc, delay)
                with contextlib.suppress(Exception):
                    if self._conn is not None:
                        await self._conn.close()
                self._conn = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
