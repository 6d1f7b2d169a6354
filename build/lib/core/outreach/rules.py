"""Pure outreach rules: lifecycle windows, quiet hours and send windows, holdout, retry backoff.

Nothing here touches the database or the clock; callers pass `now`. `OutreachRules.from_settings`
builds them once; tests build them directly with the thresholds they need.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.loyalty.rules import LoyaltyRules
from core.outreach.window import Window

if TYPE_CHECKING:
    from core.settings import Settings

# Telegram charges 0.1 Stars per message sent with allow_paid_broadcast.
PAID_STARS_PER_MESSAGE = 0.1


def _allowed(t: time, quiet: Window | None, window: Window | None) -> bool:
    return (quiet is None or not quiet.contains(t)) and (window is None or window.contains(t))


def next_allowed(
    now: datetime,
    *,
    tz: ZoneInfo,
    quiet: Window | None,
    window: Window | None,
) -> datetime | None:
    """None when a proactive message may go now; else the earliest moment it may (UTC).

    Quiet hours and the send window are in the customer's local time, so a message held at
    night in Vladivostok goes in their morning, not in the business's.
    """
    local = now.astimezone(tz)
    if _allowed(local.time().replace(tzinfo=None), quiet, window):
        return None
    boundaries = [w for w in ((quiet.end if quiet else None), (window.start if window else None)) if w]
    best: datetime | None = None
    for offset in range(0, 3):
        day = local.date() + timedelta(days=offset)
        for boundary in boundaries:
            candidate = datetime.combine(day, boundary, tzinfo=tz)
            # Round-trip through UTC so a time inside a DST gap lands on a real instant.
            candidate = candidate.astimezone(UTC).astimezone(tz)
            if candidate > local and _allowed(candidate.time().replace(tzinfo=None), quiet, window):
                if best is None or candidate < best:
                    best = candidate
        if best is not None:
            break
    return best.astimezone(UTC) if best is not None else None


def ever_allowed(quiet: Window | None, window: Window | None) -> bool:
    """Whether some minute of the day is outside quiet hours and inside the send window."""
    return any(_allowed(time(m // 60, m % 60), quiet, window) for m in range(0, 24 * 60))


def holdout_bucket(salt: str, customer_id: int) -> float:
    """A stable pseudo-random number in [0, 1) for this customer in this campaign."""
    digest = hashlib.blake2b(f"{salt}:{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def in_holdout(salt: str, customer_id: int, share: float) -> bool:
    """The control group: a random, stable share of the audience that gets nothing."""
    return share > 0 and holdout_bucket(salt, customer_id) < share


def retry_delay(attempt: int, *, base: float, maximum: float) -> float:
    """Exponential backoff: base, 2*base, 4*base... capped at `maximum` (attempt counts from 1)."""
    factor: int = 2 ** max(attempt - 1, 0)  # int ** int is typed Any (a negative power is a float)
    return min(maximum, base * factor)


@dataclass(frozen=True, slots=True)
class OutreachRules:
    dormant_days: int = 30
    churn_days: int = 90
    late_churn_min_tenure_days: int = 180
    late_churn_min_orders: int = 3
    quiet_hours: Window | None = Window(time(21, 0), time(9, 0))
    default_timezone: str = "UTC"
    cap: timedelta = timedelta(days=7)
    max_attempts: int = 5
    retry_base: float = 2.0
    retry_max: float = 300.0
    default_holdout: float = 0.1
    default_goal_days: int = 30
    paid_max_stars: float = 0.0
    webhook_max_attempts: int = 8
    shop: str = "Demo Shop"
    default_language: str = "en"
    loyalty: LoyaltyRules = field(default_factory=LoyaltyRules)

    @classmethod
    def from_settings(cls, s: Settings, *, loyalty: LoyaltyRules | None = None) -> OutreachRules:
        """`loyalty`: the bundle's loyalty rules (core/rules.py); built from `s` when omitted."""
        quiet = s.outreach_quiet_hours.strip().lower()
        return cls(
            dormant_days=s.outreach_dormant_days,
            churn_days=s.outreach_churn_days,
            late_churn_min_tenure_days=s.outreach_late_churn_min_tenure_days,
            late_churn_min_orders=s.outreach_late_churn_min_orders,
            quiet_hours=None if quiet in ("", "off", "none") else Window.parse(quiet),
            default_timezone=s.default_timezone,
            cap=timedelta(days=s.proactive_cap_days),
            max_attempts=s.outreach_max_attempts,
            retry_base=s.outreach_retry_base_seconds,
            retry_max=s.outreach_retry_max_seconds,
            default_holdout=s.outreach_default_holdout,
            default_goal_days=s.outreach_default_goal_days,
            paid_max_stars=s.outreach_paid_max_stars,
            webhook_max_attempts=s.outreach_webhook_max_attempts,
            shop=s.business_name,
            default_language=s.default_language,
            loyalty=loyalty if loyalty is not None else LoyaltyRules.from_settings(s),
        )

    @property
    def vip_min_spend_minor(self) -> int:
        return self.loyalty.spend_minor(self.loyalty.vip_min_spend)

    @property
    def pre_vip_min_spend_minor(self) -> int:
        return self.loyalty.spend_minor(self.loyalty.pre_vip_min_spend)
