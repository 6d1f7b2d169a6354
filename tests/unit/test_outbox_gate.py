"""One sender, three lanes: live replies first, campaigns within the rest, paid broadcasts apart."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage

from bot.delivery_worker import classify
from bot.sender import FloodControlMiddleware, sending
from core.ratelimit import FloodGate, Lane, Limits


class Mono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def drain(gate: FloodGate, lane: Lane, chats: range) -> int:
    return sum(1 for chat in chats if gate.delay(chat, lane) == 0)


def test_campaigns_leave_a_reserve_for_live_replies() -> None:
    gate = FloodGate(Limits(global_per_second=30, global_burst=30, live_reserve=5), monotonic=Mono())
    assert drain(gate, Lane.CAMPAIGN, range(100)) == 25
    assert gate.check(500, Lane.CAMPAIGN).reason == "global"
    assert drain(gate, Lane.LIVE, range(200, 300)) == 5  # live replies still go at once


def test_campaign_rate_is_the_full_rate_in_the_long_run() -> None:
    mono = Mono()
    gate = FloodGate(Limits(global_per_second=30, global_burst=30, live_reserve=5), monotonic=mono)
    sent = 0
    for i in range(6000):  # 60 s in 10 ms steps
        if gate.delay(10_000 + i, Lane.CAMPAIGN) == 0:
            sent += 1
        mono.t += 0.01
    assert 25 + 30 * 60 - 2 <= sent <= 25 + 30 * 60 + 1


async def test_a_waiting_live_reply_goes_before_campaign_messages() -> None:
    mono = Mono()
    gate = FloodGate(Limits(global_per_second=30, global_burst=1, live_reserve=0), monotonic=mono)
    assert gate.delay(1, Lane.LIVE) == 0  # the bucket is empty now
    live = asyncio.create_task(gate.acquire(2, Lane.LIVE))
    await asyncio.sleep(0)
    assert gate.check(3, Lane.CAMPAIGN).reason == "live"
    mono.t += 1.0
    await asyncio.wait_for(live, 1)
    assert gate.taken[Lane.LIVE] == 2 and gate.taken[Lane.CAMPAIGN] == 0


def test_paid_lane_has_its_own_bucket() -> None:
    mono = Mono()
    gate = FloodGate(
        Limits(global_per_second=30, global_burst=30, paid_per_second=1000, paid_burst=50), monotonic=mono
    )
    assert drain(gate, Lane.PAID, range(1000)) == 50
    sent = 0
    for i in range(1000):  # one second in 1 ms steps
        mono.t += 0.001
        sent += drain(gate, Lane.PAID, range(2000 + 2 * i, 2002 + 2 * i))
    assert 995 <= sent <= 1001
    assert drain(gate, Lane.LIVE, range(5000, 5100)) == 30  # the free bucket is untouched


def test_chat_limit_is_shared_by_every_lane() -> None:
    gate = FloodGate(Limits(private_burst=2), monotonic=Mono())
    assert gate.delay(42, Lane.LIVE) == 0 and gate.delay(42, Lane.LIVE) == 0
    grant = gate.check(42, Lane.CAMPAIGN)
    assert grant.reason == "chat" and 0.9 < grant.wait <= 1.0


def test_429_in_a_background_lane_pauses_that_lane_only() -> None:
    mono = Mono()
    gate = FloodGate(monotonic=mono)
    gate.retry_after(7, 3, Lane.CAMPAIGN)
    assert gate.check(8, Lane.CAMPAIGN).reason == "lane"
    assert gate.delay(9, Lane.LIVE) == 0
    mono.t += 3.01
    assert gate.delay(8, Lane.CAMPAIGN) == 0


def test_limits_from_settings() -> None:
    from core.settings import Settings

    limits = Limits.from_settings(
        Settings(
            _env_file=None,
            outreach_rate_per_second=20,
            outreach_paid_rate_per_second=500,
            support_group_per_minute=12,
        )
    )
    # 97% of each configured rate (93% for the global bucket)
    assert limits.global_per_second == pytest.approx(18.6) and limits.paid_per_second == pytest.approx(485)
    # A campaign sees a bucket of about 1 filling at 18.6/s: 20 through in a second, never 21
    # (live replies may take the reserve it leaves: the departure window keeps the limit).
    assert int(limits.global_burst - limits.live_reserve + limits.global_per_second) <= 20
    assert limits.global_burst - limits.live_reserve >= 1
    assert int(limits.paid_burst + limits.paid_per_second) <= 500
    # a group's bucket holds the limit even over 61 seconds (a post that left a second late)
    assert int(limits.group_burst + limits.group_per_minute * 61 / 60) <= 12
    assert limits.group_per_minute == pytest.approx(12 * 0.97) and limits.private_burst == 2
    # where requests leave: at most 3 in any 3/18.6 s, so at most 18 in any 18/18.6 s and 21
    # in 21/18.6 s (> 1.12 s): a request that arrives up to ~60 ms late does not make a second
    # at Telegram hold 21
    assert limits.depart_per_second == pytest.approx(18.6) and limits.depart_burst == 3
    default = Limits.from_settings(Settings(_env_file=None))
    # the default 30/s: 30 in any 30/27.9 s, ~75 ms of room for a request that arrives late
    assert default.depart_burst == 5 and 6 * default.depart_burst / default.depart_per_second > 1.07


def test_departures_are_paced_whatever_the_tokens_did() -> None:
    """Tokens taken apart may reach the departure step together (their marks share a commit):
    each reserves the next slot, one every 1/rate seconds; the paid lane is not paced here."""
    mono = Mono()
    gate = FloodGate(Limits(depart_per_second=20.0), monotonic=mono)
    waits = [gate.depart(Lane.CAMPAIGN if i % 2 else Lane.LIVE) for i in range(5)]
    assert waits == pytest.approx([0, 0.05, 0.10, 0.15, 0.20])
    assert gate.depart(Lane.PAID) == 0
    mono.t += 1.0  # idle: no slots saved up, the next one goes at once and the rest paced
    assert gate.depart(Lane.LIVE) == 0 and gate.depart(Lane.LIVE) == pytest.approx(0.05)
    assert FloodGate(Limits(), monotonic=mono).depart(Lane.LIVE) == 0  # off unless configured


def test_a_burst_leaves_at_once_and_no_window_holds_more_than_the_limit() -> None:
    """The product's departure window: 5 replies written at once leave at once (not one every
    35 ms); the 6th waits until the window has moved on, and however requests arrive, no
    window of 30/28.8 s (so no second counted at Telegram, with ~40 ms to spare) holds more
    than 30 departures."""
    from core.settings import Settings

    mono = Mono()
    limits = Limits.from_settings(Settings(_env_file=None))
    gate = FloodGate(limits, monotonic=mono)
    window = limits.depart_burst / limits.depart_per_second
    waits = [gate.depart(Lane.LIVE) for _ in range(5)]
    assert waits == [0] * 5
    assert gate.depart(Lane.LIVE) == pytest.approx(window)
    second = 6 * window  # 30 departures' window, a little over a second
    # a seeded random stream, some clumps, some quiet: check every window
    rng = random.Random(3)
    slots: list[float] = []
    for _ in range(2000):
        mono.t += rng.choice([0.0, 0.0, 0.001, 0.02, 0.05, 0.3])
        slots.append(mono.t + gate.depart(rng.choice([Lane.LIVE, Lane.CAMPAIGN])))
    assert slots == sorted(slots)
    j = 0
    for i, s in enumerate(slots):
        while slots[j] <= s - second + 1e-9:  # (float sums: slots exactly a window apart)
            j += 1
        assert i - j + 1 <= 30, (i, j)
    # more than the limit offered at once: it leaves at the window's full rate, no slower
    mono.t += 10.0
    burst = [gate.depart(Lane.CAMPAIGN) for _ in range(600)]
    assert burst[-1] == pytest.approx((600 // 5 - 1) * window, abs=1e-6)


async def test_the_departure_step_waits_right_before_the_request() -> None:
    from bot.sender import DepartureMiddleware

    gate = FloodGate(Limits(depart_per_second=10.0))
    mw = DepartureMiddleware(gate)
    net = FakeNetwork()
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(3):
        assert await mw(net, None, message()) == "ok"  # type: ignore[arg-type]
    assert loop.time() - started >= 0.19  # 1 at once, then one per 0.1 s
    assert net.calls == 3 and gate.departure_waits == 2
    with sending(lane=Lane.CAMPAIGN):
        assert await mw(net, None, message(allow_paid_broadcast=True)) == "ok"  # type: ignore[arg-type]
    assert gate.departure_waits == 2  # paid: not paced here


# ------------------------------------------------------------------ the sender middleware


class FakeNetwork:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, bot: Any, method: Any) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def message(**kw: Any) -> SendMessage:
    return SendMessage(chat_id=1, text="hi", **kw)


async def test_outbox_sends_are_prepaid_and_not_retried() -> None:
    gate = FloodGate(Limits(global_burst=1), monotonic=Mono())
    sender = FloodControlMiddleware(gate)
    net = FakeNetwork(TelegramRetryAfter(method=message(), message="Too Many Requests", retry_after=4))
    with sending(lane=Lane.CAMPAIGN, prepaid=True, retry=False), pytest.raises(TelegramRetryAfter):
        await sender(net, None, message())  # type: ignore[arg-type]
    assert net.calls == 1
    assert gate.taken[Lane.CAMPAIGN] == 0  # prepaid: the middleware took no token
    assert gate.check(2, Lane.CAMPAIGN).reason == "lane"  # the 429 paused the campaign lane


async def test_live_sends_retry_server_errors() -> None:
    sender = FloodControlMiddleware(FloodGate(monotonic=Mono()), max_backoff=0.0)
    net = FakeNetwork(TelegramServerError(method=message(), message="Bad Gateway"))
    assert await sender(net, None, message()) == "ok"  # type: ignore[arg-type]
    assert net.calls == 2 and sender.stats["server_errors"] == 1


async def test_paid_broadcast_goes_in_the_paid_lane() -> None:
    gate = FloodGate(monotonic=Mono())
    sender = FloodControlMiddleware(gate)
    with sending(lane=Lane.CAMPAIGN, retry=False):
        await sender(FakeNetwork(), None, message(allow_paid_broadcast=True))  # type: ignore[arg-type]
    assert gate.taken[Lane.PAID] == 1 and sender.lanes[Lane.PAID] == 1


@pytest.mark.parametrize(
    ("exc", "outcome", "code"),
    [
        (
            TelegramForbiddenError(method=message(), message="Forbidden: bot was blocked by the user"),
            "failed",
            "blocked",
        ),
        (
            TelegramForbiddenError(method=message(), message="Forbidden: user is deactivated"),
            "failed",
            "deactivated",
        ),
        (
            TelegramForbiddenError(
                method=message(), message="Forbidden: bot can't initiate conversation with a user"
            ),
            "failed",
            "not_started",
        ),
        (
            TelegramBadRequest(method=message(), message="Bad Request: chat not found"),
            "failed",
            "chat_not_found",
        ),
        (
            TelegramBadRequest(method=message(), message="Bad Request: message is too long"),
            "failed",
            "too_long",
        ),
        (
            TelegramRetryAfter(method=message(), message="Too Many Requests", retry_after=3),
            "retry",
            "rate_limited",
        ),
        (TelegramServerError(method=message(), message="Internal Server Error"), "retry", "server_error"),
        (TelegramNetworkError(method=message(), message="timeout"), "retry", "network_error"),
    ],
)
def test_classify_telegram_answers(exc: Exception, outcome: str, code: str) -> None:
    result = classify(exc)
    assert (result.outcome, result.error_code) == (outcome, code)
