"""Customer input (strict) and output (mirrors core.customers.CustomerView) models."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.schemas.common import (
    Attributes,
    Birthday,
    Email,
    Input,
    Language,
    Name,
    Phone,
    Timezone,
)
from core.customers import CustomerData, CustomerView

# The earliest "today" anywhere on Earth is UTC+14: a birthday on that date is not in the future.
_LATEST_ZONE_OFFSET = timedelta(hours=14)


class CustomerUpsert(Input):
    """Fields a backend may set. Omitted or `null` fields are left as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Anna",
                    "last_name": "Schmidt",
                    "email": "anna@example.com",
                    "phone": "+49 151 23456789",
                    "language": "en",
                    "timezone": "Europe/Berlin",
                    "birthday": "1990-04-21",
                    "opted_in": True,
                    "attributes": {"plan": "pro", "orders": 3},
                }
            ]
        },
    )

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    language: Language | None = Field(default=None, description="Conversation language.")
    timezone: Timezone | None = None
    birthday: Birthday | None = None
    opted_in: StrictBool | None = Field(
        default=None, description="Whether proactive messages (win-back, reminders) may be sent."
    )
    attributes: Attributes | None = None

    def to_data(self, *, now: datetime) -> CustomerData:
        """The core's input; checks the rules that depend on the (injected) current time."""
        if self.birthday is not None and self.birthday > latest_today(now):
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("body", "birthday"),
                        "msg": "a birthday cannot be in the future",
                        "input": self.birthday.isoformat(),
                    }
                ]
            )
        return CustomerData(
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            phone=self.phone,
            language=self.language,
            timezone=self.timezone,
            birthday=self.birthday,
            opted_in=self.opted_in,
            attributes=dict(self.attributes) if self.attributes is not None else None,
        )


def latest_today(now: datetime) -> date:
    return (now + _LATEST_ZONE_OFFSET).date()


class CustomerOut(BaseModel):
    id: int
    telegram_id: int | None = Field(description="Set once the person has used the bot.")
    external_id: str | None
    first_name: str | None
    last_name: str | None
    username: str | None = Field(description="Telegram @username, if any.")
    email: str | None
    phone: str | None
    language: str
    language_chosen: bool
    timezone: str | None
    birthday: date | None
    opted_in: bool
    reachable: bool = Field(description="False when the bot is blocked or the account is gone.")
    unreachable_reason: str | None
    reachable_changed_at: datetime | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    onboarded_at: datetime | None
    attributes: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None
    erased: bool

    @classmethod
    def from_view(cls, customer: CustomerView) -> CustomerOut:
        return cls(**customer.as_dict())


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    total: int = Field(description="All customers, not just this page.")
    next_after: int | None = Field(description="Pass as `after` to get the next page; null on the last page.")


class LinkTokenOut(BaseModel):
    token: str = Field(description="One-time token; show it to the customer only as a link.")
    deep_link: str | None = Field(
        description="https://t.me/<bot>?start=<token>; null until the bot has started once."
    )
    start_command: str = Field(description="What to type in the bot if the link cannot be used.")
    expires_at: datetime
