"""The inbox's statements (bot/inbox.py): storing updates with the polling offset, the done
mark and the journal's drop. Hot statements (storage/hot.py): they run for every update."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.hot import Prepared
from storage.models import BotState, InboxLease, InboxUpdate, SentJournal

OFFSET_KEY = "update_offset"
INBOX = cast(Table, InboxUpdate.__table__)
JOURNAL = cast(Table, SentJournal.__table__)
LEASES = cast(Table, InboxLease.__table__)

# The done mark and the journal's drop run for every update: hot statements (storage/hot.py).
MARK_DONE = Prepared(
    update(INBOX)
    .where(INBOX.c.update_id == bindparam("b_update_id"))
    .values(status=bindparam("b_status"), handled_at=bindparam("b_handled_at"), error=bindparam("b_error"))
)
DROP_JOURNAL = Prepared(delete(JOURNAL).where(JOURNAL.c.update_id == bindparam("b_update_id")))
# Storing updates and the polling offset, hot (elsewhere, SQLite in memory, `store` writes
# through a session): one statement per dialect, as the upsert is written differently.
_STATE = cast(Table, BotState.__table__)


def _store_statements(insert_: Any) -> tuple[Prepared, Prepared]:
    store = Prepared(
        insert_(INBOX)
        .values(
            update_id=bindparam("b_update_id"),
            payload=bindparam("b_payload"),
            chat_id=bindparam("b_chat_id"),
            status="pending",
            attempts=0,
            received_at=bindparam("b_received_at"),
        )
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(INBOX.c.update_id)
    )
    offset = Prepared(
        insert_(_STATE)
        .values(key=bindparam("b_key"), value=bindparam("b_value"), updated_at=bindparam("b_at"))
        .on_conflict_do_update(
            index_elements=["key"],
            set_={"value": bindparam("b_value2"), "updated_at": bindparam("b_at2")},
        )
    )
    return store, offset


STORE_STATEMENTS = {"sqlite": _store_statements(sqlite_insert), "postgresql": _store_statements(pg_insert)}

# Several processes (PostgreSQL, bot/inbox_leases.py): a free chat's lease taken, given back,
# and the chat's pending updates read, once per update each, so hot too. Each runs as a
# statement of its own (`Database.write(..., alone=True)`: autocommit, one round trip), never
# inside a commit shared with other writes, where two processes' batches would take lease rows
# in batch order and wait on each other. Taking over a lapsed lease (rare) reads and decides
# in a session (`ChatLeases._acquire`).
LEASE_TAKE = Prepared(
    pg_insert(LEASES)
    .values(chat_key=bindparam("b_key"), owner=bindparam("b_owner"), lease_until=bindparam("b_until"))
    .on_conflict_do_nothing(index_elements=["chat_key"])
    .returning(LEASES.c.chat_key)
)
LEASE_DROP = Prepared(
    delete(LEASES).where(LEASES.c.chat_key == bindparam("b_key"), LEASES.c.owner == bindparam("b_owner"))
)


def _pending_statement(where: Any) -> Prepared:
    return Prepared(
        select(INBOX.c.update_id, INBOX.c.payload, INBOX.c.attempts)
        .where(where, INBOX.c.status == "pending")
        .order_by(INBOX.c.update_id)
        .limit(100)
    )


PENDING_OF_CHAT = _pending_statement(INBOX.c.chat_id == bindparam("b_id"))
PENDING_OF_UPDATE = _pending_statement(INBOX.c.update_id == bindparam("b_id"))


def chat_key(payload: dict[str, Any]) -> int | None:
    """The chat an update belongs to, so one chat's updates are handled in order."""
    for kind in ("message", "edited_message", "my_chat_member", "chat_member"):
        if kind in payload:
            return payload[kind].get("chat", {}).get("id")
    if "callback_query" in payload:
        cq = payload["callback_query"]
        msg = cq.get("message") or {}
        return msg.get("chat", {}).get("id") or cq.get("from", {}).get("id")
    return None
