from core.ratelimit import FloodGate, Limits


class Mono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_private_chat_burst_then_one_per_second() -> None:
    mono = Mono()
    gate = FloodGate(Limits(private_burst=3), monotonic=mono)
    assert [gate.delay(42) for _ in range(3)] == [0, 0, 0]
    wait = gate.delay(42)
    assert 0.9 < wait <= 1.0
    mono.t += wait
    assert gate.delay(42) == 0


def test_group_twenty_per_minute() -> None:
    mono = Mono()
    gate = FloodGate(Limits(group_per_minute=20, group_burst=3), monotonic=mono)
    sent = 0
    for _ in range(600):  # one minute in 0.1 s steps
        if gate.delay(-100123) == 0:
            sent += 1
        mono.t += 0.1
    assert 20 <= sent <= 23  # the burst plus 20 per minute


def test_global_thirty_per_second_across_chats() -> None:
    mono = Mono()
    gate = FloodGate(Limits(global_per_second=30, global_burst=30), monotonic=mono)
    sent = sum(1 for chat in range(100) if gate.delay(chat) == 0)
    assert sent == 30
    mono.t += 1.0
    assert sum(1 for chat in range(100, 200) if gate.delay(chat) == 0) == 30


def test_retry_after_pauses_the_chat_only() -> None:
    mono = Mono()
    gate = FloodGate(monotonic=mono)
    gate.retry_after(7, 5)
    assert gate.delay(7) >= 4.9
    assert gate.delay(8) == 0
    mono.t += 5.01
    assert gate.delay(7) == 0
