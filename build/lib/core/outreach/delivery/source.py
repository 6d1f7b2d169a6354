"""The outbox as one kind of traffic for the delivery worker (core.delivery)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.delivery import outgoing
from core.outreach.delivery.claiming import claim, mark_inflight, release
from core.outreach.delivery.common import QUEUE, Result
from core.outreach.delivery.completion import complete
from core.outreach.delivery.recovery import recover
from core.outreach.rules import OutreachRules


class CampaignSource:
    """Campaign messages as one kind of traffic for the delivery worker (core.delivery)."""

    kind = "campaign"
    queue = QUEUE

    def __init__(self, *, clock: Clock, rules: OutreachRules) -> None:
        self.clock, self.rules = clock, rules

    async def claim(self, session: AsyncSession, *, owner: str, limit: int) -> outgoing.Claimed:
        got = await claim(session, clock=self.clock, rules=self.rules, limit=limit, owner=owner)
        ready = [
            outgoing.Outgoing(
                kind=self.kind,
                id=o.outbox_id,
                chat_id=o.chat_id,
                customer_id=o.customer_id,
                language=o.language,
                lane="paid" if o.paid else "campaign",
                data={"text": o.text, "buttons": o.buttons, "recipient_id": o.recipient_id},
            )
            for o in got.ready
        ]
        return outgoing.Claimed(ready, got.skipped, got.deferred, got.examined)

    async def wire(self, session: AsyncSession, ids: list[int], *, owner: str) -> set[int]:
        return await mark_inflight(session, ids=ids, owner=owner)

    async def complete(self, session: AsyncSession, results: list[outgoing.Result]) -> Counter[str]:
        return await complete(
            session,
            clock=self.clock,
            rules=self.rules,
            results=[
                Result(
                    r.id,
                    r.outcome,
                    message_id=r.message_id,
                    error_code=r.error_code,
                    error=r.error,
                    retry_after=r.retry_after,
                )
                for r in results
            ],
        )

    async def release(self, session: AsyncSession, items: list[tuple[int, datetime]]) -> None:
        await release(session, items=items)

    async def recover(self, session: AsyncSession, *, everything: bool) -> tuple[int, int]:
        return await recover(session, clock=self.clock, everything=everything)
