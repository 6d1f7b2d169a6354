"""What background workers get: everything they need to talk to the database and Telegram."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field

from aiogram import Bot

from core.clock import Clock
from core.ratelimit import FloodGate
from core.rules import Rules
from core.settings import Settings
from dialogs.handoff.card import CardSection
from dialogs.i18n import I18n
from storage.db import Database


@dataclass
class BotContext:
    settings: Settings
    rules: Rules  # built once by the composition root (core/rules.py)
    db: Database
    clock: Clock
    bot: Bot
    i18n: I18n
    stop: asyncio.Event
    gate: FloodGate | None = None
    # Lines other domains add to the staff's customer card (supportbot/runtime.py card_sections()).
    card_sections: tuple[CardSection, ...] = ()
    # Who holds a queue claim (core/delivery): unique per process start, never reused.
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    # One process on SQLite: at start everything a previous run left is its to recover. On
    # PostgreSQL other live processes may hold claims: only expired leases are recovered.
    single_process: bool = True
    _signals: dict[str, asyncio.Event] = field(default_factory=dict)

    def notify(self, name: str) -> None:
        """Wake the worker waiting on `name` (e.g. new rows in its queue)."""
        self._signals.setdefault(name, asyncio.Event()).set()

    async def wait(self, name: str, seconds: float) -> bool:
        """Wait for `notify(name)`, at most `seconds`; True when the worker should stop."""
        return await self.wait_for(name, seconds) == "stop"

    async def wait_for(self, name: str, seconds: float) -> str:
        """Wait for `notify(name)`, at most `seconds`: "stop", "woken" or "timeout"."""
        event = self._signals.setdefault(name, asyncio.Event())
        if not event.is_set():
            stop = asyncio.ensure_future(self.stop.wait())
            signal = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({stop, signal}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                signal.cancel()
        woken = event.is_set()
        event.clear()
        if self.stop.is_set():
            return "stop"
        return "woken" if woken else "timeout"

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless asked to stop; True when the worker should stop."""
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            return False
        return True
