"""Reporting periods: local midnights converted to UTC, ISO weeks, the current period, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.analytics import periods as pr
from core.errors import Invalid

NOW = datetime(2025, 7, 10, 12, 0, tzinfo=UTC)


def test_month_boundaries_are_local_midnights() -> None:
    rng = pr.build(
        granularity="month", timezone="Europe/Moscow", now=NOW, start=date(2025, 6, 1), end=date(2025, 7, 1)
    )
    (june,) = rng.periods
    assert june.label == "2025-06" and june.complete
    # Moscow is UTC+3: June starts at 21:00 UTC on May 31 and ends at 21:00 UTC on June 30.
    assert june.start_at == datetime(2025, 5, 31, 21, tzinfo=UTC)
    assert june.end_at == datetime(2025, 6, 30, 21, tzinfo=UTC)


def test_daylight_saving_changes_the_utc_offset_of_a_boundary() -> None:
    rng = pr.build(
        granularity="month",
        timezone="America/New_York",
        now=NOW,
        start=date(2025, 3, 1),
        end=date(2025, 4, 1),
    )
    (march,) = rng.periods
    assert march.start_at == datetime(2025, 3, 1, 5, tzinfo=UTC)  # EST, UTC-5
    assert march.end_at == datetime(2025, 4, 1, 4, tzinfo=UTC)  # EDT, UTC-4


def test_current_period_ends_now_and_future_ones_are_dropped() -> None:
    rng = pr.build(granularity="month", timezone="UTC", now=NOW, start=date(2025, 5, 1), end=date(2025, 9, 1))
    assert [p.label for p in rng.periods] == ["2025-05", "2025-06", "2025-07"]
    assert [p.complete for p in rng.periods] == [True, True, False]
    assert rng.periods[-1].end_at == NOW and rng.periods[-1].end == date(2025, 8, 1)
    assert rng.boundaries[-1] == NOW
    with pytest.raises(Invalid) as err:
        pr.build(granularity="month", timezone="UTC", now=NOW, start=date(2025, 8, 1))
    assert err.value.code == "period_in_future"


def test_last_n_periods_weeks_and_quarters() -> None:
    weeks = pr.build(granularity="week", timezone="UTC", now=NOW, periods=3)
    assert [p.label for p in weeks.periods] == ["2025-W26", "2025-W27", "2025-W28"]
    assert weeks.periods[0].start == date(2025, 6, 23)  # a Monday
    quarters = pr.build(granularity="quarter", timezone="UTC", now=NOW, periods=2)
    assert [(p.label, p.start, p.end) for p in quarters.periods] == [
        ("2025-Q2", date(2025, 4, 1), date(2025, 7, 1)),
        ("2025-Q3", date(2025, 7, 1), date(2025, 10, 1)),
    ]
    snapped = pr.build(
        granularity="month", timezone="UTC", now=NOW, start=date(2024, 11, 17), end=date(2025, 1, 2)
    )
    assert [p.label for p in snapped.periods] == ["2024-11", "2024-12", "2025-01"]
    assert [p.label for p in pr.trailing(weeks, count=2, granularity="month").periods] == [
        "2025-06",
        "2025-07",
    ]


def test_invalid_ranges() -> None:
    for kwargs, code in (
        ({"start": date(2025, 5, 1), "end": date(2025, 4, 1)}, "invalid_range"),
        ({"start": date(2010, 1, 1)}, "too_many_periods"),
        ({"start": date(2025, 5, 1), "end": date(2025, 5, 1)}, "invalid_range"),
    ):
        with pytest.raises(Invalid) as err:
            pr.build(granularity="month", timezone="UTC", now=NOW, **kwargs)  # type: ignore[arg-type]
        assert err.value.code == code
    with pytest.raises(Invalid) as err:
        pr.build(granularity="month", timezone="Mars/Olympus", now=NOW)
    assert err.value.code == "invalid_timezone"


@pytest.mark.parametrize(
    ("arg", "labels"),
    [
        (None, ["2025-07"]),
        ("week", ["2025-W28"]),
        ("Quarter", ["2025-Q3"]),
        ("2025-06", ["2025-06"]),
        ("2025-q2", ["2025-Q2"]),
        ("2025-W23", ["2025-W23"]),
    ],
)
def test_staff_period_arguments(arg: str | None, labels: list[str]) -> None:
    rng = pr.parse(arg, default="month", timezone="UTC", now=NOW)
    assert [p.label for p in rng.periods] == labels


@pytest.mark.parametrize("arg", ["yesterday", "2025-13", "2025-Q5", "2025-W60", "2026-01"])
def test_bad_staff_period_arguments(arg: str) -> None:
    with pytest.raises(Invalid):
        pr.parse(arg, default="month", timezone="UTC", now=NOW)
