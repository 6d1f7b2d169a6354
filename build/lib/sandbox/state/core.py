"""The sandbox state's core: lifecycle, the bot's identity, the event bus, the update queue
and the call/violation logs. The layers above (chats, messages, user actions) extend it.

Everything runs on one asyncio loop; no locking.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .model import (
    DEFAULT_UPDATES_EXCLUDED,
    BotIdentity,
    CallbackQuery,
    Chat,
    FileRecord,
    Message,
    Update,
    User,
    WebhookSettings,
)


class StateCore:
    """Lifecycle, identity, events, the update queue and logs; the base of SandboxState."""

    def __init__(
        self,
        token: str | None = None,
        *,
        bot_username: str = "sandbox_support_bot",
        bot_first_name: str = "Sandbox Support Bot",
        clock: Callable[[], float] = time.time,
        call_log_size: int = 100_000,
    ) -> None:
        self.clock = clock
        self.call_log_size = call_log_size
        bot_id = int(token.split(":", 1)[0]) if token else 7_000_000_001
        self.bot = BotIdentity(bot_id, bot_username, bot_first_name, token, bound=token is not None)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._chat_waiters: dict[Any, asyncio.Event] = {}
        self._update_event: asyncio.Event | None = None
        self.events_dropped = 0
        self._init_world()

    # ------------------------------------------------------------------ lifecycle

    def _init_world(self) -> None:
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], Message] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.callbacks: dict[str, CallbackQuery] = {}
        self.updates: deque[Update] = deque()
        self.next_update_id = 10_001
        self.allowed_updates: list[str] | None = None
        self.webhook: WebhookSettings | None = None
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.default_menu_button: dict[str, Any] | None = None
        self.call_log: deque[dict[str, Any]] = deque(maxlen=self.call_log_size)
        self.violations: list[dict[str, Any]] = []
        self.chat_actions: deque[dict[str, Any]] = deque(maxlen=1000)
        self._call_seq = itertools.count(1)
        self._violation_seq = itertools.count(1)
        self._event_seq = itertools.count(1)
        self._user_seq = itertools.count(100_000_001)
        self._group_seq = itertools.count(1)
        self._file_seq = itertools.count(1)
        self._path_seq = itertools.count(1)
        self._cb_seq = itertools.count(1)
        self._media_group_seq = itertools.count(1)

    def reset(self) -> None:
        """Forgets the whole world (users, chats, messages, updates, logs, webhook)."""
        self._init_world()
        self.emit("reset")
        for ev in self._chat_waiters.values():
            ev.set()
        self._chat_waiters.clear()
        self._signal_updates()

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ bot identity

    def bind_token(self, token: str) -> bool:
        """Binds the bot id to the token's number. Returns False if the token belongs to another bot."""
        try:
            bot_id = int(token.split(":", 1)[0])
        except ValueError:
            return False
        if not self.bot.bound:
            self.bot.id = bot_id
            self.bot.token = token
            self.bot.bound = True
            return True
        return bot_id == self.bot.id

    def render_bot(self, full: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.bot.id,
            "is_bot": True,
            "first_name": self.bot.first_name,
            "username": self.bot.username,
        }
        if full:
            d.update(
                {
                    "can_join_groups": True,
                    "can_read_all_group_messages": False,
                    "supports_inline_queries": False,
                    "can_connect_to_business": False,
                    "has_main_web_app": False,
                }
            )
        return d

    # ------------------------------------------------------------------ events

    def subscribe(self, maxsize: int = 10_000) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(q)

    def close_subscribers(self) -> None:
        """Ends all event streams (used on shutdown)."""
        for q in list(self._subscribers):
            try:
                q.put_nowait({"type": "__close__"})
            except asyncio.QueueFull:
                pass

    def emit(self, type_: str, **data: Any) -> None:
        if self._subscribers:
            ev = {"seq": next(self._event_seq), "type": type_, "time": self.clock(), **data}
            for q in list(self._subscribers):
                try:
                    q.put_nowait(ev)
                except asyncio.QueueFull:
                    self.events_dropped += 1

    def notify(self, key: Any) -> None:
        ev = self._chat_waiters.pop(key, None)
        if ev is not None:
            ev.set()

    async def wait_change(self, key: Any, timeout: float) -> bool:  # noqa: ASYNC109
        """Waits until ``notify(key)`` is called or timeout. Returns False on timeout."""
        if timeout <= 0:
            return False
        ev = self._chat_waiters.get(key)
        if ev is None:
            ev = self._chat_waiters[key] = asyncio.Event()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # ------------------------------------------------------------------ update queue

    @property
    def update_event(self) -> asyncio.Event:
        if self._update_event is None:
            self._update_event = asyncio.Event()
        return self._update_event

    def _signal_updates(self) -> None:
        if self._update_event is not None:
            self._update_event.set()
            self._update_event = None

    def is_update_allowed(self, kind: str) -> bool:
        allowed = self.allowed_updates
        if not allowed:
            return kind not in DEFAULT_UPDATES_EXCLUDED
        return kind in allowed

    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> Update | None:
        if not self.is_update_allowed(kind):
            return None
        upd = Update(self.next_update_id, kind, payload)
        self.next_update_id += 1
        self.updates.append(upd)
        self._signal_updates()
        return upd

    def confirm_updates(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        q = self.updates
        if offset < 0:
            keep = -offset
            while len(q) > keep:
                q.popleft()
            return
        while q and q[0].update_id < offset:
            q.popleft()

    def pending_updates(self, limit: int) -> list[Update]:
        return list(itertools.islice(self.updates, 0, limit))

    # ------------------------------------------------------------------ logs

    def log_call(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry["id"] = next(self._call_seq)
        self.call_log.append(entry)
        return entry

    def log_violation(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry["id"] = next(self._violation_seq)
        self.violations.append(entry)
        self.emit("violation", violation=entry)
        return entry
