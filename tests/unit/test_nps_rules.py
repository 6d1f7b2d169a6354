"""Pure NPS rules: categories, the score, and who may be surveyed when (injected clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import FrozenClock
from core.errors import Invalid
from core.nps.rules import NpsRules, SurveyHistory, nps_category, nps_value, survey_throttle
from core.settings import Settings


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_categories(score, category) -> None:
    assert nps_category(score) == category


@pytest.mark.parametrize("score", [-1, 11])
def test_scores_outside_0_10_are_refused(score) -> None:
    with pytest.raises(Invalid):
        nps_category(score)


def test_nps_value() -> None:
    assert nps_value(promoters=0, passives=0, detractors=0) is None
    assert nps_value(promoters=7, passives=2, detractors=1) == 60.0
    assert nps_value(promoters=0, passives=0, detractors=3) == -100.0
    assert nps_value(promoters=1, passives=1, detractors=1) == 0.0
    assert nps_value(promoters=2, passives=0, detractors=1) == 33.3


def test_throttles_with_an_injected_clock() -> None:
    clock = FrozenClock()
    rules = NpsRules()  # 90 days after an answer, 30 after an ignored survey
    answered = SurveyHistory(last_answered_at=clock.now())
    ignored = SurveyHistory(last_ignored_sent_at=clock.now())

    def reason(h: SurveyHistory) -> str | None:
        return survey_throttle(history=h, now=clock.now(), rules=rules)

    assert reason(SurveyHistory()) is None
    assert reason(SurveyHistory(scheduled=True)) == "already_scheduled"
    assert reason(SurveyHistory(open_until=clock.now() + timedelta(days=1))) == "survey_open"
    clock.advance(days=29, hours=23)
    assert reason(ignored) == "ignored_recently"
    assert reason(answered) == "answered_recently"
    clock.advance(hours=1)  # 30 days after the ignored one
    assert reason(ignored) is None
    clock.advance(days=59, hours=23)
    assert reason(answered) == "answered_recently"
    clock.advance(hours=1)  # 90 days after the answer
    assert reason(answered) is None


def test_throttle_windows_come_from_settings() -> None:
    rules = NpsRules.from_settings(
        Settings(
            _env_file=None,
            nps_answered_cooldown_days=10,
            nps_ignored_cooldown_days=3,
            nps_after_support_case=False,
            nps_after_first_purchase_days=0,
        )
    )
    assert rules.answered_cooldown == timedelta(days=10) and rules.ignored_cooldown == timedelta(days=3)
    assert rules.after_support_case is None and rules.after_first_purchase is None
