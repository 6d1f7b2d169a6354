"""Strict field types shared by the input models.

Input is never coerced: `false` is not 0, "12" is not 12, 12 is not "12". Each type carries
its own limits and a message a backend developer can act on.
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
)

EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}$"
ATTRIBUTE_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_TEXT = 1024
_INT64 = 2**63

_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
)
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_E164_RE = re.compile(r"\+[1-9]\d{6,14}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    if not _EMAIL_RE.fullmatch(value) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError("not a valid e-mail address (expected name@example.com)")
    return f"{local}@{domain.lower()}"


def _phone(value: str) -> str:
    compact = _PHONE_SEPARATORS.sub("", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164_RE.fullmatch(compact):
        raise ValueError(
            "not a valid phone number: use international format with the country code, e.g. +44 20 7946 0958"
        )
    return compact


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    zones = _known_zones()
    if zones:
        ok = value in zones
    else:  # no zone list on this system: fall back to loading it
        try:
            ZoneInfo(value)
            ok = True
        except (ZoneInfoNotFoundError, ValueError):
            ok = False
    if not ok:
        raise ValueError("not a known IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)")
    return value


def _iso_date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ValueError("a date as YYYY-MM-DD is expected")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a real calendar date") from None
    if parsed.year < 1900:
        raise ValueError("a date after 1900-01-01 is expected")
    return parsed


def _attribute_value(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError("integers must fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
        return value
    if isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_TEXT:
            raise ValueError(f"text values are limited to {MAX_ATTRIBUTE_TEXT} characters")
        return value
    raise ValueError("a value must be a string, number, boolean or null (null removes the key)")


def text(max_length: int) -> Any:
    """A non-blank string of at most `max_length` characters, surrounding spaces removed."""
    return Annotated[
        str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
    ]


Name = text(256)
Email = Annotated[
    str,
    Strict(),
    StringConstraints(strip_whitespace=True, min_length=3, max_length=320),
    AfterValidator(_email),
    Field(examples=["anna@example.com"]),
]
Phone = Annotated[
    str,
    Strict(),
    StringConstraints(strip_whitespace=True, min_length=7, max_length=32),
    AfterValidator(_phone),
    Field(description="International format; stored as E.164.", examples=["+49 151 23456789"]),
]
Language = Literal["en", "ru"]
Timezone = Annotated[
    str,
    Strict(),
    StringConstraints(max_length=64),
    AfterValidator(_timezone),
    Field(description="IANA time zone name.", examples=["Europe/Berlin"]),
]
Birthday = Annotated[
    date,
    BeforeValidator(_iso_date),
    Field(description="YYYY-MM-DD, not in the future.", examples=["1990-04-21"]),
]
AttributeKey = Annotated[str, StringConstraints(pattern=ATTRIBUTE_KEY_PATTERN)]
AttributeValue = Annotated[
    str | int | float | bool | None,
    PlainValidator(_attribute_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": MAX_ATTRIBUTE_TEXT},
                {"type": "integer"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]
Attributes = Annotated[
    dict[AttributeKey, AttributeValue],
    Field(
        max_length=MAX_ATTRIBUTES,
        description=f"Free-form facts about the customer (at most {MAX_ATTRIBUTES} keys). "
        "Merged into the stored ones; `null` removes a key.",
        examples=[{"plan": "pro", "orders": 3, "vip": False, "old_flag": None}],
    ),
]
