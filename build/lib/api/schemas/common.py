"""Strict field types shared by the input models.

Input is never coerced: `false` is not 0, "12" is not 12, 12 is not "12". Each type carries
its own limits and a message a backend developer can act on.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
    field_validator,
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
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


MAX_ID = 2**31 - 1  # ids the API hands out (32-bit columns); a larger one cannot exist: 422
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def bad_character(value: str) -> str | None:
    """Why a text cannot be stored as is (NUL, a lone UTF-16 surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL characters (\\u0000)"
    if _LONE_SURROGATE.search(value):
        return "must not contain lone UTF-16 surrogates (\\ud800-\\udfff): send valid Unicode text"
    return None


def _clean_text(value: str) -> str:
    problem = bad_character(value)
    if problem:
        raise ValueError(problem)
    return value


def _find_bad_text(value: Any, path: str = "") -> tuple[str, str] | None:
    if isinstance(value, str):
        problem = bad_character(value)
        return (path, problem) if problem else None
    if isinstance(value, BaseModel):
        return None  # validated by its own class
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if isinstance(k, str) and (problem := bad_character(k)):
                return here, "keys " + problem
            found = _find_bad_text(v, here)
            if found:
                return found
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            found = _find_bad_text(v, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


class Input(BaseModel):
    """Base of every request body model: no text anywhere in it (nested free-form data and keys
    included) may carry NUL or a lone surrogate. PostgreSQL cannot store either, SQLite would
    store what no client can read back; both are a 422 naming the field.
    """

    @field_validator("*", mode="after")
    @classmethod
    def _no_bad_characters(cls, value: Any) -> Any:
        found = _find_bad_text(value)
        if found:
            where, problem = found
            raise ValueError(f"{where}: {problem}" if where else problem)
        return value


SafeStr = Annotated[str, Strict(), AfterValidator(_clean_text)]
"""A strict string without NUL or lone surrogates (add StringConstraints for length/pattern)."""


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
        str,
        Strict(),
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        AfterValidator(_clean_text),
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
    WithJsonSchema({"type": "string", "format": "date", "maxLength": 10}),
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


# ------------------------------------------------------------------ one format per field

_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})", re.ASCII
)


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime):  # already parsed (Python callers)
        return value
    if not isinstance(value, str) or not _DATETIME_RE.fullmatch(value):
        raise ValueError(
            "an ISO 8601 date-time with a zone is expected, e.g. 2026-01-15T10:30:00Z "
            "(numbers such as Unix timestamps are not accepted)"
        )
    return value


IsoDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_datetime),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 40}),
]
"""A date-time as an ISO 8601 string with a zone; never a number."""


def _iso_date_only(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ValueError("a date as YYYY-MM-DD is expected (numbers are not accepted)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a real calendar date") from None


IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date_only),
    WithJsonSchema({"type": "string", "format": "date", "maxLength": 10}),
]
"""A date as YYYY-MM-DD; never a number (end=0 is not 1970-01-01)."""

MAX_AMOUNT_MAJOR = Decimal(1_000_000_000)
"""The largest amount one order or refund may carry, in major units (1e9; with a currency of 3
decimals that is 10**12 minor units, so even millions of orders sum within 64 bits)."""
_AMOUNT_RE = re.compile(r"\d{1,10}(\.\d{1,4})?", re.ASCII)


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError('an amount is a JSON number or a decimal string such as "1499.90"')
    if isinstance(value, int):
        parsed = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("an amount must be a finite number")
        parsed = Decimal(repr(value))
    elif isinstance(value, Decimal):
        parsed = value
    elif isinstance(value, str):
        if not _AMOUNT_RE.fullmatch(value):
            raise ValueError(
                'an amount string is ASCII digits with an optional decimal point, e.g. "1499.90" '
                "(no spaces, signs, exponents or other digit systems)"
            )
        try:
            parsed = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            raise ValueError("not a decimal number") from None
    else:
        raise ValueError('an amount is a JSON number or a decimal string such as "1499.90"')
    if not parsed.is_finite():
        raise ValueError("an amount must be a finite number")
    if parsed <= 0:
        raise ValueError("an amount must be greater than 0")
    if parsed > MAX_AMOUNT_MAJOR:
        raise ValueError(f"an amount is at most {MAX_AMOUNT_MAJOR:,} (major units)")
    return parsed


AmountValue = Annotated[
    Decimal,
    PlainValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": int(MAX_AMOUNT_MAJOR)},
                {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,4})?$", "maxLength": 15},
            ]
        }
    ),
]
