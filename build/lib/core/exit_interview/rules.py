"""Pure exit-interview rules: the reasons customers can give, `ExitRules` (built from settings
once) and how a feature name is matched. Nothing here touches the database or the clock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings


REASONS: tuple[str, ...] = (
    "price",
    "feature",
    "competitor",
    "not_needed",
    "technical",
    "support",
    "break",
    "other",
)
# Reasons that need a second answer in words (optional except for "other").
DETAIL_REASONS = ("feature", "competitor", "other")
HANDOVER_REASONS = ("technical", "support")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MAX_BREAK = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class ExitRules:
    save_offer_enabled: bool = True
    save_offer_pool: str = "exit-save"
    save_offer_discount_percent: int = 15
    save_offer_valid: timedelta = timedelta(days=14)
    save_window: timedelta = timedelta(days=30)
    send_window: timedelta = timedelta(days=3)
    # Nobody is interviewed twice within this time.
    recent: timedelta = timedelta(days=30)
    answer_window: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, s: Settings) -> ExitRules:
        return cls(
            save_offer_enabled=s.exit_save_offer_enabled,
            save_offer_pool=s.exit_save_offer_pool,
            save_offer_discount_percent=s.exit_save_offer_discount_percent,
            save_offer_valid=timedelta(days=s.exit_save_offer_valid_days),
            save_window=timedelta(days=s.exit_save_window_days),
            send_window=timedelta(days=s.exit_send_window_days),
        )


def feature_key(text: str) -> str:
    """How a feature name is matched: case, punctuation, 'ё' and spacing do not matter."""
    s = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    s = re.sub(r"[\W_]+", " ", s).strip()
    return s[:128]


def add_months(start: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has no such day)."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    for d in (start.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError("unreachable")


def break_until(today: date, *, months: int, days: int) -> date:
    """The end of a break of a length picked on a button (two weeks, one to six months)."""
    return add_months(today, months) + timedelta(days=days)
