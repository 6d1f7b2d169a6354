"""Telegram flood limits as token buckets: ~30 msg/s per bot, ~1/s per private chat, 20/min per
group, and 1000/s for paid broadcasts. One gate for every request the bot makes, in lanes:

- `live`: replies to people who are writing now (support, menus, flows). Always first: while a
  live send waits for the global bucket, no campaign message takes a token.
- `campaign`: proactive messages. Shares the global bucket but leaves `live_reserve` tokens in
  it, so a burst of live replies goes out at once even in the middle of a broadcast, and the
  reserve also absorbs network jitter (Telegram's bucket is never drained to the last token).
- `paid`: messages sent with `allow_paid_broadcast` (up to 1000/s, charged in Stars). Their own
  bucket; they do not count against the free 30/s.

Per-chat buckets are shared by every lane. A 429 pauses the lane it happened in for
`retry_after` (a live 429 pauses only its chat). Pure rules with an injected monotonic clock;
`acquire()` is the only awaiting call.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import Settings


MARGIN = 0.97  # the share of each Telegram limit the product uses
# A request woken this long after its departure slot takes a new one (at most DEPART_RETRIES
# times) rather than leave together with the next ones.
DEPART_LATE = 0.020
DEPART_RETRIES = 2
# The global 30/s: lower, so a second counted at Telegram has room for requests that arrive
# late. At 0.96 (28.8/s, ~40 ms of room) three processes on a busy 2-core machine sometimes put
# 31 in one second at the double (requests 43-54 ms late; tests/e2e/test_three_processes.py).
GLOBAL_MARGIN = 0.93


class Lane(StrEnum):
    LIVE = "live"
    CAMPAIGN = "campaign"
    PAID = "paid"


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

    def wait_time(self, now: float, reserve: float = 0.0) -> float:
        """Seconds until one token is available while keeping `reserve` tokens (0 if now)."""
        self._refill(now)
        need = 1 + reserve
        wait = 0.0 if self.tokens >= need else (need - self.tokens) / self.rate
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
    live_reserve: float = 5.0
    paid_per_second: float = 1000.0
    paid_burst: float = 50.0
    # Live + campaign requests *leave* at most `depart_burst` in any `depart_burst /
    # depart_per_second` seconds (0: not paced; a burst of 1 is one every 1/depart_per_second s).
    # The buckets above decide before a send's durable mark is committed; this after it, right
    # before the request goes (see `FloodGate.depart`).
    depart_per_second: float = 0.0
    depart_burst: int = 1

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        """The limits the product runs with (the runtime builds its one gate from these).

        Our clock and Telegram's never agree exactly and requests bunch up on the network, so
        the product runs a little under each limit (MARGIN). Sending at exactly 30/s with a
        30-message burst met 429s on 6.5% of a broadcast; a little under it meets none and still
        finishes sooner (bench/delivery.py).

        The global 30/s is kept where requests *leave* (`depart`, after their durable marks,
        whose commits take a variable time: tokens taken 35 ms apart could leave together after
        one commit): at most 5 departures in any 5/27.9 s (a sliding window at 93%), so any
        30/27.9 s holds at most 30 and a request may arrive up to ~75 ms late (a busy core, the
        network) without a second at Telegram holding more than 30, while a burst of up to 5
        replies (customers writing at once) leaves at once instead of one every 35 ms
        (bench/role_split.py: the paced departures were much of a reply's p99 there). Larger
        bursts were tried: with 30 and with 10 at once, the tail of one burst sometimes reached
        the double late enough to share a second with the next one (31,
        tests/e2e/test_three_processes.py).

        The global token bucket decides earlier, before the durable mark. Live replies may take
        its whole burst; campaign messages leave `live_reserve` tokens in it, so a broadcast
        runs paced at the bucket's rate with a burst of about one message, and a burst of live
        replies in the middle of a broadcast still finds tokens. Live replies also go first:
        while one waits, campaign sends yield (`Grant.reason == "live"`). The paid lane (up to
        1,000/s) keeps a burst of a few messages so the sender is not woken once a millisecond;
        burst + rate stays under Telegram's figure."""
        limit = s.outreach_rate_per_second
        rate = limit * GLOBAL_MARGIN
        departures = max(1, int(limit) // 6)
        paid = s.outreach_paid_rate_per_second * MARGIN
        group = s.support_group_per_minute * MARGIN
        return cls(
            group_per_minute=group,
            # A bucket of b filling at r holds at most b + r*w whole messages in a window of w:
            # b is kept under (limit + 1) - r*(61 s), so even a 61-second window (a post that
            # left late) never holds more than the limit.
            group_burst=max(1.0, s.support_group_per_minute + 0.99 - group * 61 / 60),
            # One short of Telegram's burst per chat: our clock and Telegram's never agree exactly.
            private_burst=2,
            global_per_second=rate,
            # Live may burst up to the departure window; a campaign sees a bucket of
            # (limit + 1) - r: with rate r that holds at most b + r whole messages in a second.
            global_burst=max(1.0, float(departures)),
            live_reserve=max(0.0, departures - max(1.0, limit + 0.99 - rate)),
            depart_per_second=rate,
            depart_burst=departures,
            paid_per_second=paid,
            paid_burst=max(1.0, min(20.0, s.outreach_paid_rate_per_second - paid)),
        )


def depart_slot(departed: Sequence[float], now: float, burst: int, rate: float) -> float:
    """The next departure slot after `departed` (the last slots, oldest first): not before now
    or the last one, and at least `burst / rate` seconds after the slot `burst` places back, so
    no window of that length holds more than `burst` departures. (core/ratelimit_redis.py runs
    the same rule in Lua.)"""
    slot = max(now, departed[-1]) if departed else now
    if len(departed) >= burst:
        slot = max(slot, departed[-burst] + burst / rate)
    return slot


@dataclass(frozen=True, slots=True)
class Grant:
    """The answer to "may this send go now?": wait 0 means yes (and the tokens are taken)."""

    wait: float
    reason: str = ""  # what is in the way: global | chat | lane | live


class FloodGate:
    """Decides how long a send to a chat must wait so Telegram never answers 429."""

    def __init__(self, limits: Limits = Limits(), monotonic: Callable[[], float] = time.monotonic):
        self._now = monotonic
        self._chats: dict[int | str, TokenBucket] = {}
        self._live_waiting = 0
        self.taken: Counter[str] = Counter()
        self.departure_waits = 0  # departures that had to wait for their slot
        self.departure_retakes = 0  # departures woken late that took a new slot
        self.configure(limits)

    def configure(self, limits: Limits) -> None:
        """Apply new limits (settings are read after the gate is built); chat buckets stay."""
        self.limits = limits
        self.global_bucket = TokenBucket(limits.global_per_second, limits.global_burst)
        self.global_bucket.updated = self._now()
        self.paid_bucket = TokenBucket(limits.paid_per_second, limits.paid_burst)
        self.paid_bucket.updated = self._now()
        # The last `depart_burst` departure slots (monotonic), oldest first.
        self._departed: deque[float] = deque(maxlen=max(1, int(limits.depart_burst)))
        self._lane_pause: dict[Lane, float] = {}

    def with_limits(self, **changes: Any) -> None:
        self.configure(replace(self.limits, **changes))

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

    def check(self, chat_id: int | str | None, lane: Lane = Lane.LIVE) -> Grant:
        """Take the tokens for one send if it may go now; else say how long and why not."""
        now = self._now()
        paused = self._lane_pause.get(lane, 0.0) - now
        if paused > 0:
            return Grant(paused, "lane")
        if lane == Lane.CAMPAIGN and self._live_waiting:
            return Grant(1.0 / max(self.limits.global_per_second, 1.0), "live")
        if lane == Lane.PAID:
            shared, reserve = self.paid_bucket, 0.0
        else:
            shared = self.global_bucket
            reserve = self.limits.live_reserve if lane == Lane.CAMPAIGN else 0.0
        wait_shared = shared.wait_time(now, reserve)
        chat = self._chat_bucket(chat_id) if chat_id is not None else None
        wait_chat = chat.wait_time(now) if chat is not None else 0.0
        if wait_shared <= 0 and wait_chat <= 0:
            shared.take(now)
            if chat is not None:
                chat.take(now)
            self.taken[lane] += 1
            return Grant(0.0)
        if wait_chat > wait_shared:
            return Grant(wait_chat, "chat")
        return Grant(wait_shared, "global")

    def delay(self, chat_id: int | str | None, lane: Lane = Lane.LIVE) -> float:
        """Seconds to wait before this send; 0 means the send may go now (and is counted)."""
        return self.check(chat_id, lane).wait

    def depart(self, lane: Lane = Lane.LIVE) -> float:
        """The last step before a request leaves (after its token and its durable mark): the
        request reserves the next departure slot and this says how long until it. At most
        `depart_burst` slots fall in any `depart_burst / depart_per_second` seconds (live and
        campaign lanes together; slots in order); a burst of 1 is one slot every
        1 / `depart_per_second`. A slot is kept whether or not the caller is on time, so a late
        wake-up costs no capacity; the paid lane has its own limits and is not paced here."""
        rate = self.limits.depart_per_second
        if rate <= 0 or lane == Lane.PAID:
            return 0.0
        now = self._now()
        slot = depart_slot(self._departed, now, self._departed.maxlen or 1, rate)
        self._departed.append(slot)
        return slot - now

    async def adepart(self, lane: Lane = Lane.LIVE) -> float:
        return self.depart(lane)

    async def depart_wait(self, lane: Lane = Lane.LIVE) -> None:
        """Wait for this request's departure slot (`depart`). Woken more than DEPART_LATE after
        it (a busy event loop), the request takes a new slot rather than leave out of step."""
        loop = asyncio.get_running_loop()
        for attempt in range(DEPART_RETRIES + 1):
            wait = self.depart(lane)
            if wait <= 0:
                return
            self.departure_waits += attempt == 0
            due = loop.time() + wait
            await asyncio.sleep(wait)
            if loop.time() - due <= DEPART_LATE:
                return
            self.departure_retakes += 1

    async def acquire(self, chat_id: int | str | None, lane: Lane = Lane.LIVE) -> None:
        """Wait until this send may go (and take its tokens). Live sends jump the queue."""
        waiting = False
        try:
            while True:
                grant = self.check(chat_id, lane)
                if grant.wait <= 0:
                    return
                if lane == Lane.LIVE and grant.reason == "global" and not waiting:
                    waiting = True
                    self._live_waiting += 1
                await asyncio.sleep(grant.wait)
        finally:
            if waiting:
                self._live_waiting -= 1

    def retry_after(self, chat_id: int | str | None, seconds: float, lane: Lane = Lane.LIVE) -> None:
        """Telegram said 429. Live: pause the chat (or everything, if no chat). A background
        lane: pause the whole lane, so the broadcast backs off while live replies continue."""
        now = self._now()
        if lane == Lane.LIVE:
            bucket = self._chat_bucket(chat_id) if chat_id is not None else self.global_bucket
            bucket.pause(now, seconds)
            return
        self._lane_pause[lane] = max(self._lane_pause.get(lane, 0.0), now + seconds)

    # Awaitable twins, so callers work the same with this gate and the Redis-shared one
    # (core/ratelimit_redis.py), whose calls all await.
    async def acheck(self, chat_id: int | str | None, lane: Lane = Lane.LIVE) -> Grant:
        return self.check(chat_id, lane)

    async def aretry_after(self, chat_id: int | str | None, seconds: float, lane: Lane = Lane.LIVE) -> None:
        self.retry_after(chat_id, seconds, lane)
