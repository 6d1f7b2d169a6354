"""aiogram FSM storage in the database: a conversation in progress survives a restart.

Reads are served from a write-through in-memory cache when this process is the only writer of
these rows (one process on SQLite), so the state lookup aiogram makes for every update costs no
database round trip. With several processes (`cache=False`) a customer's next update may be
handled by another process, so every read goes to the database.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, cast

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.clock import Clock
from storage.db import Database
from storage.hot import Prepared
from storage.models import FsmState

CACHE_SIZE = 100_000
_LOAD = Prepared(select(FsmState.state, FsmState.data).where(FsmState.key == bindparam("b_key")))
_TABLE = cast(Table, FsmState.__table__)
_DROP = Prepared(delete(_TABLE).where(_TABLE.c.key == bindparam("b_key")))


def _upsert(insert_: Any) -> Prepared:
    """Write a key's state and data in one statement (the upsert is written per dialect)."""
    return Prepared(
        insert_(_TABLE)
        .values(
            key=bindparam("b_key"),
            state=bindparam("b_state"),
            data=bindparam("b_data"),
            updated_at=bindparam("b_at"),
        )
        .on_conflict_do_update(
            index_elements=["key"],
            set_={
                "state": bindparam("b_state2"),
                "data": bindparam("b_data2"),
                "updated_at": bindparam("b_at2"),
            },
        )
    )


_UPSERT = {"sqlite": _upsert(sqlite_insert), "postgresql": _upsert(pg_insert)}


def _key(key: StorageKey) -> str:
    parts = [str(key.bot_id), str(key.chat_id), str(key.user_id)]
    if key.thread_id:
        parts.append(f"t{key.thread_id}")
    if key.destiny != "default":
        parts.append(key.destiny)
    return ":".join(parts)


class SqlStorage(BaseStorage):
    def __init__(self, sessionmaker: Database, clock: Clock, *, cache: bool = True) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._use_cache = cache
        self._cache: OrderedDict[str, tuple[str | None, dict[str, Any]]] = OrderedDict()

    async def _load(self, key: str) -> tuple[str | None, dict[str, Any]]:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        # A hot read (storage/hot.py): aiogram asks for the state of every update, and with
        # several processes (no cache) this read is on every update's path.
        rows = await self._sessionmaker.fetch(_LOAD, {"b_key": key})
        value = (rows[0]["state"], dict(rows[0]["data"] or {})) if rows else (None, {})
        self._remember(key, value)
        return value

    def _remember(self, key: str, value: tuple[str | None, dict[str, Any]]) -> None:
        if not self._use_cache:
            return
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    async def _write(self, key: StorageKey, *, state: Any = ..., data: Any = ...) -> None:
        k = _key(key)
        current_state, current_data = await self._load(k)
        new_state = current_state if state is ... else state
        new_data = current_data if data is ... else dict(data)
        if (new_state, new_data) == (current_state, current_data):
            return
        # One statement, no session: a hot write (storage/hot.py) sharing its commit.
        if new_state is None and not new_data:
            await self._sessionmaker.write([(_DROP, {"b_key": k})])
        else:
            now = self._clock.now()
            values = {"b_key": k, "b_state": new_state, "b_data": new_data, "b_at": now}
            values |= {"b_state2": new_state, "b_data2": new_data, "b_at2": now}
            await self._sessionmaker.write([(_UPSERT[self._sessionmaker.dialect_name], values)])
        self._remember(k, (new_state, new_data))

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._load(_key(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._load(_key(key)))[1])

    async def close(self) -> None:
        self._cache.clear()
