"""The FSM storage in the database (bot/fsm_storage.py): what one process writes, another reads
(no cache with several processes); state and data survive; clearing removes the row."""

from __future__ import annotations

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select

from bot.fsm_storage import SqlStorage
from storage.models import FsmState

KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)


async def test_a_state_written_by_one_process_is_read_by_another(sessionmaker, clock) -> None:
    one = SqlStorage(sessionmaker, clock, cache=False)
    two = SqlStorage(sessionmaker, clock, cache=False)
    assert await two.get_state(KEY) is None and await two.get_data(KEY) == {}
    await one.set_state(KEY, "Nps:comment")
    await one.set_data(KEY, {"survey": 7, "since": "2026-01-15T12:00:00+00:00", "note": "ü"})
    assert await two.get_state(KEY) == "Nps:comment"
    assert await two.get_data(KEY) == {"survey": 7, "since": "2026-01-15T12:00:00+00:00", "note": "ü"}
    await two.set_state(KEY, None)
    await two.set_data(KEY, {})
    assert await one.get_state(KEY) is None and await one.get_data(KEY) == {}
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(FsmState)) == 0  # cleared: no row


async def test_with_the_cache_a_process_reads_its_own_writes_without_the_database(
    sessionmaker, clock
) -> None:
    cached = SqlStorage(sessionmaker, clock, cache=True)
    await cached.set_state(KEY, "Loyalty:birthday")
    async with sessionmaker.begin() as s:  # changed behind its back: the cache is this process's
        await s.execute(FsmState.__table__.update().values(state="Other:state"))
    assert await cached.get_state(KEY) == "Loyalty:birthday"
    assert await SqlStorage(sessionmaker, clock, cache=False).get_state(KEY) == "Other:state"
