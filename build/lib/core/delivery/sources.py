"""The kinds of proactive traffic the delivery worker sends, besides campaign messages
(`core.outreach.delivery.CampaignSource`): NPS surveys, exit interviews and loyalty notices.

Each claims its due rows with its domain's send-time rules (contact budget, throttles,
deadlines), hands out plain data, and records Telegram's answers with its domain's functions.
403 marks the customer unreachable (never retried); 429/5xx/network errors are retried later.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import customers as customers_svc
from core import exit_interview, nps
from core.clock import Clock
from core.customers import CustomerView
from core.delivery.outgoing import Claimed, Outgoing, Result
from core.delivery.queue import QueueTable, mark_wire, release
from core.loyalty import notices as loyalty_notices
from core.nps.rules import NpsRules

RETRY_IN = timedelta(minutes=5)
UNREACHABLE = ("blocked", "deactivated", "not_started", "kicked")


def _who(customer: CustomerView) -> dict[str, str | None]:
    return {"first_name": customer.first_name, "username": customer.username, "timezone": customer.timezone}


class _Engagement:
    kind = ""
    queue: QueueTable

    def __init__(self, *, clock: Clock, cap: timedelta) -> None:
        self.clock, self.cap = clock, cap

    async def wire(self, session: AsyncSession, ids: list[int], *, owner: str) -> set[int]:
        return await mark_wire(session, self.queue, ids, owner=owner)

    async def release(self, session: AsyncSession, items: list[tuple[int, datetime]]) -> None:
        for item_id, not_before in items:
            await release(session, self.queue, [item_id], not_before=not_before)

    async def complete(self, session: AsyncSession, results: list[Result]) -> Counter[str]:
        counts: Counter[str] = Counter()
        now = self.clock.now()
        for r in results:
            if r.outcome == "sent":
                await self.sent(session, r)
            else:
                retry = r.outcome == "retry"
                reason = r.error_code or "error"
                if r.error_code in UNREACHABLE:
                    await self._unreachable(session, r)
                    reason = "unreachable"
                wait = max(RETRY_IN.total_seconds(), r.retry_after or 0.0)
                await self.failed(session, r, reason, now + timedelta(seconds=wait) if retry else None)
            counts[r.outcome] += 1
        return counts

    async def _unreachable(self, session: AsyncSession, r: Result) -> None:
        chat_id = r.chat_id  # the answer carries its chat: no read per answer
        if chat_id is not None:
            await customers_svc.set_reachable(
                session,
                clock=self.clock,
                telegram_id=chat_id,
                reachable=False,
                reason=r.error_code or "forbidden",
            )

    def _claimed(self, items: list[Any], data: Callable[[Any], dict[str, Any]]) -> Claimed:
        """Claimed rows as the worker's plain data (`data`: what the renderer needs besides who)."""
        return Claimed(
            [
                Outgoing(
                    self.kind,
                    i.id,
                    i.customer.telegram_id or 0,
                    i.customer.id,
                    i.customer.language,
                    data={**_who(i.customer), **data(i)},
                )
                for i in items
            ],
            examined=len(items),
        )

    async def sent(self, session: AsyncSession, r: Result) -> None:
        raise NotImplementedError

    async def failed(self, session: AsyncSession, r: Result, reason: str, retry_at: datetime | None) -> None:
        raise NotImplementedError


class SurveySource(_Engagement):
    kind = "survey"
    queue = nps.QUEUE

    def __init__(self, *, clock: Clock, cap: timedelta, rules: NpsRules) -> None:
        super().__init__(clock=clock, cap=cap)
        self.rules = rules

    async def claim(self, session: AsyncSession, *, owner: str, limit: int) -> Claimed:
        items = await nps.claim_surveys(
            session, clock=self.clock, rules=self.rules, cap=self.cap, limit=limit, owner=owner
        )
        return self._claimed(items, lambda i: {"trigger": i.trigger})

    async def sent(self, session: AsyncSession, r: Result) -> None:
        await nps.survey_sent(
            session,
            clock=self.clock,
            rules=self.rules,
            survey_id=r.id,
            chat_id=r.chat_id or 0,
            message_id=r.message_id,
        )

    async def failed(self, session: AsyncSession, r: Result, reason: str, retry_at: datetime | None) -> None:
        await nps.survey_failed(session, survey_id=r.id, reason=reason, retry_at=retry_at)

    async def recover(self, session: AsyncSession, *, everything: bool) -> tuple[int, int]:
        lost = await nps.recover_surveys(session, clock=self.clock, rules=self.rules, everything=everything)
        return 0, lost


class InterviewSource(_Engagement):
    kind = "interview"
    queue = exit_interview.QUEUE

    async def claim(self, session: AsyncSession, *, owner: str, limit: int) -> Claimed:
        items = await exit_interview.claim_interviews(
            session, clock=self.clock, cap=self.cap, limit=limit, owner=owner
        )
        return self._claimed(items, lambda i: {"event": i.event})

    async def sent(self, session: AsyncSession, r: Result) -> None:
        await exit_interview.interview_sent(
            session, clock=self.clock, interview_id=r.id, chat_id=r.chat_id or 0, message_id=r.message_id
        )

    async def failed(self, session: AsyncSession, r: Result, reason: str, retry_at: datetime | None) -> None:
        await exit_interview.interview_failed(session, interview_id=r.id, reason=reason, retry_at=retry_at)

    async def recover(self, session: AsyncSession, *, everything: bool) -> tuple[int, int]:
        return 0, await exit_interview.recover_interviews(session, clock=self.clock, everything=everything)


class NoticeSource(_Engagement):
    kind = "notice"
    queue = loyalty_notices.QUEUE

    async def claim(self, session: AsyncSession, *, owner: str, limit: int) -> Claimed:
        items = await loyalty_notices.claim_notices(
            session, clock=self.clock, cap=self.cap, limit=limit, owner=owner
        )
        return self._claimed(items, lambda i: {"notice": i.kind, "params": i.params})

    async def sent(self, session: AsyncSession, r: Result) -> None:
        await loyalty_notices.notice_sent(session, clock=self.clock, notice_id=r.id)

    async def failed(self, session: AsyncSession, r: Result, reason: str, retry_at: datetime | None) -> None:
        await loyalty_notices.notice_failed(
            session, notice_id=r.id, error=r.error or reason, retry_at=retry_at
        )

    async def recover(self, session: AsyncSession, *, everything: bool) -> tuple[int, int]:
        return 0, await loyalty_notices.recover_notices(session, now=self.clock.now(), everything=everything)
