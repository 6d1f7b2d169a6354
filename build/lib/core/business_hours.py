"""Business hours: is support staffed now, and when does it open next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class BusinessHours:
    days: frozenset[int]  # ISO weekdays, 1 = Monday
    start: time
    end: time
    timezone: str = "UTC"

    def is_open(self, now: datetime) -> bool:
        """True when `now` falls inside staffed hours (end exclusive)."""
        local = now.astimezone(ZoneInfo(self.timezone))
        if local.isoweekday() not in self.days:
            return False
        t = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # overnight shift

    def next_open(self, now: datetime) -> datetime:
        """The next moment support opens (now, if open), in the business's time zone."""
        tz = ZoneInfo(self.timezone)
        local = now.astimezone(tz)
        if self.is_open(now):
            return local
        for offset in range(0, 8):
            day = (local + timedelta(days=offset)).date()
            if day.isoweekday() not in self.days:
                continue
            opening = datetime.combine(day, self.start, tzinfo=tz)
            if opening > local:
                return opening
        return local  # no business days configured: treat as always reachable
