"""aiogram FSM storage in the database: a conversation in progress survives a restart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from storage.models import FsmState


def _key(key: StorageKey) -> str:
    parts = [str(key.bot_id), str(key.chat_id), str(key.user_id)]
    if key.thread_id:
        parts.append(f"t{key.thread_id}")
    if key.destiny != "default":
        parts.append(key.destiny)
    return ":".join(parts)


class SqlStorage(BaseStorage):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock

    async def _write(self, key: StorageKey, **values: Any) -> None:
        async with self._sessionmaker() as session, session.begin():
            row = await session.get(FsmState, _key(key))
            if row is None:
                row = FsmState(key=_key(key), state=None, data={}, updated_at=self._clock.now())
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = self._clock.now()
            if row.state is None and not row.data:
                await session.execute(delete(FsmState).where(FsmState.key == row.key))

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._sessionmaker() as session:
            return (
                await session.execute(select(FsmState.state).where(FsmState.key == _key(key)))
            ).scalar_one_or_none()

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._sessionmaker() as session:
            data = (
                await session.execute(select(FsmState.data).where(FsmState.key == _key(key)))
            ).scalar_one_or_none()
        return dict(data or {})

    async def close(self) -> None:
        return None
