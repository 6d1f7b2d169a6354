"""Telegram flood limits (token buckets) and random fault injection.

All time comes from an injectable ``clock`` (monotonic seconds) so tests need not sleep.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FloodConfig", "FloodLimiter", "FaultInjector", "SENDING_METHODS", "TokenBucket"]

# Methods that send a new message (count against flood limits). sendMediaGroup counts once.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "forwardMessage",
        "forwardMessages",
        "copyMessage",
        "copyMessages",
        "sendPhoto",
        "sendAudio",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendPaidMedia",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendChecklist",
        "sendDice",
        "sendSticker",
        "sendInvoice",
        "sendGame",
        "sendLivePhoto",
        "sendRichMessage",
    }
)

Clock = Callable[[], float]


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate  # tokens per second
        self.tokens = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if available now)."""
        self.refill(now)
        if self.tokens >= 1 - 1e-9:
            return 0.0
        return (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens = max(0.0, self.tokens - 1)


@dataclass
class FloodConfig:
    enabled: bool = True
    private_per_second: float = 1.0  # refill rate per private chat
    private_burst: int = 3  # bucket capacity per private chat
    group_per_minute: int = 20  # per group/supergroup
    global_per_second: int = 30  # overall for the bot

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FloodLimiter:
    """Per-chat and global token buckets. ``check`` consumes a token or returns retry_after."""

    def __init__(self, config: FloodConfig | None = None, clock: Clock = time.monotonic) -> None:
        self.config = config or FloodConfig()
        self.clock = clock
        self._chats: dict[int | str, TokenBucket] = {}
        self._global: TokenBucket | None = None
        self.hits = 0  # number of 429 answers

    def configure(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            if v is None:
                continue
            if not hasattr(self.config, k):
                raise ValueError(f"unknown flood limit setting {k!r}")
            setattr(self.config, k, type(getattr(self.config, k))(v))
        self.reset()

    def reset(self) -> None:
        self._chats.clear()
        self._global = None

    def _bucket(self, chat_id: int | str, is_private: bool, now: float) -> TokenBucket:
        b = self._chats.get(chat_id)
        if b is None:
            c = self.config
            if is_private:
                b = TokenBucket(c.private_burst, c.private_per_second, now)
            else:
                b = TokenBucket(c.group_per_minute, c.group_per_minute / 60.0, now)
            self._chats[chat_id] = b
        return b

    def check(self, chat_id: int | str, is_private: bool) -> int | None:
        """Consumes one message slot for ``chat_id``. Returns None if allowed, else retry_after (int >= 1)."""
        if not self.config.enabled:
            return None
        now = self.clock()
        if self._global is None:
            g = self.config.global_per_second
            self._global = TokenBucket(g, g, now)
        chat = self._bucket(chat_id, is_private, now)
        wait = max(chat.wait_time(now), self._global.wait_time(now))
        if wait > 0:
            self.hits += 1
            return max(1, math.ceil(wait))
        chat.take()
        self._global.take()
        return None


@dataclass
class FaultConfig:
    rate_429: float = 0.0
    rate_500: float = 0.0
    retry_after: int = 1
    seed: int | None = 0
    # Which methods may be answered with a fault (Bot API names); None: every sending method.
    # Telegram answers 429 to edits and button answers too, so tests can aim faults at them.
    methods: list[str] | None = None
    max_faults: int | None = None  # stop injecting after this many (None: no end)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """Answers a random share of sending calls with 429 or 500 (seeded, reproducible)."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self.injected = {"429": 0, "500": 0}

    def configure(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            if not hasattr(self.config, k):
                raise ValueError(f"unknown fault setting {k!r}")
            if v is None and k not in ("seed", "methods", "max_faults"):
                continue
            cur = getattr(self.config, k)
            if k == "methods":
                if v is not None and (not isinstance(v, list) or not all(isinstance(m, str) for m in v)):
                    raise ValueError("methods must be a list of Bot API method names")
                self.config.methods = v
                continue
            setattr(self.config, k, v if v is None or cur is None else type(cur)(v))
        for k in ("rate_429", "rate_500"):
            if not 0.0 <= getattr(self.config, k) <= 1.0:
                raise ValueError(f"{k} must be within [0, 1]")
        self._rng = random.Random(self.config.seed)

    @property
    def active(self) -> bool:
        return self.config.rate_429 > 0 or self.config.rate_500 > 0

    def applies_to(self, method: str) -> bool:
        methods = self.config.methods
        return method in SENDING_METHODS if methods is None else method in methods

    def roll(self) -> str | None:
        """Returns "429", "500" or None."""
        if not self.active:
            return None
        limit = self.config.max_faults
        if limit is not None and self.injected["429"] + self.injected["500"] >= limit:
            return None
        x = self._rng.random()
        if x < self.config.rate_429:
            self.injected["429"] += 1
            return "429"
        if x < self.config.rate_429 + self.config.rate_500:
            self.injected["500"] += 1
            return "500"
        return None
