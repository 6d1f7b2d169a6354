"""Ready campaign series: win-back (the default), subscription renewal, abandoned cart.

Their texts live in `playbooks/<lang>.yaml` beside this module (same keys in every language).

- `winback`: a personal-sounding question why they stopped, with one-tap reasons that open the
  exit interview; if there is no reply, `gap_days` (14) later something useful: a gift (a promo
  code with a modest discount) when one is given, otherwise news. Stops at a reply or a purchase.
- `renewal`: one reminder before a subscription lapses; converts when it is renewed.
- `abandoned_cart`: one reminder about the cart (with a promo code if given).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.errors import Invalid

TEXTS_DIR = Path(__file__).parent / "playbooks"
DAY = 86_400


@lru_cache(maxsize=1)
def _texts() -> dict[str, dict[str, Any]]:
    return {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(TEXTS_DIR.glob("*.yaml"))
    }


def languages() -> tuple[str, ...]:
    return tuple(_texts())


def text_keys(lang: str) -> set[str]:
    """Every dotted key of one language's file (for the same-keys test)."""
    out: set[str] = set()

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out.add(prefix)

    walk("", _texts()[lang])
    return out


def _all(section: str, key: str) -> dict[str, str]:
    return {lang: str(data[section][key]).strip() for lang, data in _texts().items()}


def tier_label(lang: str, tier: str) -> str:
    texts = _texts()
    return str((texts.get(lang) or texts["en"])["tiers"].get(tier, tier))


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    description: str
    segment: dict[str, Any]
    goal: dict[str, Any]
    window: str | None
    steps: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class PlaybookOptions:
    promo_code: str | None = None
    discount_percent: int | None = None
    gap_days: float = 14
    url: str | None = None


DESCRIPTIONS = {
    "winback": "Ask why they stopped (one tap opens the exit interview); no reply: something "
    "useful about two weeks later. Stops at a reply or a purchase.",
    "renewal": "Remind before a subscription lapses; converts on renewal.",
    "abandoned_cart": "Remind about an abandoned cart, with a promo code if given.",
}


def _url_button(key: str, url: str | None) -> list[dict[str, Any]]:
    return [{"kind": "url", "text": _all("buttons", key), "url": url}] if url else []


def _offer(options: PlaybookOptions) -> dict[str, Any] | None:
    if not options.promo_code:
        return None
    return {"promo_code": options.promo_code, "discount_percent": options.discount_percent or 10}


def build(name: str, options: PlaybookOptions | None = None) -> Playbook:
    """The playbook's steps, default segment, goal and send window for these options."""
    o = options or PlaybookOptions()
    if o.promo_code and not o.discount_percent:
        o = PlaybookOptions(o.promo_code, 10, o.gap_days, o.url)
    if name == "winback":
        second = "gift" if o.promo_code else "news"
        return Playbook(
            name,
            DESCRIPTIONS[name],
            {"kind": "dormant"},
            {"kind": "purchase", "days": 30},
            "10:00-20:00",
            [
                {
                    "delay_seconds": 0,
                    "templates": _all("winback", "ask"),
                    "buttons": [{"kind": "exit_interview"}],
                    "offer": None,
                },
                {
                    "delay_seconds": int(o.gap_days * DAY),
                    "templates": _all("winback", second),
                    "buttons": _url_button("open_shop", o.url),
                    "offer": _offer(o),
                },
            ],
        )
    if name == "renewal":
        return Playbook(
            name,
            DESCRIPTIONS[name],
            {"kind": "subscription_expiring", "days": 7},
            {"kind": "renewal", "days": 14},
            "10:00-20:00",
            [
                {
                    "delay_seconds": 0,
                    "templates": _all("renewal", "remind"),
                    "buttons": _url_button("renew", o.url),
                    "offer": None,
                }
            ],
        )
    if name == "abandoned_cart":
        key = "remind_offer" if o.promo_code else "remind"
        return Playbook(
            name,
            DESCRIPTIONS[name],
            {"kind": "abandoned_cart", "days": 3},
            {"kind": "purchase", "days": 7},
            "09:00-21:00",
            [
                {
                    "delay_seconds": 0,
                    "templates": _all("abandoned_cart", key),
                    "buttons": _url_button("open_cart", o.url),
                    "offer": _offer(o),
                }
            ],
        )
    raise Invalid(
        f"unknown playbook {name!r}", code="unknown_playbook", details={"playbooks": sorted(DESCRIPTIONS)}
    )


NAMES = tuple(DESCRIPTIONS)
