"""Telegram flood limits shared by every process of one bot, kept in Redis.

The same rules as `core.ratelimit.FloodGate` (read its docstring): a global bucket (~30/s x
MARGIN), a bucket per chat (private ~1/s burst 2, groups 20/min), lanes `live` / `campaign` /
`paid` with the live reserve, and a 429 that pauses a background lane (or, for `live`, the chat)
-- but the buckets live in Redis, so N processes together stay under Telegram's limits.

Every decision is one Lua script (atomic in Redis) that refills, checks and takes the tokens;
time is Redis's own clock (`TIME`), so the processes' clocks never need to agree. Keys are
`supportbot:flood:{<bot id>}:...` (one hash slot per bot); per-chat buckets expire once they
would be full again.

Where requests leave (after their durable marks, whose commits take a variable time) the live
and campaign lanes are paced once more: each request reserves the bot's next departure slot
(`adepart`, also one Lua script; at most `depart_burst` in any `depart_burst / depart_per_second`
seconds), so tokens taken apart never leave in a clump over the limit; a process that
reads that answer or wakes up late
(a stalled event loop) takes a new departure slot rather than leave out of step.

"Live goes first" across processes: a live send that waits for the global bucket sets a
short-lived `livewait` key (refreshed while it waits), and campaign sends yield while it exists.
A process that dies while waiting leaves nothing behind: the key expires.

When Redis cannot be reached the gate does NOT fall back to per-process limits (N processes
would then send N x 30/s): `check` answers "wait" (reason `redis`), `acquire` keeps retrying,
the outage is logged once (and its end), and `available` is False for the readiness probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.ratelimit import DEPART_LATE, DEPART_RETRIES, Grant, Lane, Limits

log = logging.getLogger(__name__)

REDIS_RETRY_SECONDS = 1.0  # how long `check` asks to wait while Redis is unreachable
LIVE_WAIT_TTL_MS = 250  # a waiting live send renews its "live first" flag this often

# KEYS: 1 shared bucket (global or paid), 2 chat bucket ("" = none), 3 lane pause, 4 livewait
# ARGV: lane, shared rate, shared burst, reserve, chat rate, chat burst, global rate
# Returns {wait as string, reason, Redis time}; wait "0" means the tokens were taken.
CHECK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lane = ARGV[1]
local rate, burst, reserve = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local crate, cburst, grate = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return {tostring(paused - now), 'lane', tostring(now)} end
if lane == 'campaign' and redis.call('EXISTS', KEYS[4]) == 1 then
  return {tostring(1 / math.max(grate, 1)), 'live', tostring(now)}
end

local function load(key, r, cap)
  local v = redis.call('HMGET', key, 'tokens', 'ts', 'paused')
  local tokens, ts, p = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]) or 0
  if tokens == nil then tokens, ts = cap, now end
  if now > ts then tokens = math.min(cap, tokens + (now - ts) * r); ts = now end
  return tokens, p
end
local function wait_for(tokens, p, r, need)
  local w = 0
  if tokens < need then w = (need - tokens) / r end
  return math.max(w, p - now)
end

local stokens, spaused = load(KEYS[1], rate, burst)
local wshared = wait_for(stokens, spaused, rate, 1 + reserve)
local ctokens, cpaused, wchat = 0, 0, 0
local has_chat = KEYS[2] ~= ''
if has_chat then
  ctokens, cpaused = load(KEYS[2], crate, cburst)
  wchat = wait_for(ctokens, cpaused, crate, 1)
end
if wshared <= 0 and wchat <= 0 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(stokens - 1), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate + 60) * 1000))
  if has_chat then
    redis.call('HSET', KEYS[2], 'tokens', tostring(ctokens - 1), 'ts', tostring(now))
    local full = (cburst - ctokens + 1) / crate
    redis.call('PEXPIRE', KEYS[2], math.ceil((math.max(full, cpaused - now) + 1) * 1000))
  end
  return {'0', '', tostring(now)}
end
if wchat > wshared then return {tostring(wchat), 'chat', tostring(now)} end
return {tostring(wshared), 'global', tostring(now)}
"""

