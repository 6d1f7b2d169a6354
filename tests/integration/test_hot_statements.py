"""Hot statements (storage/hot.py): on a SQLite file they bypass the session, so they must give
exactly what a session gives (types converted the same way) and keep its transaction rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError

from core.customers import CustomerRead
from core.outreach import sequences
from storage.hot import Prepared
from storage.models import InboxUpdate, SentJournal

INBOX = InboxUpdate.__table__
JOURNAL = SentJournal.__table__
T0 = datetime(2026, 12, 7, 14, 0, 0, 123456, tzinfo=UTC)

STORE = Prepared(
    insert(INBOX)
    .values(
        update_id=bindparam("b_id"),
        payload=bindparam("b_payload"),
        chat_id=bindparam("b_chat"),
        status="pending",
        attempts=0,
        received_at=bindparam("b_at"),
    )
    .returning(INBOX.c.update_id)
)
READ = Prepared(select(INBOX).where(INBOX.c.update_id == bindparam("b_id")))
MARK = Prepared(
    update(INBOX)
    .where(INBOX.c.update_id == bindparam("b_id"))
    .values(status="done", handled_at=bindparam("b_at"))
)
JOURNAL_ROW = Prepared(
    insert(JOURNAL).values(
        update_id=bindparam("b_id"),
        seq=bindparam("b_seq"),
        method="SendMessage",
        status="inflight",
        result=None,
        started_at=bindparam("b_at"),
    )
)
DROP = Prepared(delete(JOURNAL).where(JOURNAL.c.update_id == bindparam("b_id")))


async def test_sqlite_file_and_postgresql_use_the_hot_connection(sessionmaker, migrated_db_url: str) -> None:
    from storage.hot import PgHot, SqliteHot

    kind = SqliteHot if migrated_db_url.startswith("sqlite") else PgHot
    assert isinstance(sessionmaker.hot, kind)


async def test_rows_and_types_match_a_session(sessionmaker) -> None:
    db = sessionmaker
    payload = {"update_id": 7, "message": {"text": "привет 👋", "chat": {"id": 42}}}
    (returned,) = await db.write([(STORE, {"b_id": 7, "b_payload": payload, "b_chat": 42, "b_at": T0})])
    assert returned == [{"update_id": 7}]
    (hot,) = await db.fetch(READ, {"b_id": 7})
    async with db() as session:
        row = (await session.execute(select(INBOX).where(INBOX.c.update_id == 7))).mappings().one()
    assert hot == dict(row)
    assert hot["payload"] == payload and hot["received_at"] == T0 and hot["received_at"].tzinfo is not None
    assert hot["handled_at"] is None

    await db.write([(MARK, {"b_id": 7, "b_at": T0 + timedelta(seconds=1)})])
    (hot,) = await db.fetch(READ, {"b_id": 7})
    assert hot["status"] == "done" and hot["handled_at"] == T0 + timedelta(seconds=1)
    assert await db.fetch(READ, {"b_id": 8}) == []


async def test_a_failing_step_rolls_back_its_whole_transaction(sessionmaker) -> None:
    db = sessionmaker
    await db.write([(JOURNAL_ROW, {"b_id": 1, "b_seq": 1, "b_at": T0})])
    with pytest.raises(IntegrityError):
        await db.write(
            [
                (JOURNAL_ROW, {"b_id": 2, "b_seq": 1, "b_at": T0}),
                (JOURNAL_ROW, {"b_id": 1, "b_seq": 1, "b_at": T0}),  # the same key again
            ]
        )
    async with db() as session:
        keys = (await session.execute(select(JOURNAL.c.update_id, JOURNAL.c.seq))).all()
    assert [tuple(k) for k in keys] == [(1, 1)]


async def test_a_bad_write_in_a_shared_commit_fails_only_its_caller(sessionmaker) -> None:
    import asyncio

    db = sessionmaker
    await db.write([(JOURNAL_ROW, {"b_id": 1, "b_seq": 1, "b_at": T0})])
    results = await asyncio.gather(
        db.write([(JOURNAL_ROW, {"b_id": 3, "b_seq": 1, "b_at": T0})]),
        db.write([(JOURNAL_ROW, {"b_id": 1, "b_seq": 1, "b_at": T0})]),  # duplicate
        db.write([(JOURNAL_ROW, {"b_id": 4, "b_seq": 1, "b_at": T0}), (DROP, {"b_id": 3})]),
        return_exceptions=True,
    )
    assert results[0] == [[]] and results[2] == [[], []]
    assert isinstance(results[1], IntegrityError)
    async with db() as session:
        ids = sorted(r[0] for r in await session.execute(select(JOURNAL.c.update_id)))
    assert ids == [1, 4]


async def test_failed_writes_leave_the_hot_connections_clean(sessionmaker) -> None:
    """A write of one statement runs without BEGIN/COMMIT on PostgreSQL and the pool skips
    asyncpg's reset query: a failure, alone or mid-transaction, must still leave every pooled
    connection outside any transaction, ready for the next caller."""
    import asyncio

    db = sessionmaker
    await db.write([(JOURNAL_ROW, {"b_id": 1, "b_seq": 1, "b_at": T0})])
    duplicate = (JOURNAL_ROW, {"b_id": 1, "b_seq": 1, "b_at": T0})
    for _ in range(2):  # more failures than the pool has connections, both shapes
        alone = [db.write([duplicate], alone=True) for _ in range(6)]
        inside = [
            db.write([(JOURNAL_ROW, {"b_id": 10 + i, "b_seq": 1, "b_at": T0}), duplicate], alone=True)
            for i in range(6)
        ]
        results = await asyncio.gather(*alone, *inside, return_exceptions=True)
        assert all(isinstance(r, IntegrityError) for r in results), results
    assert (
        await asyncio.gather(
            *(
                db.write([(JOURNAL_ROW, {"b_id": 20 + i, "b_seq": 1, "b_at": T0})], alone=True)
                for i in range(6)
            )
        )
        == [[[]]] * 6
    )
    async with db() as session:
        ids = sorted(r[0] for r in await session.execute(select(JOURNAL.c.update_id)))
    assert ids == [1, 20, 21, 22, 23, 24, 25]  # nothing of the failed transactions
    if db.dialect_name == "postgresql":
        async with db() as session:
            open_ = await session.scalar(
                select(func.count())
                .select_from(sql_text("pg_stat_activity"))
                .where(sql_text("datname = current_database() AND state LIKE 'idle in transaction%'"))
            )
        assert open_ == 0


async def test_customer_read_matches_the_model(sessionmaker, clock) -> None:
    from core import customers

    db = sessionmaker
    async with db.begin() as session:
        made, _ = await customers.touch_telegram_user(
            session, clock=clock, telegram_id=555, first_name="Ана", language_code="ru"
        )
    read = CustomerRead({"awaits": sequences.awaits_reply_flag})
    view, flags = await read(db, 555)
    assert view == made
    assert flags == {"awaits": False}
    assert view is not None and view.last_seen_at is not None and view.last_seen_at.tzinfo is not None
    assert await read(db, 556) == (None, {})


def test_in_lists_are_refused() -> None:
    from sqlalchemy.dialects import sqlite

    with pytest.raises(ValueError, match="IN lists"):
        Prepared(select(INBOX).where(INBOX.c.update_id.in_([1, 2]))).compiled(sqlite.dialect())


async def test_relay_into_a_carded_case_is_the_same_rows_as_in_a_session(sessionmaker, clock) -> None:
    """The first message queues the card (a session); the next ones are hot statements; a
    replayed message queues nothing; each post points at its own message."""
    from core import customers, support
    from storage.models_support import GroupPost, SupportMessage

    db = sessionmaker
    async with db.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=9, first_name="A")
        case, _ = await support.open_case(s, clock=clock, customer_id=c.id, group_chat_id=-100, origin="menu")
    faq = {"ids": ["delivery"], "lang": "en"}
    for mid, text in ((5, "hi"), (6, "there 👋"), (6, "there 👋"), (7, None)):
        await support.relay_into_case(
            db,
            clock=clock,
            case=case,
            chat_id=9,
            message_id=mid,
            kind="text" if text else "photo",
            text=text,
            faq_suggestions=faq if mid == 6 else None,
        )
    async with db() as s:
        assert await support.queue_depth(s) == {-100: 4}  # the card and three messages, once each
        messages = {m.customer_message_id: m for m in (await s.execute(select(SupportMessage))).scalars()}
        posts = (await s.execute(select(GroupPost).order_by(GroupPost.id))).scalars().all()
    assert [p.kind for p in posts] == ["card", "copy", "copy", "copy"]
    for post, mid in zip(posts[1:], (5, 6, 7), strict=True):
        assert post.support_message_id == messages[mid].id
        assert post.payload["message_id"] == mid and post.status == "queued" and post.attempts == 0
        assert post.created_at == clock.now() and post.customer_id == c.id and post.case_id == case.id
    assert posts[2].payload["faq"] == faq and posts[2].payload["text"] == "there 👋"
    assert messages[7].text is None and messages[7].kind == "photo" and messages[6].direction == "in"


async def test_staff_messages_hot_or_not_record_what_staff_reply_records(sessionmaker, clock) -> None:
    from core import customers, support
    from storage.models_support import SupportCase, SupportMessage

    db = sessionmaker
    async with db.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=31, first_name="B")
        case, _ = await support.open_case(s, clock=clock, customer_id=c.id, group_chat_id=-100, origin="menu")
        await support.set_thread(s, clock=clock, customer_id=c.id, group_chat_id=-100, thread_id=77, name="B")

    def say(mid: int, *, note: bool = False):  # type: ignore[no-untyped-def]
        return support.record_staff_message(
            db,
            clock=clock,
            group_chat_id=-100,
            thread_id=77,
            topic_message_id=mid,
            staff_id=5,
            kind="text",
            text=f"m{mid}",
            note=note,
        )

    first = await say(1)  # the case's first staff reply: in a session (status -> open)
    second = await say(2)  # hot
    note = await say(3, note=True)  # hot
    assert first and second and note
    assert first.case and second.case and first.case.id == second.case.id == note.case.id == case.id
    assert second.case.status == "open" and second.case.first_staff_reply_at == clock.now()
    assert (
        await support.record_staff_message(
            db,
            clock=clock,
            group_chat_id=-100,
            thread_id=78,
            topic_message_id=9,
            staff_id=5,
            kind="text",
            text="x",
        )
        is None
    )
    async with db.begin() as s:
        await support.close_case(s, clock=clock, customer_id=c.id, closed_by=5)
    after = await say(4)  # no active case: staff writing first opens the next one
    assert after and after.case and after.case.id != case.id and after.case.number == 2
    async with db() as s:
        rows = (await s.execute(select(SupportMessage).order_by(SupportMessage.id))).scalars().all()
        cases = (await s.execute(select(SupportCase).order_by(SupportCase.id))).scalars().all()
    assert [(m.topic_message_id, m.direction, m.case_id, m.customer_chat_id, m.staff_id) for m in rows] == [
        (1, "out", case.id, 31, 5),
        (2, "out", case.id, 31, 5),
        (3, "note", case.id, 31, 5),
        (4, "out", after.case.id, 31, 5),
    ]
    assert [m.id for m in rows] == [
        first.support_message_id,
        second.support_message_id,
        note.support_message_id,
        after.support_message_id,
    ]
    assert rows[1].created_at == clock.now() and rows[1].text == "m2"
    assert [x.status for x in cases] == ["closed", "open"]


async def test_postgres_hot_unreachable_raises_what_a_session_raises() -> None:
    """The server down at the first hot call (the pool not opened yet): the caller sees
    sqlalchemy's OperationalError, as from a session, not a raw socket error; the next call
    tries to connect again."""
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
    from sqlalchemy.exc import OperationalError

    from storage.hot import PgHot

    dialect = pg_asyncpg.dialect()
    dialect.dbapi = dialect.import_dbapi()  # as an engine sets it up
    hot = PgHot({"host": "127.0.0.1", "port": 1, "user": "nobody", "database": "none", "timeout": 2}, dialect)
    for _ in range(2):
        with pytest.raises(OperationalError):
            await hot.fetch(READ, {"b_id": 1})
    with pytest.raises(OperationalError):
        await hot.transaction([(MARK, {"b_id": 1, "b_at": T0})])
    await hot.close()
