"""Pure NPS rules: categories, the NPS value, who may be surveyed when (throttles).

Nothing here touches the database or the clock; callers pass `now`. `NpsRules.from_settings`
builds them once; tests build them directly with the thresholds they need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.errors import Invalid

if TYPE_CHECKING:
    from core.settings import Settings

PROMOTER, PASSIVE, DETRACTOR = "promoter", "passive", "detractor"


@dataclass(frozen=True, slots=True)
class NpsRules:
    answered_cooldown: timedelta = timedelta(days=90)
    ignored_cooldown: timedelta = timedelta(days=30)
    answer_window: timedelta = timedelta(days=7)
    send_window: timedelta = timedelta(days=14)
    after_support_case: timedelta | None = timedelta(hours=24)
    after_first_purchase: timedelta | None = timedelta(days=14)
    # Detractors who neither comment nor skip still reach staff after this long.
    alert_after: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, s: Settings) -> NpsRules:
        return cls(
            answered_cooldown=timedelta(days=s.nps_answered_cooldown_days),
            ignored_cooldown=timedelta(days=s.nps_ignored_cooldown_days),
            answer_window=timedelta(days=s.nps_answer_window_days),
            send_window=timedelta(days=s.nps_send_window_days),
            after_support_case=(
                timedelta(hours=s.nps_after_support_case_hours) if s.nps_after_support_case else None
            ),
            after_first_purchase=(
                timedelta(days=s.nps_after_first_purchase_days) if s.nps_after_first_purchase_days else None
            ),
        )


def nps_category(score: int) -> str:
    if not 0 <= score <= 10:
        raise Invalid("an NPS score is 0-10", code="invalid_score")
    if score >= 9:
        return PROMOTER
    if score >= 7:
        return PASSIVE
    return DETRACTOR


def nps_value(*, promoters: int, passives: int, detractors: int) -> float | None:
    """NPS = %promoters - %detractors, -100..100 (one decimal); None without answers."""
    total = promoters + passives + detractors
    if total == 0:
        return None
    return round((promoters - detractors) * 100 / total, 1)


@dataclass(frozen=True, slots=True)
class SurveyHistory:
    """What matters about a customer's past surveys for throttling."""

    scheduled: bool = False  # one is waiting to be sent
    open_until: datetime | None = None  # one was sent and can still be answered until then
    last_answered_at: datetime | None = None
    last_ignored_sent_at: datetime | None = None  # sent, never answered


def survey_throttle(*, history: SurveyHistory, now: datetime, rules: NpsRules) -> str | None:
    """Why this customer must not be surveyed now (None: they may be)."""
    if history.scheduled:
        return "already_scheduled"
    if history.open_until is not None and history.open_until > now:
        return "survey_open"
    if history.last_answered_at and now - history.last_answered_at < rules.answered_cooldown:
        return "answered_recently"
    if history.last_ignored_sent_at and now - history.last_ignored_sent_at < rules.ignored_cooldown:
        return "ignored_recently"
    return None


def percent(part: int, whole: int) -> float:
    return 0.0 if whole == 0 else round(part * 100 / whole, 1)


def ceil_days(delta: timedelta) -> int:
    return max(math.ceil(delta.total_seconds() / 86400), 0)