# KEYS: 1 the last departure slots (a list, oldest first); ARGV: burst, rate
# Reserves the next slot (`core.ratelimit.depart_slot`); returns {seconds until it, Redis time}.
DEPART_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local slot = now
local n = redis.call('LLEN', KEYS[1])
if n > 0 then slot = math.max(slot, tonumber(redis.call('LINDEX', KEYS[1], -1))) end
if n >= burst then slot = math.max(slot, tonumber(redis.call('LINDEX', KEYS[1], -burst)) + burst / rate) end
redis.call('RPUSH', KEYS[1], string.format('%.6f', slot))
redis.call('LTRIM', KEYS[1], -burst, -1)
redis.call('PEXPIRE', KEYS[1], math.ceil((slot - now + burst / rate + 60) * 1000))
return {string.format('%.6f', slot - now), string.format('%.6f', now)}
"""

# KEYS: 1 bucket to pause (chat, or global) or lane key; ARGV: mode ('bucket'|'lane'), seconds
PAUSE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untl = now + tonumber(ARGV[2])
local ttl = math.ceil((tonumber(ARGV[2]) + 120) * 1000)
if ARGV[1] == 'lane' then
  local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
  if untl > cur then redis.call('SET', KEYS[1], tostring(untl), 'PX', ttl) end
  return 1
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'paused') or '0')
if untl > cur then
  redis.call('HSET', KEYS[1], 'paused', tostring(untl), 'tokens', '0', 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
"""


