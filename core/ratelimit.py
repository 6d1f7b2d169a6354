"""Telegram flood limits as token buckets: ~30 msg/s per bot, ~1/s per private chat, 20/min per group.

Pure rules with an injected monotonic clock; the bot's sender awaits `delay()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = field(default=-1.0)
    updated: float = 0.0
    paused_until: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if now)."""
        self._refill(now)
        wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
        return max(wait, self.paused_until - now)

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1

    def pause(self, now: float, seconds: float) -> None:
        self.paused_until = max(self.paused_until, now + seconds)
        self.tokens = 0


@dataclass(frozen=True)
class Limits:
    global_per_second: float = 30.0
    global_burst: float = 30.0
    private_per_second: float = 1.0
    private_burst: float = 3.0
    group_per_minute: float = 20.0
    group_burst: float = 3.0


class FloodGate:
    """Decides how long a send to a chat must wait so Telegram never answers 429."""

    def __init__(self, limits: Limits = Limits(), monotonic: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._now = monotonic
        self.global_bucket = TokenBucket(limits.global_per_second, limits.global_burst)
        self._chats: dict[int | str, TokenBucket] = {}

    def _chat_bucket(self, chat_id: int | str) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            is_group = isinstance(chat_id, str) or chat_id < 0
            if is_group:
                bucket = TokenBucket(self.limits.group_per_minute / 60.0, self.limits.group_burst)
            else:
                bucket = TokenBucket(self.limits.private_per_second, self.limits.private_burst)
            bucket.updated = self._now()
            if len(self._chats) > 100_000:  # forget idle private chats; their buckets are full
                self._chats = {k: b for k, b in self._chats.items() if b.tokens < b.capacity}
            self._chats[chat_id] = bucket
        return bucket

    def delay(self, chat_id: int | str | None) -> float:
        """Seconds to wait before this send; 0 means the send may go now (and is counted)."""
        now = self._now()
        buckets = [self.global_bucket] + ([self._chat_bucket(chat_id)] if chat_id is not None else [])
        wait = max(b.wait_time(now) for b in buckets)
        if wait <= 0:
            for b in buckets:
                b.take(now)
        return wait

    def retry_after(self, chat_id: int | str | None, seconds: float) -> None:
        """Telegram said 429: pause the chat (or everything, if no chat) for that long."""
        now = self._now()
        bucket = self._chat_bucket(chat_id) if chat_id is not None else self.global_bucket
        bucket.pause(now, seconds)
