"""What the one delivery worker moves: plain data in, Telegram's answer out.

A `Source` is one kind of proactive traffic (campaign messages, NPS surveys, exit interviews,
loyalty notices). It claims due rows with every send-time rule applied (contact budget,
quiet hours, throttles) and hands the worker `Outgoing` items: plain data, rendered into a
message by the kind's renderer (a dialog's function) only when it is sent. The worker paces
them through the flood gate in their lane, marks them on the wire, sends, and gives the
answers back to the source as `Result`s, in batches, in one transaction per turn.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.queue import QueueTable


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready to go: which row, to whom, in which lane, and the data to render."""

    kind: str
    id: int
    chat_id: int
    customer_id: int
    language: str
    lane: str = "campaign"  # campaign | paid
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.kind, self.id)


@dataclass(frozen=True, slots=True)
class Result:
    """What Telegram answered for one message."""

    kind: str
    id: int
    outcome: str  # sent | retry | failed
    message_id: int | None = None
    error_code: str | None = None
    error: str | None = None
    retry_after: float | None = None
    chat_id: int | None = None  # where it went (sources record it without reading it back)


@dataclass
class Claimed:
    ready: list[Outgoing] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    deferred: Counter[str] = field(default_factory=Counter)
    examined: int = 0


class Source(Protocol):
    kind: str
    queue: QueueTable  # its table, for lease renewal

    async def claim(self, session: AsyncSession, *, owner: str, limit: int) -> Claimed: ...

    async def wire(self, session: AsyncSession, ids: list[int], *, owner: str) -> set[int]: ...

    async def complete(self, session: AsyncSession, results: list[Result]) -> Counter[str]: ...

    async def release(self, session: AsyncSession, items: list[tuple[int, datetime]]) -> None: ...

    async def recover(self, session: AsyncSession, *, everything: bool) -> tuple[int, int]: ...
