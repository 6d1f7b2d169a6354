"""Exit interview helpers: feature names, dates typed by customers, break lengths."""

from __future__ import annotations

from datetime import date

import pytest

from core.exit_interview.rules import REASONS, add_months, feature_key
from dialogs.exit_interview.handlers import ExitActCb, ExitCb, parse_date
from dialogs.loyalty.handlers import parse_birthday


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Dark mode", "dark mode"),
        ("  DARK-mode!! ", "dark mode"),
        ("тёмная   тема", "темная тема"),
        ("Export to CSV/Excel", "export to csv excel"),
        ("🙂", ""),
    ],
)
def test_feature_names_match_regardless_of_case_and_punctuation(text, key) -> None:
    assert feature_key(text) == key


def test_dates() -> None:
    assert parse_date("01.06.2026") == date(2026, 6, 1)
    assert parse_date("1/6/2026") == date(2026, 6, 1)
    assert parse_date("31.02.2026") is None and parse_date("tomorrow") is None
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    today = date(2026, 1, 15)
    assert parse_birthday("21.04.1990", today) == date(1990, 4, 21)
    assert parse_birthday("21.04.2030", today) is None  # not born yet
    assert parse_birthday("21.04", today) is None  # the year is needed


def test_callback_data_fits_telegrams_64_bytes() -> None:
    for reason in REASONS:
        assert len(ExitCb(i=2**31, r=reason).pack().encode()) <= 64
    assert len(ExitActCb(i=2**31, a="skip").pack().encode()) <= 64
