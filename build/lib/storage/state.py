"""The bot_state key/value table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import BotState


async def set_state(session: AsyncSession, *, now: datetime, key: str, value: str) -> None:
    row = await session.get(BotState, key)
    if row is None:
        session.add(BotState(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


async def get_state(session: AsyncSession, *, key: str) -> str | None:
    return await session.scalar(select(BotState.value).where(BotState.key == key))
