"""Money, dates and counted phrases in the customer's language (Babel; plurals via Fluent)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency

from core.loyalty.rules import from_minor
from dialogs.i18n import Translator


def money(t: Translator, minor: int, currency: str) -> str:
    """12 500,00 ₽ / $125.00 in the translator's language."""
    return str(format_currency(from_minor(minor, currency), currency, locale=t.lang))


def unit(t: Translator, currency: str, amount: Decimal | int = 1) -> str:
    """A whole amount of the currency (1 ₽, $20) without decimals."""
    pattern = Locale.parse(t.lang).currency_formats["standard"].pattern
    whole = re.sub(r"\.0+", "", pattern.split(";")[0])
    return str(format_currency(amount, currency, format=whole, locale=t.lang, currency_digits=False))


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def day(t: Translator, when: datetime | date, tz: ZoneInfo | None = None, *, year: bool = True) -> str:
    """'1 March 2026' / '1 марта 2026 г.' (or without the year)."""
    if isinstance(when, datetime):
        when = when.astimezone(tz or ZoneInfo("UTC")).date()
    if year:
        return str(format_date(when, format="long", locale=t.lang))
    return str(format_skeleton("MMMMd", when, locale=t.lang))


def points(t: Translator, n: int) -> str:
    return t("points-n", n=n)


def signed_points(n: int) -> str:
    return f"+{n}" if n > 0 else f"−{abs(n)}" if n < 0 else "0"
