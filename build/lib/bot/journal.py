"""Send journal: makes handling a stored update idempotent towards Telegram.

While an update is handled, each message-producing call is journaled as `inflight` just before
the request leaves. When the update is done, its journal rows are dropped in the same
transaction that marks it done. If the process dies mid-handler, the update is handled again at
the next start, and a call found in the journal may or may not have reached Telegram (which has
no way to ask): it is not repeated (no duplicate in the customer's chat); the handler stops
there and the update is marked with the uncertain call, so operators see it. Sends before it
were made too; a handler's database effects commit only with the update, so they are redone.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass, field
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from sqlalchemy import Table, bindparam, insert

from bot.sender import counts_against_flood
from core.clock import Clock
from storage.db import Database
from storage.hot import Prepared
from storage.models import SentJournal

log = logging.getLogger(__name__)

JOURNALED_EXTRA = {"CreateForumTopic"}

# Written before every send of an update: a hot statement (storage/hot.py).
JOURNAL_INFLIGHT = Prepared(
    insert(cast(Table, SentJournal.__table__)).values(
        update_id=bindparam("b_update_id"),
        seq=bindparam("b_seq"),
        method=bindparam("b_method"),
        status="inflight",
        result=None,
        started_at=bindparam("b_started_at"),
    )
)


class UncertainDelivery(Exception):
    """A send was on the wire when the process died; it is not repeated."""


@dataclass
class UpdateContext:
    update_id: int
    replay: bool
    seq: int = 0
    seqs: dict[int, int] = field(default_factory=dict)  # id(method) -> seq, stable over retries
    uncertain: list[str] = field(default_factory=list)
    written: set[int] = field(default_factory=set)  # seqs with an inflight row from this run


current_update: contextvars.ContextVar[UpdateContext | None] = contextvars.ContextVar(
    "current_update", default=None
)


def journaled(method: TelegramMethod[Any]) -> bool:
    return counts_against_flood(method) or type(method).__name__ in JOURNALED_EXTRA


class SendJournalMiddleware(BaseRequestMiddleware):
    """Sits inside the flood control, so `inflight` is written right before the wire."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        ctx = current_update.get()
        if ctx is None or not journaled(method):
            return await make_request(bot, method)
        name = type(method).__name__
        seq = ctx.seqs.get(id(method))
        if seq is None:
            ctx.seq += 1
            seq = ctx.seqs[id(method)] = ctx.seq
        if ctx.replay:
            async with self.db.read() as session:
                stored = await session.get(SentJournal, (ctx.update_id, seq))
            if stored is not None:
                ctx.uncertain.append(f"{name} #{seq}")
                raise UncertainDelivery(f"{name} #{seq} was in flight when the process stopped")
        if seq not in ctx.written:  # a retry after 429/5xx reuses the row
            # Committed before the request leaves; concurrent updates' rows share a commit.
            await self.db.write(
                [
                    (
                        JOURNAL_INFLIGHT,
                        {
                            "b_update_id": ctx.update_id,
                            "b_seq": seq,
                            "b_method": name,
                            "b_started_at": self.clock.now(),
                        },
                    )
                ]
            )
            ctx.written.add(seq)
        # No write after the send: the update's final transaction (Inbox._handle) drops the
        # journal. A crash in between leaves the row, i.e. uncertain, never resent.
        return await make_request(bot, method)