class RedisFloodGate:
    """`FloodGate`'s interface, awaited, with the buckets shared through Redis."""

    shared = True  # the middleware and the metrics can tell the gates apart

    def __init__(
        self,
        redis: Redis,
        *,
        bot_id: int | str,
        limits: Limits = Limits(),
        prefix: str = "supportbot:flood",
    ) -> None:
        self.redis = redis
        # The bot id as a hash tag: every key one script touches is in the same cluster slot.
        self.prefix = f"{prefix}:{{{bot_id}}}"
        self.taken: Counter[str] = Counter()
        self.available = True  # False while Redis cannot be reached (readiness)
        # 429 pauses that could not be written to Redis: honoured here until they end.
        self._local_pauses: dict[str, float] = {}
        self.granted_at: list[float] | None = None  # a list: Redis's time of each grant is appended
        self._check = redis.register_script(CHECK_LUA)
        self._pause = redis.register_script(PAUSE_LUA)
        self._depart = redis.register_script(DEPART_LUA)
        self._offsets: deque[float] = deque(maxlen=64)  # local monotonic - Redis time, per answer
        self.departure_waits = 0  # departures that had to wait for their slot
        self.departure_retakes = 0  # departures woken late that took a new slot
        self.departed_at: list[float] | None = None  # a list: Redis's time of each departure
        self.configure(limits)

    @classmethod
    def from_url(cls, url: str, *, bot_id: int | str, limits: Limits = Limits()) -> RedisFloodGate:
        client = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return cls(client, bot_id=bot_id, limits=limits)

    def configure(self, limits: Limits) -> None:
        """Apply new limits. They travel with every call, so all processes should agree."""
        self.limits = limits

    def with_limits(self, **changes: Any) -> None:
        self.configure(replace(self.limits, **changes))

    def _key(self, *parts: Any) -> str:
        return ":".join((self.prefix, *(str(p) for p in parts)))

    def _down(self, exc: Exception) -> None:
        if self.available:
            log.error("Redis unreachable (%s): sends wait until it is back (no per-process fallback)", exc)
        self.available = False

    def _up(self) -> None:
        if not self.available:
            log.warning("Redis reachable again: sends resume")
        self.available = True

    async def check(self, chat_id: int | str | None, lane: Lane = Lane.LIVE) -> Grant:
        """Take the tokens for one send if it may go now; else say how long and why not."""
        lim = self.limits
        if lane == Lane.PAID:
            shared, rate, burst, reserve = self._key("paid"), lim.paid_per_second, lim.paid_burst, 0.0
        else:
            shared, rate, burst = self._key("global"), lim.global_per_second, lim.global_burst
            reserve = lim.live_reserve if lane == Lane.CAMPAIGN else 0.0
        chat_key, crate, cburst = "", 1.0, 1.0
        if chat_id is not None:
            chat_key = self._key("chat", chat_id)
            if isinstance(chat_id, str) or chat_id < 0:
                crate, cburst = lim.group_per_minute / 60.0, lim.group_burst
            else:
                crate, cburst = lim.private_per_second, lim.private_burst
        # A live 429 pauses its chat bucket; the lane key of `live` is never set.
        keys = [shared, chat_key, self._key("pause", lane.value), self._key("livewait")]
        if self._local_pauses:
            held = self._local_pause(keys[:3])
            if held is not None:
                return held
        args = [lane.value, rate, burst, reserve, crate, cburst, lim.global_per_second]
        try:
            wait, reason, at = await self._check(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._down(exc)
            return Grant(REDIS_RETRY_SECONDS, "redis")
        self._up()
        wait = float(wait)
        if wait <= 0:
            self.taken[lane] += 1
            if self.granted_at is not None:
                self.granted_at.append(float(at))
            return Grant(0.0)
        return Grant(wait, reason.decode() if isinstance(reason, bytes) else str(reason))

    acheck = check  # the name the in-memory gate's awaitable twin has

    async def delay(self, chat_id: int | str | None, lane: Lane = Lane.LIVE) -> float:
        """Seconds to wait before this send; 0 means the send may go now (and is counted)."""
        return (await self.check(chat_id, lane)).wait

    async def acquire(self, chat_id: int | str | None, lane: Lane = Lane.LIVE) -> None:
        """Wait until this send may go (and take its tokens). Live sends jump the queue."""
        while True:
            grant = await self.check(chat_id, lane)
            if grant.wait <= 0:
                return
            if lane == Lane.LIVE and grant.reason == "global":
                await self._flag_live_waiting(grant.wait)
            await asyncio.sleep(min(grant.wait, 5.0) if grant.reason != "redis" else grant.wait)

    async def adepart(self, lane: Lane = Lane.LIVE) -> float | None:
        """`FloodGate.depart` across processes: reserves the bot's next departure slot in Redis
        and says how long until it, in this process's time (from the quickest answer seen, so
        an answer read late counts against the wait). Redis unreachable: None."""
        rate = self.limits.depart_per_second
        if rate <= 0 or lane == Lane.PAID:
            return 0.0
        try:
            burst = max(1, int(self.limits.depart_burst))
            wait, at = await self._depart(keys=[self._key("departed")], args=[burst, rate])
        except (RedisError, OSError) as exc:
            self._down(exc)
            return None
        self._up()
        # Redis's clock against ours: the smallest (our time - Redis time) of recent answers is
        # the offset plus the quickest round trip; an answer read later than that (a stalled
        # event loop) is that much nearer its slot.
        offset = time.monotonic() - float(at)
        self._offsets.append(offset)
        slot = float(at) + float(wait)
        if self.departed_at is not None:
            self.departed_at.append(slot)
        return slot + min(self._offsets) - time.monotonic()

    async def depart_wait(self, lane: Lane = Lane.LIVE) -> None:
        """Wait for this request's departure slot. Woken (or answered) more than DEPART_LATE
        after it, the request takes a new slot rather than leave together with the next ones."""
        for attempt in range(DEPART_RETRIES + 1):
            wait = await self.adepart(lane)
            while wait is None:  # Redis down: no departure without it (no per-process fallback)
                await asyncio.sleep(REDIS_RETRY_SECONDS)
                wait = await self.adepart(lane)
            if wait < -DEPART_LATE:
                self.departure_retakes += 1
                continue
            if wait <= 0:
                return
            self.departure_waits += attempt == 0
            due = time.monotonic() + wait
            await asyncio.sleep(wait)
            if time.monotonic() - due <= DEPART_LATE:
                return
            self.departure_retakes += 1

    async def _flag_live_waiting(self, wait: float) -> None:
        ttl = max(LIVE_WAIT_TTL_MS, int(wait * 1000) + 50)
        try:
            await self.redis.set(self._key("livewait"), b"1", px=ttl)
        except (RedisError, OSError) as exc:
            self._down(exc)

    async def retry_after(self, chat_id: int | str | None, seconds: float, lane: Lane = Lane.LIVE) -> None:
        """Telegram said 429: pause the lane (live: the chat, or everything) for every process."""
        if lane == Lane.LIVE:
            key, mode = (self._key("chat", chat_id) if chat_id is not None else self._key("global")), "bucket"
        else:
            key, mode = self._key("pause", lane.value), "lane"
        try:
            await self._pause(keys=[key], args=[mode, float(seconds)])
        except (RedisError, OSError) as exc:
            self._down(exc)  # remembered here, so this process at least does not retry early
            self._local_pauses[key] = max(self._local_pauses.get(key, 0.0), time.monotonic() + seconds)
            return
        self._up()

    aretry_after = retry_after

    def _local_pause(self, keys: list[str]) -> Grant | None:
        now = time.monotonic()
        self._local_pauses = {k: t for k, t in self._local_pauses.items() if t > now}
        for key, reason in zip(keys, ("global", "chat", "lane"), strict=True):
            until = self._local_pauses.get(key)
            if until is not None:
                return Grant(until - now, reason)
        return None

    async def ping(self) -> bool:
        """True when Redis answers (the readiness probe)."""
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            self._down(exc)
            return False
        self._up()
        return True

    async def close(self) -> None:
        await self.redis.aclose()
