"""The one delivery state machine, shared by every queue of outgoing Telegram traffic.

    queued --claim--> claimed --on the wire--> wire --answer--> sent | failed | queued (retry)
       ^                 |                        \\
       +---- release ----+      (process died)     +--> uncertain (never repeated)

- `claimed`: checked and taken by one worker process (its `owner`), waiting for its turn and
  its rate-limit token. Not on the wire: a crash here puts it back in the queue, untouched.
- `wire`: committed right before the request leaves (the sender calls `on_wire` after the
  flood gate let it go). After a crash nobody can know whether Telegram got it, so it becomes
  `uncertain` and is reported, never repeated.
- Claims take a lease (`owner`, `lease_until`). A live worker renews its leases; a process that
  starts recovers only rows whose lease expired (a dead process's), never a live one's. On
  PostgreSQL rows are claimed with `FOR UPDATE SKIP LOCKED`, so several processes never take
  the same row; on SQLite (one process) the write lock serialises claims.

The queues keep their own tables (campaign messages, staff-group posts, NPS surveys, exit
interviews, loyalty notices: each row is also a domain record), described once by a
`QueueTable`; `core.delivery.queue` implements claim, wire, release, finish, renew and recover
for all of them. `core.delivery.wake` wakes the worker of a queue when a transaction that
queued something commits (the API's too), instead of polling.
"""

from core.delivery.queue import (
    QueueTable,
    claim,
    claim_ids,
    finish,
    lock_due,
    mark_wire,
    recover,
    release,
    renew,
    take,
)
from core.delivery.wake import subscribe, wake

__all__ = [
    "QueueTable",
    "claim",
    "claim_ids",
    "finish",
    "lock_due",
    "mark_wire",
    "recover",
    "release",
    "renew",
    "subscribe",
    "take",
    "wake",
]
