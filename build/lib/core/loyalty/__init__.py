"""Orders and loyalty points: an append-only ledger, tiers, referrals, birthdays and expiry.

One module an idea, like core/outreach/:
- `rules`: pure rules (money, points, tiers, expiry, birthdays, referrals), built from settings;
- `views`: constants and the views the use cases return (never ORM rows);
- `ledger`: the points ledger: balance, history, earn / redeem / adjust, the staff card's facts;
- `orders`: record and refund the backend's orders; `referrals`: codes, attribution, rewards;
- `jobs`: the scheduled birthday rewards and points expiry;
- `queries`: purchase figures and tiers other domains segment on;
- `notices`: the messages the engagement worker sends; `merge`: customer merge/forget hooks.

The use cases are re-exported here (`from core import loyalty; loyalty.balance(...)`, as the
API, the dialogs and the workers call them); rules, notices and merge are imported by module.
"""

from __future__ import annotations

from core.loyalty.jobs import (
    next_birthday,
    run_birthdays,
    run_expiry,
    set_birthday,
)
from core.loyalty.ledger import (
    adjust,
    balance,
    balance_screen,
    card_facts,
    customer_id_for,
    earn,
    history,
    redeem,
)
from core.loyalty.orders import (
    MAX_ORDER_MINOR,
    get_order,
    record_order,
    refund_order,
)
from core.loyalty.queries import (
    PurchaseStats,
    customer_tiers,
    purchase_stats,
)
from core.loyalty.referrals import (
    attribute_referral,
    bot_username,
    referral_code,
    referral_info,
    referral_link,
)
from core.loyalty.views import (
    ACTIVITY_KINDS,
    COUNTED,
    FUTURE_SKEW,
    KINDS,
    REFERRAL_PREFIX,
    BalanceScreen,
    BalanceView,
    EntryView,
    MovementResult,
    OrderResult,
    OrderView,
    ReferralInfo,
    ReferralOutcome,
)

__all__ = [
    "ACTIVITY_KINDS",
    "BalanceScreen",
    "BalanceView",
    "COUNTED",
    "EntryView",
    "FUTURE_SKEW",
    "KINDS",
    "MAX_ORDER_MINOR",
    "MovementResult",
    "OrderResult",
    "OrderView",
    "PurchaseStats",
    "REFERRAL_PREFIX",
    "ReferralInfo",
    "ReferralOutcome",
    "adjust",
    "attribute_referral",
    "balance",
    "balance_screen",
    "bot_username",
    "card_facts",
    "customer_id_for",
    "customer_tiers",
    "earn",
    "get_order",
    "history",
    "next_birthday",
    "purchase_stats",
    "record_order",
    "redeem",
    "referral_code",
    "referral_info",
    "referral_link",
    "refund_order",
    "run_birthdays",
    "run_expiry",
    "set_birthday",
]
