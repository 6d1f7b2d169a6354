"""Where a customer's sequence stands, and what ends it: a reply, a purchase, a cancellation.

Recipient status: `active` (waiting for its next step) and `queued` (that step is in the
outbox) are in progress; `done` (every step sent), `held_out`, `replied`, `purchased`,
`opted_out`, `skipped`, `failed` and `cancelled` are final.
Conversions are recorded on the row whatever its status, holdout included, so uplift can be
measured.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import exit_interview
from core.clock import Clock
from core.outreach import webhooks
from storage.models import Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage

IN_PROGRESS = ("active", "queued")
REPLY, PURCHASE, OPT_OUT = "reply", "purchase", "opt_out"
EXIT_CONDITIONS = (REPLY, PURCHASE, OPT_OUT)
GOALS = ("purchase", "renewal")


def exit_on(campaign: Campaign) -> tuple[str, ...]:
    return tuple(campaign.rules.get("exit_on", EXIT_CONDITIONS))


def goal_of(campaign: Campaign) -> tuple[str, int]:
    goal = campaign.rules.get("goal") or {}
    return str(goal.get("kind", "purchase")), int(goal.get("days", 30))


async def stop(
    session: AsyncSession, *, recipient: CampaignRecipient, status: str, reason: str | None = None
) -> None:
    """End this customer's sequence; steps not yet on the wire are cancelled."""
    recipient.status = status
    recipient.stop_reason = reason or status
    recipient.next_at = None
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient_id == recipient.id, OutboxMessage.status.in_(("queued", "held")))
        .values(status="cancelled", error_code=reason or status)
    )


def _who(customer: Customer | None, recipient: CampaignRecipient) -> dict[str, Any]:
    return {
        "recipient_id": recipient.id,
        "customer_id": recipient.customer_id,
        "external_id": customer.external_id if customer else None,
    }


def _unanswered(customer_id: int | ColumnElement[int]) -> tuple[ColumnElement[bool], ...]:
    """Campaign messages reached this customer and they have not replied since."""
    return (
        CampaignRecipient.customer_id == customer_id,
        CampaignRecipient.last_sent_at.is_not(None),
        CampaignRecipient.replied_at.is_(None),
    )


def awaits_reply_flag(customer_id: ColumnElement[int]) -> ColumnElement[bool]:
    """`awaits_reply` as an SQL expression over a customer id column, for the customer read the
    bot makes on every update (one statement for both: see core.customers.view_with_flags)."""
    return exists().where(*_unanswered(customer_id))


async def awaits_reply(session: AsyncSession, *, customer_id: int) -> bool:
    """Whether a message from this customer could be a reply `on_reply` records (by index: the
    bot asks on every update; nearly always the answer is no and nothing needs writing)."""
    found = await session.scalar(select(CampaignRecipient.id).where(*_unanswered(customer_id)).limit(1))
    return found is not None


async def on_reply(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    choice: str | None = None,
    recipient_id: int | None = None,
) -> list[int]:
    """The customer wrote to us or pressed a button: sequences that reached them stop here.

    A reply counts for a campaign whose message reached them within its goal window. Returns
    the campaigns that recorded a reply.
    """
    now = clock.now()
    stmt = (
        select(CampaignRecipient, Campaign)
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(*_unanswered(customer_id))
    )
    if recipient_id is not None:
        stmt = stmt.where(CampaignRecipient.id == recipient_id)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return []
    customer = await session.get(Customer, customer_id)
    replied: list[int] = []
    for recipient, campaign in rows:
        _, days = goal_of(campaign)
        assert recipient.last_sent_at is not None
        if now - recipient.last_sent_at > timedelta(days=days):
            continue
        recipient.replied_at = now
        recipient.reply_choice = choice
        if recipient.status in IN_PROGRESS and REPLY in exit_on(campaign):
            await stop(session, recipient=recipient, status="replied")
        webhooks.enqueue(
            session,
            campaign=campaign,
            event="replied",
            now=now,
            data={**_who(customer, recipient), "choice": choice},
        )
        replied.append(campaign.id)
    await session.flush()
    return replied


async def on_goal(
    session: AsyncSession,
    *,
    clock: Clock,
    customer_id: int,
    goal: str,
    at: datetime,
    ref: str | None,
    amount: int | None,
) -> list[int]:
    """A purchase (or renewal) at `at`: conversions for campaigns that targeted the customer
    before it, within their goal window; sequences still running stop. Returns converted
    campaign ids."""
    now = clock.now()
    rows = (
        await session.execute(
            select(CampaignRecipient, Campaign)
            .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
            .where(CampaignRecipient.customer_id == customer_id, CampaignRecipient.targeted_at <= at)
        )
    ).all()
    if not rows:
        return []
    customer = await session.get(Customer, customer_id)
    converted: list[int] = []
    for recipient, campaign in rows:
        if recipient.status in IN_PROGRESS and PURCHASE in exit_on(campaign):
            await stop(session, recipient=recipient, status="purchased")
        kind, days = goal_of(campaign)
        if kind != goal or recipient.converted_at is not None:
            continue
        if at > recipient.targeted_at + timedelta(days=days):
            continue
        recipient.converted_at = at
        recipient.conversion_ref = ref[:160] if ref else None
        recipient.conversion_amount = amount
        converted.append(campaign.id)
        if not recipient.holdout:
            webhooks.enqueue(
                session,
                campaign=campaign,
                event="converted",
                now=now,
                data={
                    **_who(customer, recipient),
                    "ref": ref,
                    "amount_minor": amount,
                    "converted_at": at.isoformat(),
                },
            )
    await session.flush()
    return converted


async def record_choice(
    session: AsyncSession, *, clock: Clock, customer_id: int, recipient_id: int, choice: str
) -> bool:
    """A button on a campaign message was pressed: a reply with an answer (and, like any reply,
    the end of other sequences that reached them). False if the message is not theirs (a
    forwarded keyboard) or its campaign is gone."""
    choice = choice[:32]
    row = await session.get(CampaignRecipient, recipient_id)
    ours = row is not None and row.customer_id == customer_id
    if ours:
        await on_reply(
            session, clock=clock, customer_id=customer_id, choice=choice, recipient_id=recipient_id
        )
    await on_reply(session, clock=clock, customer_id=customer_id)
    if row is not None and ours and row.reply_choice is None:
        row.reply_choice = choice  # they had replied in words before they pressed
    await session.flush()
    return ours


async def answer_with_reason(
    session: AsyncSession,
    *,
    clock: Clock,
    exit_rules: exit_interview.ExitRules,
    customer_id: int,
    recipient_id: int,
    reason: str,
    chat_id: int,
    staff_group: int | None,
) -> exit_interview.ReasonOutcome | None:
    """A win-back reason pressed on a campaign message: a reply to the campaign (`record_choice`)
    and the exit interview it leads into, opened with that reason, which does at once what the
    reason does (`exit_interview.answer_reason`: the save offer, a person, ...). None if the
    message is not theirs or its campaign is gone (nothing is opened then)."""
    ours = await record_choice(
        session, clock=clock, customer_id=customer_id, recipient_id=recipient_id, choice=reason
    )
    if not ours:
        return None
    interview = await exit_interview.start_from_menu(
        session, clock=clock, customer_id=customer_id, chat_id=chat_id
    )
    return await exit_interview.answer_reason(
        session,
        clock=clock,
        rules=exit_rules,
        interview_id=interview.id,
        customer_id=customer_id,
        reason=reason,
        staff_group=staff_group,
    )
