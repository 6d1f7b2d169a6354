"""Pure loyalty rules: money, points, tiers, expiry, birthdays, referrals.

Nothing here touches the database or the clock; callers pass `now`. The rules come from
settings through `LoyaltyRules.from_settings`, so tests build them directly with whatever
thresholds they need. (The NPS rules are in core/nps/rules.py.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING

from babel.numbers import get_currency_precision, list_currencies

from core.errors import Invalid

if TYPE_CHECKING:
    from core.settings import Settings

# Tiers from the least to the most valuable customer.
NEVER_BOUGHT, ONE_TIME, REGULAR, PRE_VIP, VIP = "never_bought", "one_time", "regular", "pre_vip", "vip"
TIERS: tuple[str, ...] = (NEVER_BOUGHT, ONE_TIME, REGULAR, PRE_VIP, VIP)


# ------------------------------------------------------------------ money


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of a currency's minor unit (USD 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in major units as an integer count of minor units; refuses extra decimals."""
    if currency not in known_currencies():
        raise Invalid(f"unknown currency {currency!r}", code="unknown_currency")
    exponent = currency_exponent(currency)
    try:
        scaled = amount.scaleb(exponent)
    except InvalidOperation:
        raise Invalid("amount is not a number", code="invalid_amount") from None
    if scaled != scaled.to_integral_value():
        raise Invalid(
            f"{currency} amounts have at most {exponent} decimal places",
            code="invalid_amount",
            details={"currency": currency, "decimal_places": exponent},
        )
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))


# ------------------------------------------------------------------ loyalty rules


@dataclass(frozen=True, slots=True)
class LoyaltyRules:
    currency: str = "USD"
    # Units of `currency` per unit of another currency.
    exchange_rates: Mapping[str, Decimal] = field(default_factory=dict)
    points_per_unit: Decimal = Decimal(1)
    pending: timedelta = timedelta(0)
    expiry: timedelta | None = timedelta(days=365)  # None: points never expire
    expiry_warning: timedelta = timedelta(days=14)
    vip_min_spend: Decimal = Decimal(1000)  # in `currency` major units
    vip_min_orders: int = 5
    pre_vip_min_spend: Decimal = Decimal(600)
    pre_vip_min_orders: int = 3
    referral_reward_referrer: int = 200
    referral_reward_referred: int = 100
    birthday_reward: int = 100
    birthday_min_notice: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, s: Settings) -> LoyaltyRules:
        return cls(
            currency=s.loyalty_currency,
            exchange_rates={k: Decimal(str(v)) for k, v in s.loyalty_exchange_rates.items()},
            points_per_unit=Decimal(str(s.loyalty_points_per_unit)),
            pending=timedelta(days=s.loyalty_pending_days),
            expiry=timedelta(days=s.loyalty_expiry_days) if s.loyalty_expiry_days else None,
            expiry_warning=timedelta(days=s.loyalty_expiry_warning_days),
            vip_min_spend=Decimal(str(s.loyalty_vip_min_spend)),
            vip_min_orders=s.loyalty_vip_min_orders,
            pre_vip_min_spend=Decimal(str(s.loyalty_pre_vip_min_spend)),
            pre_vip_min_orders=s.loyalty_pre_vip_min_orders,
            referral_reward_referrer=s.loyalty_referral_reward_referrer,
            referral_reward_referred=s.loyalty_referral_reward_referred,
            birthday_reward=s.loyalty_birthday_reward,
            birthday_min_notice=timedelta(days=s.loyalty_birthday_min_notice_days),
        )

    def accepts(self, currency: str) -> bool:
        return currency == self.currency or currency in self.exchange_rates

    def to_base_minor(self, amount_minor: int, currency: str) -> int:
        """An amount in the loyalty currency's minor units (rounded down)."""
        if currency == self.currency:
            return amount_minor
        rate = self.exchange_rates.get(currency)
        if rate is None:
            accepted = sorted({self.currency, *self.exchange_rates})
            raise Invalid(
                f"orders in {currency} are not accepted; configure LOYALTY_EXCHANGE_RATES",
                code="unsupported_currency",
                details={"currency": currency, "accepted": accepted},
            )
        base = from_minor(amount_minor, currency) * rate
        return int(base.scaleb(currency_exponent(self.currency)).to_integral_value(ROUND_FLOOR))

    def points_for(self, base_minor: int) -> int:
        """Points a purchase of this amount (loyalty currency, minor units) earns; rounded down."""
        units = from_minor(max(base_minor, 0), self.currency)
        return int((units * self.points_per_unit).to_integral_value(ROUND_FLOOR))

    def spend_minor(self, major: Decimal) -> int:
        return int(major.scaleb(currency_exponent(self.currency)).to_integral_value(ROUND_FLOOR))


