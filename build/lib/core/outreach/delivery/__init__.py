"""The outbox state machine that the delivery worker drives.

    queued --claim--> claimed --token--> inflight --answer--> sent | failed | queued (retry)
       \\--> skipped (a send-time rule said no)     \\--> deferred: queued with a later not_before

`claimed` means "checked and rendered, waiting for a rate-limit token"; `inflight` is committed
right before the request leaves. After a crash, `claimed` rows go back to `queued` (they never
left) and `inflight` rows become `uncertain`: they may or may not have reached Telegram, which
has no way to ask, so they are reported and never repeated. At most the worker's concurrency
is inflight at any time, so that is the most a kill can leave uncertain.

The shared contact budget is reserved when a message is claimed (so two messages to one person
cannot both pass the cap) and given back if it is not delivered.

- `claiming`: claim (every send-time rule, the text rendered), mark in flight, release;
- `completion`: what Telegram answered; retries, failures, sequences that cannot continue;
- `recovery`: what a dead worker left;
- `scheduling`: later steps queued when due, campaigns completed, progress;
- `source`: `CampaignSource`, the outbox as traffic for the delivery worker;
- `common`: the queue table, the message and answer types, the row helpers.
"""

from core.outreach.delivery.claiming import STATS_VARIABLES, claim, mark_inflight, release
from core.outreach.delivery.common import (
    CONTACT_KIND,
    DEFAULT_LEASE,
    QUEUE,
    SAME_CUSTOMER_DELAY,
    UNREACHABLE_CODES,
    ClaimResult,
    Outgoing,
    Result,
    contact_ref,
)
from core.outreach.delivery.completion import complete
from core.outreach.delivery.recovery import recover
from core.outreach.delivery.scheduling import (
    Progress,
    finish_campaigns,
    next_step_due,
    progress,
    schedule_due,
)
from core.outreach.delivery.source import CampaignSource

__all__ = [
    "CONTACT_KIND",
    "DEFAULT_LEASE",
    "QUEUE",
    "SAME_CUSTOMER_DELAY",
    "STATS_VARIABLES",
    "UNREACHABLE_CODES",
    "CampaignSource",
    "ClaimResult",
    "Outgoing",
    "Progress",
    "Result",
    "claim",
    "complete",
    "contact_ref",
    "finish_campaigns",
    "mark_inflight",
    "next_step_due",
    "progress",
    "recover",
    "release",
    "schedule_due",
]
