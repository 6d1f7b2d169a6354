from datetime import UTC, datetime, time

from core.business_hours import BusinessHours
from core.support import route_group

HOURS = BusinessHours(days=frozenset({1, 2, 3, 4, 5}), start=time(9), end=time(18), timezone="Europe/Moscow")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_open_inside_hours_in_the_business_time_zone() -> None:
    assert HOURS.is_open(at(2026, 11, 25, 6, 0))  # Wed 09:00 Moscow
    assert not HOURS.is_open(at(2026, 11, 25, 5, 59))  # 08:59 Moscow
    assert not HOURS.is_open(at(2026, 11, 25, 15, 0))  # 18:00 Moscow: end is exclusive


def test_next_open_skips_the_weekend() -> None:
    opens = HOURS.next_open(at(2026, 11, 27, 16, 0))  # Fri 19:00 Moscow
    assert (opens.isoweekday(), opens.hour, opens.minute) == (1, 9, 0)
    assert opens.tzinfo is not None and opens.utcoffset().total_seconds() == 3 * 3600  # type: ignore[union-attr]


def test_next_open_same_day_before_opening() -> None:
    opens = HOURS.next_open(at(2026, 11, 25, 3, 0))  # Wed 06:00 Moscow
    assert (opens.day, opens.hour) == (25, 9)


def test_overnight_shift() -> None:
    night = BusinessHours(days=frozenset(range(1, 8)), start=time(22), end=time(6))
    assert night.is_open(at(2026, 1, 1, 23, 0)) and night.is_open(at(2026, 1, 1, 5, 0))
    assert not night.is_open(at(2026, 1, 1, 12, 0))


def test_routing_by_category_then_language_then_default() -> None:
    routes = {"ru": -2, "category:payment": -3}
    assert route_group(default=-1, routes=routes, language="ru") == -2
    assert route_group(default=-1, routes=routes, language="en") == -1
    assert route_group(default=-1, routes=routes, language="ru", category="payment") == -3
    assert route_group(default=None, routes={}, language="en") is None