def points_to_reverse(
    *, points_earned: int, amount_minor: int, refunded_minor: int, already_reversed: int
) -> int:
    """Points to take back so that what is left matches what was kept (all of it on a full refund)."""
    if amount_minor <= 0 or points_earned <= 0:
        return 0
    kept = max(amount_minor - refunded_minor, 0)
    should_remain = points_earned * kept // amount_minor
    return max(points_earned - already_reversed - should_remain, 0)


# ------------------------------------------------------------------ tiers


@dataclass(frozen=True, slots=True)
class NextTier:
    tier: str
    spend_needed_minor: int  # loyalty currency
    orders_needed: int


def tier_for(*, spend_minor: int, orders: int, rules: LoyaltyRules) -> str:
    """The customer's tier from net spend (loyalty currency, minor units) and counted orders."""
    if orders <= 0:
        return NEVER_BOUGHT
    if spend_minor >= rules.spend_minor(rules.vip_min_spend) and orders >= rules.vip_min_orders:
        return VIP
    if spend_minor >= rules.spend_minor(rules.pre_vip_min_spend) and orders >= rules.pre_vip_min_orders:
        return PRE_VIP
    if orders == 1:
        return ONE_TIME
    return REGULAR


def next_tier(*, spend_minor: int, orders: int, rules: LoyaltyRules) -> NextTier | None:
    """What is still missing for the next tier up (None for VIP)."""
    tier = tier_for(spend_minor=spend_minor, orders=orders, rules=rules)
    if tier == VIP:
        return None
    if tier in (NEVER_BOUGHT, ONE_TIME):
        target = ONE_TIME if tier == NEVER_BOUGHT else REGULAR
        return NextTier(target, 0, 1)
    if tier == REGULAR:
        target, spend, count = PRE_VIP, rules.pre_vip_min_spend, rules.pre_vip_min_orders
    else:
        target, spend, count = VIP, rules.vip_min_spend, rules.vip_min_orders
    return NextTier(target, max(rules.spend_minor(spend) - spend_minor, 0), max(count - orders, 0))


# ------------------------------------------------------------------ expiry


def expiry_at(*, last_activity: datetime | None, rules: LoyaltyRules) -> datetime | None:
    """When the balance burns: a configured time after the last purchase or points activity."""
    if rules.expiry is None or last_activity is None:
        return None
    return last_activity + rules.expiry


def expiry_stage(
    *, spendable: int, last_activity: datetime | None, now: datetime, rules: LoyaltyRules
) -> str:
    """'none' (nothing to do), 'warn' (inside the warning period) or 'expire'."""
    at = expiry_at(last_activity=last_activity, rules=rules)
    if at is None or spendable <= 0:
        return "none"
    if now >= at:
        return "expire"
    if now >= at - rules.expiry_warning:
        return "warn"
    return "none"


# ------------------------------------------------------------------ birthdays


def birthday_in(year: int, birthday: date) -> date:
    """The birthday's date in a given year (29 February falls on the 28th in common years)."""
    try:
        return birthday.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


BIRTHDAY_RE = re.compile(r"^\s*(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{4})\s*$")
OLDEST = 120  # years: an older "birthday" is a typo


def parse_birthday(text: str, today: date) -> date | None:
    """DD.MM.YYYY (dots, dashes, slashes or spaces); None if it is not a plausible birthday
    (not a date, in the future, or more than OLDEST years ago)."""
    m = BIRTHDAY_RE.match(text)
    if not m:
        return None
    try:
        value = date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None
    if value > today or value.year < today.year - OLDEST:
        return None
    return value


def birthday_refusal(
    *, birthday: date, today: date, set_at: datetime | None, rules: LoyaltyRules
) -> str | None:
    """None when today is the birthday and it was known long enough; else why not."""
    this_year = birthday_in(today.year, birthday)
    if today != this_year:
        return "not_today"
    if set_at is None or set_at.date() > this_year - rules.birthday_min_notice:
        return "set_too_late"
    return None


# ------------------------------------------------------------------ referrals


def referral_refusal(
    *,
    referrer_id: int | None,
    referred_id: int,
    referred_has_orders: bool,
    already_referred: bool,
    referrer_chain: list[int],
) -> str | None:
    """Why a referral link cannot credit this person (None: it can).

    `referrer_chain` lists who referred the referrer, who referred them, and so on.
    """
    if referrer_id is None:
        return "unknown_code"
    if referrer_id == referred_id:
        return "self"
    if already_referred:
        return "already_referred"
    if referred_has_orders:
        return "not_new"
    if referred_id in referrer_chain:
        return "loop"
    return None
