"""The one place that talks to Telegram: every request passes this middleware.

It waits for the flood gate before each message-producing call (so Telegram does not answer
429), honours `retry_after` when it does -- for every method, edits and button answers
included, not only sends -- and retries server and network errors with exponential backoff.
403 (blocked / deactivated) is never retried: the caller records it.

A durable queue marks its row "on the wire" through `on_wire`: the middleware calls it after
the flood gate let the request go and right before the request leaves, so a row that is only
waiting for its rate-limit token is never taken for one that may have reached Telegram.

Requests go in the `live` lane unless the caller says otherwise with `sending(...)`: the outbox
sends in the `campaign` lane (or `paid`, for `allow_paid_broadcast`), takes its tokens itself
(`prepaid`) and handles 429/5xx in its own durable way (`retry=False`), so a message is never
retried while it is marked in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from core import telemetry
from core.ratelimit import FloodGate, Lane
from core.ratelimit_redis import RedisFloodGate

log = logging.getLogger(__name__)

COUNTED_PREFIXES = ("Send", "CopyMessage", "ForwardMessage")
NOT_COUNTED = {"SendChatAction"}


@dataclass(frozen=True, slots=True)
class SendOptions:
    lane: Lane = Lane.LIVE
    prepaid: bool = False  # the caller already took this send's tokens from the gate
    retry: bool = True  # False: 429 / 5xx / network errors are raised to the caller at once
    on_wire: Callable[[], Awaitable[None]] | None = None  # called right before each attempt leaves


_options: contextvars.ContextVar[SendOptions | None] = contextvars.ContextVar("send_options", default=None)


@contextlib.contextmanager
def sending(
    *,
    lane: Lane = Lane.LIVE,
    prepaid: bool = False,
    retry: bool = True,
    on_wire: Callable[[], Awaitable[None]] | None = None,
) -> Iterator[None]:
    """Send the requests made inside this block in `lane` (see the module docstring)."""
    token = _options.set(SendOptions(lane, prepaid, retry, on_wire))
    try:
        yield
    finally:
        _options.reset(token)


def counts_against_flood(method: TelegramMethod[Any]) -> bool:
    name = type(method).__name__
    return name not in NOT_COUNTED and name.startswith(COUNTED_PREFIXES)


class DepartureMiddleware(BaseRequestMiddleware):
    """The innermost step: a message-producing request leaves only when the gate's departure
    bucket allows (`FloodGate.depart`: live + campaign requests of the bot paced at
    `depart_per_second`, a bucket of one). It runs after the durable marks (the send journal, a
    queue's "on the wire"), whose commits take a variable time: tokens taken 35 ms apart would
    otherwise leave together after one commit. A request waiting here has its mark; the wait is
    short (the token buckets pace a little under this one), and a kill during it leaves the row
    uncertain, as a kill during the request would."""

    def __init__(self, gate: FloodGate | RedisFloodGate | None) -> None:
        self.gate = gate

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if self.gate is not None and counts_against_flood(method):
            options = _options.get() or SendOptions()
            lane = Lane.PAID if getattr(method, "allow_paid_broadcast", None) else options.lane
            await self.gate.depart_wait(lane)
        return await make_request(bot, method)


# A button press must be answered within about 15 s of the press: waiting longer than this for a
# 429 makes no sense, Telegram would refuse the answer as "query is too old".
CALLBACK_ANSWER_MAX_WAIT = 10.0


class FloodControlMiddleware(BaseRequestMiddleware):
    def __init__(
        self,
        gate: FloodGate | RedisFloodGate | None,  # in memory, or shared through Redis
        *,
        max_retries: int = 5,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
    ) -> None:
        self.gate = gate
        self.max_retries = max_retries
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after  # a live request waits at most this long for one 429
        self.stats = {"sent": 0, "retry_after": 0, "server_errors": 0, "network_errors": 0}
        self.lanes: Counter[str] = Counter()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        options = _options.get() or SendOptions()
        counted = self.gate is not None and counts_against_flood(method)
        lane = Lane.PAID if getattr(method, "allow_paid_broadcast", None) else options.lane
        chat_id = getattr(method, "chat_id", None)
        prepaid = options.prepaid
        attempt = 0
        waited = 0.0  # seconds spent honouring 429s for this request
        while True:
            if counted and not prepaid:
                assert self.gate is not None
                await self.gate.acquire(chat_id, lane)
            prepaid = False
            if options.on_wire is not None:
                await options.on_wire()
            try:
                response = await make_request(bot, method)
                if counted:
                    self.stats["sent"] += 1
                    self.lanes[lane] += 1
                    telemetry.telegram_send(lane, "ok")
                return response
            except TelegramRetryAfter as exc:
                self.stats["retry_after"] += 1
                if counted:
                    telemetry.telegram_send(lane, "429")
                name = type(method).__name__
                if self.gate is not None:  # awaited: the Redis gate pauses every process
                    await self.gate.aretry_after(chat_id, exc.retry_after, lane)
                # A 429 says "wait", not "fail": retried for as long as the waits add up to
                # less than the limit (a press is useless after ~15 s, so its answer gives up
                # sooner), however many 429s that takes.
                limit = CALLBACK_ANSWER_MAX_WAIT if name == "AnswerCallbackQuery" else self.max_retry_after
                waited += exc.retry_after
                if not options.retry or waited > limit:
                    raise
                log.warning("429 on %s to %s: retry after %ss", name, chat_id, exc.retry_after)
                telemetry.telegram_retry("429")
                if self.gate is None or not counted:
                    # Not paced by the gate (edits, answers, topic calls...): wait here. Every
                    # call honours retry_after, not only sends.
                    await asyncio.sleep(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError) as exc:
                key = "server_errors" if isinstance(exc, TelegramServerError) else "network_errors"
                self.stats[key] += 1
                if counted:
                    telemetry.telegram_send(lane, "5xx" if key == "server_errors" else "network")
                attempt += 1
                if not options.retry or attempt > self.max_retries or type(method).__name__ == "GetUpdates":
                    raise
                delay = min(self.max_backoff, 0.5 * 2 ** (attempt - 1))
                log.warning("%s on %s, retry %d in %.1fs", exc, type(method).__name__, attempt, delay)
                telemetry.telegram_retry("5xx" if key == "server_errors" else "network")
                await asyncio.sleep(delay)
            except TelegramAPIError as exc:  # 403 and other refusals: never retried here
                if counted:
                    telemetry.telegram_send(lane, "403" if isinstance(exc, TelegramForbiddenError) else "4xx")
                raise
