"""Recording what Telegram answered: deliveries set-wise, retries and failures row by row."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import customers as customer_svc
from core.clock import Clock
from core.outreach import webhooks
from core.outreach.delivery.common import _RECIPIENTS, _TABLE, UNREACHABLE_CODES, Result, _by_id, _release
from core.outreach.rules import OutreachRules, retry_delay
from core.outreach.sequences import stop
from storage.models import Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage


def _advance(recipient: CampaignRecipient, campaign: Campaign, step: int, now: datetime) -> None:
    recipient.sent_steps += 1
    recipient.first_sent_at = recipient.first_sent_at or now
    recipient.last_sent_at = now
    if recipient.status != "queued" or recipient.step != step:
        return  # the sequence ended meanwhile (a reply, a purchase): keep that
    if step + 1 < len(campaign.steps):
        recipient.status, recipient.step = "active", step + 1
        recipient.next_at = now + timedelta(seconds=campaign.steps[step + 1]["delay_seconds"])
    else:
        recipient.status, recipient.next_at = "done", None


async def complete(
    session: AsyncSession, *, clock: Clock, rules: OutreachRules, results: list[Result]
) -> Counter[str]:
    """Record what Telegram answered; schedule retries; end sequences that cannot continue.

    Deliveries (nearly all answers) are written set-wise; the rarer failures and retries go
    through the ORM, one row at a time.
    """
    now = clock.now()
    outcome: Counter[str] = Counter()
    t, rt = _TABLE, _RECIPIENTS
    rows = {
        r.id: r
        for r in (
            await session.execute(
                select(
                    t.c.id, t.c.status, t.c.campaign_id, t.c.recipient_id, t.c.customer_id, t.c.step
                ).where(t.c.id.in_({r.outbox_id for r in results}))
            )
        ).all()
    }
    live = [res for res in results if res.outbox_id in rows and rows[res.outbox_id].status == "inflight"]
    if not live:
        return outcome
    campaigns = await _by_id(session, Campaign, {rows[r.outbox_id].campaign_id for r in live})
    hooked = {
        rows[r.outbox_id].customer_id for r in live if campaigns[rows[r.outbox_id].campaign_id].webhook_url
    }
    external: dict[int, str | None] = {}
    if hooked:
        external = dict(
            (
                await session.execute(
                    select(Customer.id, Customer.external_id).where(Customer.id.in_(hooked))
                )
            ).all()
        )

    def who(row: Any) -> dict[str, Any]:
        return {
            "recipient_id": row.recipient_id,
            "customer_id": row.customer_id,
            "external_id": external.get(row.customer_id),
            "step": row.step + 1,
        }

    delivered = [res for res in live if res.outcome == "sent"]
    if delivered:
        b = bindparam
        await session.execute(
            t.update()
            .where(t.c.id == b("b_id"))
            .values(status="sent", sent_at=now, telegram_message_id=b("b_mid"), error_code=None, error=None),
            [{"b_id": res.outbox_id, "b_mid": res.message_id} for res in delivered],
        )
        # The sequence moves on to its next step, unless it ended meanwhile (a reply, a purchase).
        advance = []
        for res in delivered:
            row = rows[res.outbox_id]
            steps = campaigns[row.campaign_id].steps
            last = row.step + 1 >= len(steps)
            advance.append(
                {
                    "b_id": row.recipient_id,
                    "b_step": row.step,
                    "b_status": "done" if last else "active",
                    "b_next_step": row.step if last else row.step + 1,
                    "b_next_at": None
                    if last
                    else now + timedelta(seconds=steps[row.step + 1]["delay_seconds"]),
                }
            )
        here = (rt.c.status == "queued") & (rt.c.step == b("b_step"))
        await session.execute(
            rt.update()
            .where(rt.c.id == b("b_id"))
            .values(
                sent_steps=rt.c.sent_steps + 1,
                first_sent_at=func.coalesce(rt.c.first_sent_at, now),
                last_sent_at=now,
                status=case((here, b("b_status")), else_=rt.c.status),
                step=case((here, b("b_next_step")), else_=rt.c.step),
                next_at=case((here, b("b_next_at")), else_=rt.c.next_at),
            ),
            advance,
        )
        for res in delivered:
            row = rows[res.outbox_id]
            webhooks.enqueue(
                session,
                campaign=campaigns[row.campaign_id],
                event="sent",
                now=now,
                data={**who(row), "message_id": res.message_id},
            )
        outcome["sent"] += len(delivered)

    problems = [res for res in live if res.outcome != "sent"]
    if problems:
        orm_rows = await _by_id(session, OutboxMessage, {r.outbox_id for r in problems})
        recipients = await _by_id(session, CampaignRecipient, {r.recipient_id for r in orm_rows.values()})
        for res in problems:
            row = orm_rows[res.outbox_id]
            campaign, recipient = campaigns[row.campaign_id], recipients[row.recipient_id]
            await _release(session, row, campaign)
            row.error_code, row.error = res.error_code, (res.error or "")[:2000] or None
            if res.outcome == "retry" and row.attempts < rules.max_attempts:
                wait = max(
                    res.retry_after or 0.0,
                    retry_delay(row.attempts, base=rules.retry_base, maximum=rules.retry_max),
                )
                row.status, row.not_before = "queued", now + timedelta(seconds=wait)
                outcome["retry"] += 1
                continue
            code = res.error_code or "error"
            if res.outcome == "retry" and not code.endswith("_max_attempts"):
                code = f"{code}_max_attempts"
            row.status, row.error_code = "failed", code
            outcome["failed"] += 1
            if recipient.status in ("queued", "active"):
                await stop(session, recipient=recipient, status="failed", reason=code)
            if code in UNREACHABLE_CODES and row.chat_id is not None:
                await customer_svc.set_reachable(
                    session, clock=clock, telegram_id=row.chat_id, reachable=False, reason=code
                )
            webhooks.enqueue(
                session,
                campaign=campaign,
                event="failed",
                now=now,
                data={**who(row), "error_code": code, "error": row.error},
            )
    await session.flush()
    return outcome
