"""Customer reads: the customer as a view, found by Telegram id (plain rows or one hot statement
with the flags the bot needs on every update) or by a backend's id, and pages of customers.
`core.customers` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from storage.db import Database
from storage.hot import Prepared, Row
from storage.models import Customer


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: int
    telegram_id: int | None
    external_id: str | None
    first_name: str | None
    last_name: str | None
    username: str | None
    email: str | None
    phone: str | None
    language: str
    language_chosen: bool
    timezone: str | None
    birthday: date | None
    opted_in: bool
    reachable: bool
    unreachable_reason: str | None
    reachable_changed_at: datetime | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    onboarded_at: datetime | None
    attributes: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    erased: bool = False

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or (f"@{self.username}" if self.username else f"#{self.id}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def view(row: Customer, *, default_language: str = "en") -> CustomerView:
    return CustomerView(
        id=row.id,
        telegram_id=row.telegram_id,
        external_id=row.external_id,
        first_name=row.first_name,
        last_name=row.last_name,
        username=row.username,
        email=row.email,
        phone=row.phone,
        language=row.language or default_language,
        language_chosen=row.language_chosen,
        timezone=row.timezone,
        birthday=row.birthday,
        opted_in=row.opted_in,
        reachable=row.reachable,
        unreachable_reason=row.unreachable_reason,
        reachable_changed_at=row.reachable_changed_at,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        onboarded_at=row.onboarded_at,
        attributes=dict(row.attributes or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        erased=row.erased_at is not None,
    )


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> Customer | None:
    return (
        await session.execute(select(Customer).where(Customer.telegram_id == telegram_id))
    ).scalar_one_or_none()


async def view_by_telegram_id(session: AsyncSession, telegram_id: int) -> CustomerView | None:
    """The customer as a view, read as a plain row: no ORM object is built (the bot asks this
    on every update it handles)."""
    table = Customer.__table__
    row = (await session.execute(select(table).where(table.c.telegram_id == telegram_id))).first()
    return view(row) if row is not None else None  # type: ignore[arg-type]  # same names as the model


class CustomerRead:
    """`view_by_telegram_id` plus flags other parts of the bot need on every update, computed in
    the same statement: each flag is an SQL expression built from the customer id column (e.g.
    an EXISTS over the customer's campaign messages). Built once; a hot statement
    (storage/hot.py), since the bot makes it for every update it handles."""

    def __init__(self, flags: Mapping[str, Callable[[Any], ColumnElement[Any]]]) -> None:
        table = Customer.__table__
        self.labels = list(flags)
        self.prepared = Prepared(
            select(
                table, *(flags[name](table.c.id).label(f"flag_{i}") for i, name in enumerate(self.labels))
            ).where(table.c.telegram_id == bindparam("b_telegram_id"))
        )

    async def __call__(self, db: Database, telegram_id: int) -> tuple[CustomerView | None, dict[str, Any]]:
        rows = await db.fetch(self.prepared, {"b_telegram_id": telegram_id})
        if not rows:
            return None, {}
        row = rows[0]
        flags = {name: row[f"flag_{i}"] for i, name in enumerate(self.labels)}
        return view(Row(row)), flags  # type: ignore[arg-type]  # same names as the model


async def get_customer(
    session: AsyncSession, *, customer_id: int | None = None, external_id: str | None = None
) -> CustomerView:
    """One customer by internal id or external id."""
    stmt = select(Customer)
    if customer_id is not None:
        stmt = stmt.where(Customer.id == customer_id)
    else:
        stmt = stmt.where(Customer.external_id == external_id)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("customer not found", code="customer_not_found")
    return view(row)


async def list_customers(
    session: AsyncSession, *, limit: int = 50, after_id: int = 0
) -> tuple[list[CustomerView], int]:
    """A page of customers ordered by id (keyset paging) and the total count."""
    rows = (
        await session.execute(
            select(Customer).where(Customer.id > after_id).order_by(Customer.id).limit(limit)
        )
    ).scalars()
    total = (await session.execute(select(func.count()).select_from(Customer))).scalar_one()
    return [view(r) for r in rows], int(total)
