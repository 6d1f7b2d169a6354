"""Pure outreach rules: quiet hours and send windows in local time, holdout, backoff."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from core.clock import zone
from core.outreach.rules import (
    OutreachRules,
    Window,
    ever_allowed,
    holdout_bucket,
    in_holdout,
    next_allowed,
    retry_delay,
)
from core.settings import Settings

QUIET = Window(time(21), time(9))
UTC_ZONE = ZoneInfo("UTC")


def at(h: int, m: int = 0, day: int = 15, month: int = 1) -> datetime:
    return datetime(2026, month, day, h, m, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("21:00-09:00", time(21), time(9)),
        (" 9:30 - 18:00 ", time(9, 30), time(18)),
        ("00:00-23:59", time(0), time(23, 59)),
    ],
)
def test_window_parse(text: str, start: time, end: time) -> None:
    w = Window.parse(text)
    assert (w.start, w.end) == (start, end)
    assert str(Window.parse(str(w))) == str(w)


@pytest.mark.parametrize("bad", ["", "21-09", "25:00-09:00", "10:60-11:00", "10:00-10:00", "abc"])
def test_window_parse_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        Window.parse(bad)


def test_overnight_window_contains() -> None:
    assert QUIET.contains(time(21)) and QUIET.contains(time(3)) and QUIET.contains(time(8, 59))
    assert not QUIET.contains(time(9)) and not QUIET.contains(time(20, 59))
    day = Window(time(10), time(20))
    assert day.contains(time(10)) and not day.contains(time(20)) and not day.contains(time(9, 59))


def test_daytime_is_allowed_now() -> None:
    assert next_allowed(at(12), tz=UTC_ZONE, quiet=QUIET, window=None) is None


def test_quiet_hours_defer_to_the_morning_not_drop() -> None:
    assert next_allowed(at(22), tz=UTC_ZONE, quiet=QUIET, window=None) == at(9, day=16)
    assert next_allowed(at(3), tz=UTC_ZONE, quiet=QUIET, window=None) == at(9)


def test_quiet_hours_are_in_the_customers_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9: 12:00 UTC is 21:00 there
    assert next_allowed(at(12), tz=tokyo, quiet=QUIET, window=None) == at(0, day=16)
    moscow = ZoneInfo("Europe/Moscow")  # UTC+3: 12:00 UTC is 15:00 there
    assert next_allowed(at(12), tz=moscow, quiet=QUIET, window=None) is None


def test_send_window_and_quiet_hours_together() -> None:
    window = Window(time(10), time(20))
    assert next_allowed(at(9, 30), tz=UTC_ZONE, quiet=QUIET, window=window) == at(10)
    assert next_allowed(at(20, 30), tz=UTC_ZONE, quiet=QUIET, window=window) == at(10, day=16)
    assert next_allowed(at(15), tz=UTC_ZONE, quiet=QUIET, window=window) is None


def test_dst_spring_forward_lands_on_a_real_instant() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 2026-03-29: 02:00 local does not exist
    quiet = Window(time(23), time(2, 30))
    when = next_allowed(datetime(2026, 3, 29, 0, 15, tzinfo=UTC), tz=berlin, quiet=quiet, window=None)
    assert when is not None and when.astimezone(berlin).hour == 3


def test_window_inside_quiet_hours_is_never_allowed() -> None:
    assert not ever_allowed(QUIET, Window(time(22), time(23)))
    assert ever_allowed(QUIET, Window(time(8), time(10)))
    assert ever_allowed(None, None)


def test_bad_zone_falls_back() -> None:
    assert zone("Mars/Olympus", "Europe/Moscow") == ZoneInfo("Europe/Moscow")
    assert zone(None, "nope") == ZoneInfo("UTC")


def test_holdout_is_stable_and_close_to_its_share() -> None:
    assert holdout_bucket("salt", 42) == holdout_bucket("salt", 42)
    assert holdout_bucket("salt", 42) != holdout_bucket("other", 42)
    held = sum(in_holdout("abc", cid, 0.1) for cid in range(1, 20_001))
    assert 1800 <= held <= 2200
    assert not any(in_holdout("abc", cid, 0.0) for cid in range(1, 1000))
    # Independent of id order: odd and even ids are held out alike.
    odd = sum(in_holdout("abc", cid, 0.1) for cid in range(1, 20_001, 2))
    assert 850 <= odd <= 1150


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [retry_delay(n, base=2, maximum=30) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_rules_from_settings() -> None:
    s = Settings(
        _env_file=None,
        outreach_quiet_hours="off",
        outreach_dormant_days=20,
        proactive_cap_days=3,
        loyalty_vip_min_spend=500,
        loyalty_pre_vip_min_spend=300,
    )
    rules = OutreachRules.from_settings(s)
    assert rules.quiet_hours is None and rules.dormant_days == 20 and rules.cap.days == 3
    assert rules.vip_min_spend_minor == 50_000
    assert OutreachRules.from_settings(Settings(_env_file=None)).quiet_hours == QUIET


def test_settings_refuse_churn_before_dormancy() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="OUTREACH_CHURN_DAYS"):
        Settings(_env_file=None, outreach_dormant_days=60, outreach_churn_days=30)
    with pytest.raises(ValidationError, match="HH:MM"):
        Settings(_env_file=None, outreach_quiet_hours="late")
