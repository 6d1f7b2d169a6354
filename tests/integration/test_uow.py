"""The update's unit of work (storage/uow.py): one session, a transaction per use case, each
use case sees what is committed, a failed one leaves nothing behind, reads are read-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import create_engine, create_sessionmaker
from storage.uow import UnitOfWork


@pytest.fixture
async def db(db_url):  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    key = "SERIAL PRIMARY KEY" if engine.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE t (id {key}, v TEXT NOT NULL)"))
    database = create_sessionmaker(engine)
    yield database
    await database.close()
    await engine.dispose()


async def add(session: AsyncSession, *, v: str) -> None:
    await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": v})


async def add_then_fail(session: AsyncSession, *, v: str) -> None:
    await add(session, v=v)
    raise ValueError("the use case refused")


async def values(session: AsyncSession) -> list[str]:
    return list((await session.execute(text("SELECT v FROM t ORDER BY id"))).scalars())


async def test_use_cases_commit_one_by_one_and_a_failed_one_leaves_nothing(db) -> None:  # type: ignore[no-untyped-def]
    uow = UnitOfWork(db)
    await uow.write(add, v="first")
    with pytest.raises(ValueError, match="refused"):
        await uow.write(add_then_fail, v="lost")
    await uow.write(add, v="second")  # the session goes on after a failed use case
    async with db.read() as other:  # another session sees both commits at once
        assert await values(other) == ["first", "second"]
    async with db.begin() as other:  # committed elsewhere meanwhile...
        await other.execute(text("INSERT INTO t (v) VALUES ('elsewhere')"))
    assert await uow.read(values) == ["first", "second", "elsewhere"]  # ...seen by the next use case
    await uow.close()


async def test_a_closed_unit_of_work_refuses_to_run(db) -> None:  # type: ignore[no-untyped-def]
    uow = UnitOfWork(db)
    await uow.read(values)
    await uow.close()
    with pytest.raises(RuntimeError, match="closed"):
        await uow.read(values)
    with pytest.raises(RuntimeError, match="closed"):
        await uow.write(add, v="late")
    async with db.read() as other:
        assert await values(other) == []


async def test_a_write_in_a_read_fails_on_postgresql(db) -> None:  # type: ignore[no-untyped-def]
    if db.dialect_name != "postgresql":
        pytest.skip("READ ONLY transactions are PostgreSQL's (SQLite reads take a deferred BEGIN)")
    uow = UnitOfWork(db)
    with pytest.raises(DBAPIError, match="read-only transaction"):
        await uow.read(add, v="sneaked")
    async with db.read() as other:
        assert await values(other) == []
    await uow.close()


async def test_the_api_report_session_is_read_only_on_postgresql(db) -> None:  # type: ignore[no-untyped-def]
    """The analytics routes read through `_read_session`: the same read options as a use case's
    read (before, it hard-coded SQLite's and was a plain read-write transaction on PostgreSQL)."""
    from types import SimpleNamespace

    from api.routes.analytics import _read_session

    if db.dialect_name != "postgresql":
        pytest.skip("READ ONLY transactions are PostgreSQL's (SQLite reads take a deferred BEGIN)")
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(sessionmaker=db)))
    async with db() as session:
        reading = await _read_session(None, session, request)  # type: ignore[arg-type]
        assert await values(reading) == []
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await add(reading, v="sneaked")
