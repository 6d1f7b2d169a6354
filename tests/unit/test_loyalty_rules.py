"""Pure loyalty rules: money, points, tiers, reversal, expiry, birthdays, referrals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from core.clock import FrozenClock
from core.errors import Invalid
from core.loyalty.rules import (
    LoyaltyRules,
    NextTier,
    birthday_in,
    birthday_refusal,
    expiry_at,
    expiry_stage,
    next_tier,
    points_to_reverse,
    referral_refusal,
    tier_for,
    to_minor,
)
from core.settings import Settings

RULES = LoyaltyRules()  # USD; VIP 1000 & 5 orders; pre-VIP 600 & 3 orders


def cents(x: int | float) -> int:
    return int(Decimal(str(x)) * 100)


@pytest.mark.parametrize(
    ("spend", "orders", "tier"),
    [
        (0, 0, "never_bought"),
        (5000, 0, "never_bought"),  # spend without a counted order cannot happen; orders decide
        (10, 1, "one_time"),
        (5000, 1, "one_time"),  # one big order is still a one-time buyer
        (10, 2, "regular"),
        (599.99, 3, "regular"),
        (600, 3, "pre_vip"),
        (999.99, 9, "pre_vip"),
        (1000, 4, "pre_vip"),
        (1000, 5, "vip"),
        (25000, 40, "vip"),
    ],
)
def test_tiers(spend, orders, tier) -> None:
    assert tier_for(spend_minor=cents(spend), orders=orders, rules=RULES) == tier


def test_next_tier_says_what_is_missing() -> None:
    assert next_tier(spend_minor=0, orders=0, rules=RULES) == NextTier("one_time", 0, 1)
    assert next_tier(spend_minor=cents(50), orders=1, rules=RULES) == NextTier("regular", 0, 1)
    assert next_tier(spend_minor=cents(450), orders=2, rules=RULES) == NextTier("pre_vip", cents(150), 1)
    assert next_tier(spend_minor=cents(700), orders=2, rules=RULES) == NextTier("pre_vip", 0, 1)
    assert next_tier(spend_minor=cents(650), orders=3, rules=RULES) == NextTier("vip", cents(350), 2)
    assert next_tier(spend_minor=cents(1000), orders=5, rules=RULES) is None


def test_thresholds_come_from_settings() -> None:
    s = Settings(
        _env_file=None,
        loyalty_vip_min_spend=100,
        loyalty_vip_min_orders=2,
        loyalty_pre_vip_min_spend=50,
        loyalty_pre_vip_min_orders=2,
        loyalty_currency="RUB",
    )
    rules = LoyaltyRules.from_settings(s)
    assert tier_for(spend_minor=10000, orders=2, rules=rules) == "vip"
    assert tier_for(spend_minor=5000, orders=2, rules=rules) == "pre_vip"
    with pytest.raises(ValueError, match="must not exceed"):
        Settings(_env_file=None, loyalty_pre_vip_min_spend=2000)


def test_money_and_points() -> None:
    assert to_minor(Decimal("129.90"), "USD") == 12990
    assert to_minor(Decimal("1500"), "JPY") == 1500
    assert to_minor(Decimal("1.234"), "KWD") == 1234
    for amount, currency in ((Decimal("1.001"), "USD"), (Decimal("10.5"), "JPY")):
        with pytest.raises(Invalid) as err:
            to_minor(amount, currency)
        assert err.value.code == "invalid_amount"
    with pytest.raises(Invalid) as err:
        to_minor(Decimal(1), "XXQ")
    assert err.value.code == "unknown_currency"

    assert RULES.points_for(12999) == 129  # rounded down
    five_percent = LoyaltyRules(currency="RUB", points_per_unit=Decimal("0.05"))
    assert five_percent.points_for(199900) == 99  # 1999 RUB -> 99.95 -> 99

    multi = LoyaltyRules(exchange_rates={"EUR": Decimal("1.08")})
    assert multi.to_base_minor(10000, "EUR") == 10800
    with pytest.raises(Invalid) as err:
        RULES.to_base_minor(100, "EUR")
    assert err.value.code == "unsupported_currency" and err.value.details["accepted"] == ["USD"]


def test_refunds_take_back_points_in_proportion_and_all_on_full_refund() -> None:
    earned, amount = 199, 19999
    first = points_to_reverse(
        points_earned=earned, amount_minor=amount, refunded_minor=5000, already_reversed=0
    )
    second = points_to_reverse(
        points_earned=earned, amount_minor=amount, refunded_minor=12000, already_reversed=first
    )
    rest = points_to_reverse(
        points_earned=earned, amount_minor=amount, refunded_minor=amount, already_reversed=first + second
    )
    assert (first, second) == (50, 70) and first + second + rest == earned
    assert points_to_reverse(points_earned=0, amount_minor=100, refunded_minor=100, already_reversed=0) == 0


def test_expiry_stages_with_an_injected_clock() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    last = clock.now()
    rules = LoyaltyRules(expiry=timedelta(days=365), expiry_warning=timedelta(days=14))
    assert expiry_at(last_activity=last, rules=rules) == datetime(2027, 1, 1, tzinfo=UTC)

    def stage(points: int = 100) -> str:
        return expiry_stage(spendable=points, last_activity=last, now=clock.now(), rules=rules)

    clock.advance(days=350)
    assert stage() == "none"
    clock.advance(days=1)  # 14 days before
    assert stage() == "warn"
    assert stage(points=0) == "none"  # nothing to lose, nothing to say
    clock.advance(days=14)
    assert stage() == "expire"
    assert (
        expiry_stage(spendable=100, last_activity=last, now=clock.now(), rules=LoyaltyRules(expiry=None))
        == "none"
    )
    assert expiry_stage(spendable=100, last_activity=None, now=clock.now(), rules=rules) == "none"


def test_birthdays_once_a_year_and_only_if_known_in_time() -> None:
    rules = LoyaltyRules(birthday_min_notice=timedelta(days=30))
    bday = date(1990, 4, 21)
    today = date(2026, 4, 21)
    set_long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    assert birthday_refusal(birthday=bday, today=today, set_at=set_long_ago, rules=rules) is None
    assert (
        birthday_refusal(birthday=bday, today=date(2026, 4, 20), set_at=set_long_ago, rules=rules)
        == "not_today"
    )
    # Set 29 days before: not this year. Set exactly 30 days before: fine.
    assert (
        birthday_refusal(birthday=bday, today=today, set_at=datetime(2026, 3, 23, tzinfo=UTC), rules=rules)
        == "set_too_late"
    )
    assert (
        birthday_refusal(birthday=bday, today=today, set_at=datetime(2026, 3, 22, tzinfo=UTC), rules=rules)
        is None
    )
    assert birthday_refusal(birthday=bday, today=today, set_at=None, rules=rules) == "set_too_late"
    # 29 February is celebrated on the 28th in common years.
    leap = date(2000, 2, 29)
    assert birthday_in(2026, leap) == date(2026, 2, 28) and birthday_in(2028, leap) == date(2028, 2, 29)
    assert birthday_refusal(birthday=leap, today=date(2026, 2, 28), set_at=set_long_ago, rules=rules) is None


@pytest.mark.parametrize(
    ("kwargs", "refusal"),
    [
        ({"referrer_id": None}, "unknown_code"),
        ({"referrer_id": 5}, "self"),
        ({"already_referred": True}, "already_referred"),
        ({"referred_has_orders": True}, "not_new"),
        ({"referrer_chain": [9, 5]}, "loop"),  # 5 brought 9 who brought the referrer: no circles
        ({}, None),
    ],
)
def test_referral_rules(kwargs, refusal) -> None:
    base = {
        "referrer_id": 1,
        "referred_id": 5,
        "referred_has_orders": False,
        "already_referred": False,
        "referrer_chain": [9],
    }
    assert referral_refusal(**{**base, **kwargs}) == refusal
