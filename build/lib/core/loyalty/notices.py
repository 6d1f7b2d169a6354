"""Messages the engagement worker sends: expiry warnings, rewards, reminders, 'it shipped' news.

Every row names its contact policy:

- `proactive`: asks `core.contact_policy.may_contact` (opt-in, reachability, the weekly budget)
  and is counted; when only the budget is in the way it waits for it, until its deadline;
- `requested`: the customer asked for it (a break reminder, news of a feature they missed):
  sent past the weekly budget (but not after /stop), and counted so campaigns back off;
- `service`: about the customer's own action (a referral reward): neither asked nor counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import delivery
from core.clock import Clock
from core.contact_policy import (
    IN_FLIGHT_DELAY,
    block,
    in_flight,
    last_contact,
    lock_customers,
    may_contact,
    record_contact,
)
from core.customers import CustomerView, view
from core.delivery import QueueTable
from storage.models import Customer
from storage.models_loyalty import LoyaltyNotice

QUEUE = QueueTable("loyalty_notices", LoyaltyNotice, queued="queued", wire="sending")

PROACTIVE, REQUESTED, SERVICE = "proactive", "requested", "service"
POLICIES = (PROACTIVE, REQUESTED, SERVICE)


@dataclass(frozen=True, slots=True)
class Gate:
    """What to do with a message now: send, defer until `retry_at`, or skip for `reason`."""

    action: str
    reason: str | None = None
    retry_at: datetime | None = None


async def contact_gate(
    session: AsyncSession,
    *,
    customer_id: int,
    now: datetime,
    cap: timedelta,
    policy: str,
    deadline: datetime | None,
) -> Gate:
    """Decide whether a message under `policy` may go to this customer now."""
    if policy == PROACTIVE:
        ok, reason = await may_contact(session, customer_id=customer_id, now=now, cap=cap)
        if ok:
            return Gate("send")
        if reason == "frequency_cap":
            last = await last_contact(session, customer_id=customer_id)
            retry = (last or now) + cap
            if deadline is not None and retry > deadline:
                return Gate("skip", "contact_budget")
            return Gate("defer", reason, retry)
        return Gate("skip", reason)
    reason = block(await session.get(Customer, customer_id), opt_in=policy == REQUESTED)
    return Gate("skip", reason) if reason else Gate("send")


async def claim_recipient(
    session: AsyncSession,
    row: Any,
    *,
    now: datetime,
    cap: timedelta,
    policy: str,
    deadline: datetime | None,
    late_reason: str,
    reason_field: str = "skip_reason",
    queue: QueueTable | None = None,
    owner: str = "",
) -> CustomerView | None:
    """Gate one due queue row (a notice, survey or interview) for sending now.

    Returns the customer to send it to, with the row claimed by `owner` (core.delivery: not on
    the wire yet); or None with the row deferred (`not_before`) or skipped (`status`, and why in
    its `reason_field`).
    """
    gate = (
        Gate("skip", late_reason)
        if deadline is not None and deadline < now
        else await contact_gate(
            session, customer_id=row.customer_id, now=now, cap=cap, policy=policy, deadline=deadline
        )
    )
    table = queue or QUEUE
    if (
        gate.action == "send"
        and policy != SERVICE
        and await in_flight(session, [row.customer_id], exclude=(table.name, row.id))
    ):
        # Another proactive message to this person is on its way; it is counted when sent, and
        # then the budget decides about this one.
        gate = Gate("defer", "contact_in_flight", now + IN_FLIGHT_DELAY)
    if gate.action == "defer":
        row.not_before = gate.retry_at
        return None
    if gate.action == "skip":
        row.status = "skipped"
        setattr(row, reason_field, gate.reason)
        return None
    customer = await session.get(Customer, row.customer_id)
    assert customer is not None and customer.telegram_id is not None
    delivery.take(row, table, owner=owner, now=now)
    return view(customer)


@dataclass(frozen=True, slots=True)
class OutgoingNotice:
    id: int
    customer: CustomerView
    kind: str
    params: dict[str, Any]


async def queue_notice(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    kind: str,
    dedupe_key: str,
    policy: str,
    params: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    deadline: datetime | None = None,
) -> bool:
    """Queue a message once per `dedupe_key`; False if it was queued before."""
    if policy not in POLICIES:
        raise ValueError(f"unknown contact policy {policy!r}")
    exists = await session.scalar(select(LoyaltyNotice.id).where(LoyaltyNotice.dedupe_key == dedupe_key))
    if exists is not None:
        return False
    now = clock.now()
    try:
        async with session.begin_nested():
            session.add(
                LoyaltyNotice(
                    customer_id=customer_id,
                    kind=kind,
                    dedupe_key=dedupe_key,
                    params=params or {},
                    policy=policy,
                    status="queued",
                    not_before=not_before or now,
                    deadline=deadline,
                    attempts=0,
                    created_at=now,
                )
            )
    except IntegrityError:  # queued concurrently
        return False
    delivery.wake(session, "engagement")
    return True


async def claim_notices(
    session: AsyncSession, *, clock: Clock, cap: timedelta, limit: int = 20, owner: str = ""
) -> list[OutgoingNotice]:
    """Due notices that may go now (claimed by `owner`); the others are deferred or skipped."""
    now = clock.now()
    rows = await delivery.lock_due(session, QUEUE, now=now, limit=limit)
    await lock_customers(session, [r.customer_id for r in rows])
    out: list[OutgoingNotice] = []
    for row in rows:
        customer = await claim_recipient(
            session,
            row,
            now=now,
            cap=cap,
            policy=row.policy,
            deadline=row.deadline,
            late_reason="deadline passed",
            reason_field="error",
            owner=owner,
        )
        if customer is not None:
            row.attempts += 1
            out.append(OutgoingNotice(row.id, customer, row.kind, dict(row.params or {})))
    await session.flush()
    return out


async def notice_sent(session: AsyncSession, *, clock: Clock, notice_id: int) -> None:
    """Mark a notice sent and count it against the budget unless it was a service message."""
    row = await session.get(LoyaltyNotice, notice_id)
    if row is None:
        return
    row.status, row.sent_at, row.error = "sent", clock.now(), None
    row.owner, row.lease_until = None, None
    if row.policy != SERVICE:
        await record_contact(
            session,
            customer_id=row.customer_id,
            kind=f"loyalty:{row.kind}",
            ref=str(row.id),
            now=clock.now(),
        )
    await session.flush()


async def notice_failed(
    session: AsyncSession, *, notice_id: int, error: str, retry_at: datetime | None = None
) -> None:
    """A send failed: retry later (network, 429) or give up (refused, unreachable)."""
    values: dict[str, Any] = {"error": error[:500]}
    if retry_at is not None:
        values.update(status="queued", not_before=retry_at)
    else:
        values["status"] = "failed"
    await delivery.finish(session, QUEUE, [notice_id], **values)


async def recover_notices(session: AsyncSession, *, now: datetime, everything: bool = True) -> int:
    """What a dead worker left: claimed notices go back to the queue; ones on the wire may have
    arrived: never sent twice."""
    gone: list[tuple[int, int]] = []
    _, lost = await delivery.recover(
        session,
        QUEUE,
        now=now,
        everything=everything,
        lost={"status": "sent", "error": "in flight when the process stopped; not repeated"},
        lost_rows=gone,
    )
    if gone:  # they probably arrived: counted against the budget (service notices are not)
        ids = [i for i, _ in gone]
        rows = (
            await session.execute(
                select(LoyaltyNotice.id, LoyaltyNotice.policy, LoyaltyNotice.kind).where(
                    LoyaltyNotice.id.in_(ids)
                )
            )
        ).all()
        policies = {r[0]: r[1] for r in rows}
        kinds = {r[0]: r[2] for r in rows}
        for notice_id, customer_id in gone:
            if policies.get(notice_id) != SERVICE:
                await record_contact(
                    session,
                    customer_id=customer_id,
                    kind=f"loyalty:{kinds.get(notice_id)}",
                    ref=str(notice_id),
                    now=now,
                )
    return lost
