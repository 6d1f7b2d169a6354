"""Every domain's rules in one frozen bundle, built once from settings by `build_rules`.

The composition root (supportbot/runtime.py) builds the bundle once and hands it to the bot's
dispatcher (handlers take `rules`), the HTTP API (`api.deps.RulesDep`) and the background
workers (`BotContext.rules`). Nothing else turns settings into rules; tests build a `Rules`
(or one domain's rules) directly with whatever thresholds they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.exit_interview.rules import ExitRules
from core.loyalty.rules import LoyaltyRules
from core.nps.rules import NpsRules
from core.outreach.rules import OutreachRules
from core.ratelimit import Limits

if TYPE_CHECKING:
    from core.settings import Settings


@dataclass(frozen=True, slots=True)
class Rules:
    loyalty: LoyaltyRules
    nps: NpsRules
    exit: ExitRules
    outreach: OutreachRules  # carries the same `loyalty` rules (tiers in segments)
    limits: Limits  # Telegram's flood limits the gate runs with


def build_rules(settings: Settings) -> Rules:
    """The one place settings become rules (called once by the composition root)."""
    loyalty = LoyaltyRules.from_settings(settings)
    return Rules(
        loyalty=loyalty,
        nps=NpsRules.from_settings(settings),
        exit=ExitRules.from_settings(settings),
        outreach=OutreachRules.from_settings(settings, loyalty=loyalty),
        limits=Limits.from_settings(settings),
    )
