"""Unit tests: flood limits with an injected clock, fault injection."""

from __future__ import annotations

from sandbox.limits import FaultConfig, FaultInjector, FloodConfig, FloodLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


def test_private_chat_burst_then_retry_after():
    clock = FakeClock()
    fl = FloodLimiter(FloodConfig(), clock=clock)
    assert [fl.check(1, True) for _ in range(3)] == [None, None, None]
    assert fl.check(1, True) == 1  # retry after 1 second
    assert fl.check(2, True) is None  # other chats are independent
    clock.advance(1.0)
    assert fl.check(1, True) is None
    assert fl.check(1, True) == 1
    clock.advance(0.5)
    assert fl.check(1, True) == 1  # ceil(0.5) -> 1, never 0


def test_group_20_per_minute():
    clock = FakeClock()
    fl = FloodLimiter(FloodConfig(), clock=clock)
    for i in range(20):
        assert fl.check(-100, False) is None, i
        clock.advance(0.05)  # stay under the global 30/s
    ra = fl.check(-100, False)
    assert ra is not None and 1 <= ra <= 3
    clock.advance(3.0)
    assert fl.check(-100, False) is None
    assert fl.check(-100, False) is not None


def test_global_30_per_second():
    clock = FakeClock()
    fl = FloodLimiter(FloodConfig(), clock=clock)
    for chat in range(1, 31):
        assert fl.check(chat, True) is None
    assert fl.check(31, True) == 1
    clock.advance(1 / 30)
    assert fl.check(31, True) is None


def test_off_switch_and_reconfigure():
    clock = FakeClock()
    fl = FloodLimiter(FloodConfig(enabled=False), clock=clock)
    assert all(fl.check(1, True) is None for _ in range(100))
    fl.configure(enabled=True, private_burst=1)
    assert fl.check(1, True) is None
    assert fl.check(1, True) == 1
    assert fl.hits == 1


def test_fault_injection_is_seeded():
    a = FaultInjector(FaultConfig(rate_429=0.2, rate_500=0.1, seed=7))
    b = FaultInjector(FaultConfig(rate_429=0.2, rate_500=0.1, seed=7))
    ra = [a.roll() for _ in range(500)]
    rb = [b.roll() for _ in range(500)]
    assert ra == rb
    assert 50 < ra.count("429") < 150 and 20 < ra.count("500") < 90
    assert FaultInjector().roll() is None
