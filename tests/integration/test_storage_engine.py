"""The storage layer's own rules: SQLite's one-trip statements, check-in rollback, group commit."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError

from storage import sqlite_driver
from storage.db import create_engine, create_sessionmaker


@pytest.fixture
async def db(db_url):  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    key = "SERIAL PRIMARY KEY" if engine.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE t (id {key}, v TEXT NOT NULL)"))
    yield create_sessionmaker(engine)
    await engine.dispose()


def statements(engine) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *a: seen.append(statement.split()[0].upper()),
    )
    return seen


async def test_rows_counts_and_ids_come_back_as_with_any_driver(db) -> None:
    async with db.begin() as s:
        r = await s.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert r.rowcount == 1
        await s.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])  # executemany
    async with db.read() as s:
        assert (await s.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all() == ["a", "b", "c"]
        assert (await s.execute(text("SELECT v FROM t WHERE id = 99"))).first() is None
    async with db.begin() as s:
        assert (await s.execute(text("UPDATE t SET v = 'z' WHERE id > 1"))).rowcount == 2
    with pytest.raises(IntegrityError):
        async with db.begin() as s:
            await s.execute(text("INSERT INTO t (id, v) VALUES (1, 'dup')"))
    async with db.read() as s:  # the failed transaction left nothing open behind it
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar_one() == 3


async def test_a_session_closed_without_commit_leaves_nothing_behind(db) -> None:
    async with db() as s:  # a session that writes and is closed without commit
        await s.execute(text("INSERT INTO t (v) VALUES ('lost')"))
    async with db.begin() as s:  # the same pooled connection can begin again
        await s.execute(text("INSERT INTO t (v) VALUES ('kept')"))
    async with db.read() as s:
        assert (await s.execute(text("SELECT v FROM t"))).scalars().all() == ["kept"]


async def test_sqlite_uses_the_one_trip_cursor_and_rolls_back_what_is_left_open(db) -> None:
    engine = db.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the one-trip cursor and its check-in rollback are SQLite's")
    assert sqlite_driver.SUPPORTED, "SQLAlchemy's asyncio adapter changed: storage/sqlite_driver.py"
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert type(raw.dbapi_connection) is sqlite_driver.OneTripConnection
        await conn.commit()  # SQLAlchemy holds no transaction now...

        def sneak(sync_conn) -> None:  # type: ignore[no-untyped-def]  # ...but SQLite does
            cursor = sync_conn.connection.dbapi_connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("INSERT INTO t (v) VALUES ('left open')")

        await conn.run_sync(sneak)
    # Checked in: the pool's reset saw the open transaction and rolled it back.
    async with db.begin() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('next')"))
    async with db.read() as s:
        assert (await s.execute(text("SELECT v FROM t"))).scalars().all() == ["next"]


async def test_concurrent_writes_share_one_commit_and_a_bad_one_fails_alone(db) -> None:
    engine = db.engine
    seen = statements(engine)

    def insert(value: str):  # type: ignore[no-untyped-def]
        return lambda session: session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})

    # Five writers queue before the committer runs: one transaction takes them all.
    await asyncio.gather(*(db.batched(insert(f"v{i}")) for i in range(5)))
    assert seen.count("INSERT") == 5
    assert seen.count("BEGIN") <= 1  # SQLite's BEGIN IMMEDIATE (PostgreSQL's is not a statement)

    good, bad = await asyncio.gather(
        db.batched(insert("good")),
        db.batched(lambda session: session.execute(text("INSERT INTO t (id, v) VALUES (1, 'dup')"))),
        return_exceptions=True,
    )
    assert good is None and isinstance(bad, IntegrityError)
    async with db.read() as s:
        values = (await s.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
    assert values == ["v0", "v1", "v2", "v3", "v4", "good"]


async def test_the_bots_plain_row_read_of_a_customer_matches_the_orm_view(sessionmaker, clock) -> None:
    from core import customers

    async with sessionmaker.begin() as s:
        await customers.touch_telegram_user(
            s,
            clock=clock,
            telegram_id=42,
            first_name="Ann",
            last_name=None,
            username="ann",
            language_code="ru",
        )
        (await customers.by_telegram_id(s, 42)).birthday = date(1990, 5, 1)
    async with sessionmaker.read() as s:
        plain = await customers.view_by_telegram_id(s, 42)
        orm = customers.view(await customers.by_telegram_id(s, 42))
        assert await customers.view_by_telegram_id(s, 43) is None
    assert plain == orm and plain.language == "ru" and plain.birthday == date(1990, 5, 1)
    assert plain.last_seen_at is not None and plain.last_seen_at.tzinfo is not None


async def test_the_inbox_stores_each_update_once_and_the_offset_with_it(sessionmaker, clock) -> None:
    from bot.inbox import OFFSET_KEY, Inbox
    from storage.models import BotState, InboxUpdate

    inbox = Inbox(bot=None, dispatcher=None, sessionmaker=sessionmaker, clock=clock)  # type: ignore[arg-type]

    def update(n: int) -> dict:
        return {
            "update_id": n,
            "message": {"message_id": n, "date": 0, "chat": {"id": 7, "type": "private"}, "text": f"m{n}"},
        }

    assert await inbox.store([update(1), update(2)], offset=3) == [1, 2]
    # Telegram redelivers 2 (it thought the webhook failed) together with a new one.
    assert await inbox.store([update(2), update(3)], offset=4) == [3]
    assert await inbox.store([update(3)]) == []
    async with sessionmaker.read() as s:
        rows = (
            await s.execute(
                select(InboxUpdate.update_id, InboxUpdate.chat_id, InboxUpdate.status).order_by(
                    InboxUpdate.update_id
                )
            )
        ).all()
        offset = await s.scalar(select(BotState.value).where(BotState.key == OFFSET_KEY))
    assert [tuple(r) for r in rows] == [(1, 7, "pending"), (2, 7, "pending"), (3, 7, "pending")]
    assert offset == "4"
