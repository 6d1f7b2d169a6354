"""Reporting periods: weeks (ISO, from Monday), months and quarters in a time zone.

A period starts at local midnight of its first day and ends at the next period's start; both are
converted to UTC for SQL, so a purchase at 23:30 local time on the last day of a month belongs to
that month whatever the UTC date says. The current period ends "now" (it is marked incomplete);
periods that have not started yet are never reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import Invalid

GRANULARITIES: tuple[str, ...] = ("week", "month", "quarter")
MAX_PERIODS = {"week": 260, "month": 120, "quarter": 40}
# Dates a caller may ask for: far enough from date.min/max that shifting by whole periods and
# subtracting activity windows never leaves the calendar (a 500 instead of a clear 422).
EARLIEST = date(1900, 1, 1)
LATEST = date(9000, 1, 1)
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_WEEK_RE = re.compile(r"^(\d{4})-[Ww](\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    index: int
    label: str  # 2025-06, 2025-Q2, 2025-W23
    start: date  # local, inclusive
    end: date  # local, exclusive
    start_at: datetime  # UTC
    end_at: datetime  # UTC; "now" for the current period
    complete: bool


@dataclass(frozen=True, slots=True)
class PeriodRange:
    granularity: str
    timezone: str
    as_of: datetime
    periods: tuple[Period, ...]

    @property
    def start_at(self) -> datetime:
        return self.periods[0].start_at

    @property
    def end_at(self) -> datetime:
        return self.periods[-1].end_at

    @property
    def boundaries(self) -> list[datetime]:
        """t_0 .. t_P: each period's start, then the last period's end."""
        return [p.start_at for p in self.periods] + [self.periods[-1].end_at]


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {name!r}", code="invalid_timezone") from None


def _check_dates(*days: date | None) -> None:
    if any(day is not None and not EARLIEST <= day <= LATEST for day in days):
        raise Invalid(
            f"dates must be from {EARLIEST} to {LATEST}",
            code="invalid_range",
            details={"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()},
        )


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant of 00:00 local time on `day`."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def floor(day: date, granularity: str) -> date:
    """First day of the period that contains `day`."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    if granularity == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    raise Invalid(
        f"unknown granularity {granularity!r}",
        code="invalid_granularity",
        details={"allowed": list(GRANULARITIES)},
    )


def shift(start: date, granularity: str, n: int) -> date:
    """The period start `n` periods after (or before, n < 0) the period starting on `start`."""
    if granularity == "week":
        return start + timedelta(weeks=n)
    months = 3 * n if granularity == "quarter" else n
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def label(start: date, granularity: str) -> str:
    if granularity == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def build(
    *,
    granularity: str,
    timezone: str,
    now: datetime,
    start: date | None = None,
    end: date | None = None,
    periods: int | None = None,
) -> PeriodRange:
    """Periods covering [start, end) (snapped outwards to whole periods), or the last `periods`
    ones up to the current period (or up to `end`)."""
    _check_dates(start, end)
    tz = zone(timezone)
    first_of = floor(start, granularity) if start else None
    today = now.astimezone(tz).date()
    if end is not None:
        if start is not None and end <= start:
            raise Invalid(
                "end must be after start",
                code="invalid_range",
                details={"start": start.isoformat(), "end": end.isoformat()},
            )
        last = floor(end - timedelta(days=1), granularity)
    else:
        last = floor(today, granularity)
    if first_of is None:
        count = periods or 1
        if count < 1:
            raise Invalid("periods must be at least 1", code="invalid_range")
        first_of = shift(last, granularity, -(count - 1))
    starts: list[date] = []
    cursor = first_of
    limit = MAX_PERIODS[granularity]
    while cursor <= last:
        starts.append(cursor)
        if len(starts) > limit:
            raise Invalid(
                f"at most {limit} {granularity}s per report",
                code="too_many_periods",
                details={"max_periods": limit},
            )
        cursor = shift(cursor, granularity, 1)
    out: list[Period] = []
    for day in starts:
        start_at = local_midnight(day, tz)
        if start_at > now:
            break  # not started yet: nothing to report
        next_day = shift(day, granularity, 1)
        end_at = local_midnight(next_day, tz)
        out.append(
            Period(
                len(out), label(day, granularity), day, next_day, start_at, min(end_at, now), end_at <= now
            )
        )
    if not out:
        raise Invalid(
            "the period has not started yet",
            code="period_in_future",
            details={"first_period_start": starts[0].isoformat() if starts else None},
        )
    return PeriodRange(granularity, timezone, now, tuple(out))


def single(*, day: date, granularity: str, timezone: str, now: datetime) -> PeriodRange:
    """The one period of `granularity` that contains `day`."""
    _check_dates(day)
    first = floor(day, granularity)
    return build(
        granularity=granularity, timezone=timezone, now=now, start=first, end=shift(first, granularity, 1)
    )


def parse(text: str | None, *, default: str, timezone: str, now: datetime) -> PeriodRange:
    """A period as staff type it: week | month | quarter (the current one so far) or a given
    month 2025-06, quarter 2025-Q2, ISO week 2025-W23."""
    value = (text or default).strip().lower()
    if value in GRANULARITIES:
        return build(granularity=value, timezone=timezone, now=now, periods=1)
    day: date | None = None
    try:
        if m := _MONTH_RE.match(value):
            day, granularity = date(int(m[1]), int(m[2]), 1), "month"
        elif m := _QUARTER_RE.match(value):
            day, granularity = date(int(m[1]), 3 * (int(m[2]) - 1) + 1, 1), "quarter"
        elif m := _WEEK_RE.match(value):
            day, granularity = date.fromisocalendar(int(m[1]), int(m[2]), 1), "week"
    except ValueError:  # month 13, week 60, year 0
        day = None
    if day is not None:
        return single(day=day, granularity=granularity, timezone=timezone, now=now)
    raise Invalid(
        f"not a period: {text!r}",
        code="invalid_period",
        details={"examples": ["week", "month", "quarter", "2025-06", "2025-Q2", "2025-W23"]},
    )


def trailing(period: PeriodRange, *, count: int, granularity: str | None = None) -> PeriodRange:
    """`count` periods of `granularity` ending with the one that contains the range's last day."""
    return build(
        granularity=granularity or period.granularity,
        timezone=period.timezone,
        now=period.as_of,
        end=period.periods[-1].end,
        periods=count,
    )
