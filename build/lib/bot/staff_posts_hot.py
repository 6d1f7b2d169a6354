"""The staff-group worker's rows and its steady state as hot statements (storage/hot.py).

Moved out of bot/support_worker.py (issue 14): `Post` (a queued group post as the worker reads
it), the queue, and the prepared statements of the hot claim and record with their helpers.
The worker (bot/support_worker.py) decides when they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BigInteger, ColumnElement, Table, and_, bindparam, exists, func, or_, select, update

from core.delivery import QueueTable
from storage.hot import Prepared
from storage.models_support import GroupPost, SupportMessage, SupportTopic

QUEUE = QueueTable("group_posts", GroupPost, wire="sending")


@dataclass(slots=True, eq=False)
class Post:
    """A queued group post as the worker uses it: its columns, read with Core (not an ORM
    entity), with `attempts` as it was before the claim."""

    id: int
    group_chat_id: int
    customer_id: int
    case_id: int | None
    support_message_id: int | None
    priority: int
    kind: str
    payload: dict[str, Any]
    attempts: int


_POSTS = cast(Table, GroupPost.__table__)
_TOPICS = cast(Table, SupportTopic.__table__)
_MESSAGES = cast(Table, SupportMessage.__table__)
_POST_COLUMNS = [_POSTS.c[name] for name in Post.__dataclass_fields__]


class BadPost(ValueError):
    """A stored post the worker cannot use (its payload is not a JSON object): it is marked
    failed with this reason and skipped, so one bad row never stops its group's queue."""

    def __init__(self, post_id: int, reason: str) -> None:
        super().__init__(f"group post {post_id}: {reason}")
        self.post_id = post_id
        self.reason = reason


def _post(row: Any) -> Post:
    if not isinstance(row["payload"], dict):
        raise BadPost(row["id"], f"payload is {type(row['payload']).__name__}, not an object")
    return Post(**{name: row[name] for name in Post.__dataclass_fields__})


def _held(t: Any) -> ColumnElement[bool]:
    """Claimed or on the wire (no IN list: hot statements take none)."""
    return or_(t.c.status == QUEUE.claimed, t.c.status == QUEUE.wire)


def _due(t: Any, now: Any) -> ColumnElement[bool]:
    return and_(t.c.status == QUEUE.queued, or_(t.c.not_before.is_(None), t.c.not_before <= now))


# The steady state as hot statements (storage/hot.py): a plain copy into a known topic, one
# post per request. `_NEXT` reads the group's next customer's first two due posts (the second
# tells whether `_take` would carry more than the first; see `_hot_candidate`) with the
# customer's thread id; `b_self` is a post of ours still on the wire whose answer is being
# recorded in the same write (it does not hold its customer: it is `sent` before the claim).
_n, _h = _POSTS.alias("n"), _POSTS.alias("h")
_NEXT = Prepared(
    select(
        *_POST_COLUMNS,
        select(_TOPICS.c.thread_id)
        .where(_TOPICS.c.customer_id == _POSTS.c.customer_id, _TOPICS.c.group_chat_id == bindparam("b_group"))
        .scalar_subquery()
        .label("thread_id"),
    )
    .where(
        _POSTS.c.group_chat_id == bindparam("b_group"),
        _due(_POSTS, bindparam("b_now")),
        _POSTS.c.customer_id
        == select(_n.c.customer_id)
        .where(
            _n.c.group_chat_id == bindparam("b_group"),
            _due(_n, bindparam("b_now")),
            _n.c.customer_id.not_in(
                select(_h.c.customer_id).where(
                    _h.c.group_chat_id == bindparam("b_group"), _held(_h), _h.c.id != bindparam("b_self")
                )
            ),
        )
        .order_by(_n.c.priority, _n.c.id)
        .limit(1)
        .scalar_subquery(),
    )
    .order_by(_POSTS.c.priority, _POSTS.c.id)
    .limit(2)
)
# The claim of one post, valid on its own (the read above is only a hint): the post is still
# queued and due, no post of its customer in the group is claimed or on the wire, and none is
# due before it. On PostgreSQL it runs after `_LOCK` (the claims' advisory lock, as `_claim`
# takes it) and skips a row another transaction holds; on SQLite the write lock serialises it.
_e = _POSTS.alias("e")
_CLAIM_ONE = Prepared(
    update(_POSTS)
    .where(
        _POSTS.c.id
        == select(_n.c.id)
        .where(_n.c.id == bindparam("b_id"), _due(_n, bindparam("b_now")))
        .with_for_update(skip_locked=True)  # PostgreSQL; nothing on SQLite
        .scalar_subquery(),
        _due(_POSTS, bindparam("b_now")),
        ~exists().where(
            _e.c.group_chat_id == bindparam("b_group"),
            _e.c.customer_id == bindparam("b_customer"),
            or_(
                _held(_e),
                and_(
                    _due(_e, bindparam("b_now")),
                    or_(
                        _e.c.priority < bindparam("b_priority"),
                        and_(_e.c.priority == bindparam("b_priority"), _e.c.id < bindparam("b_id")),
                    ),
                ),
            ),
        ),
    )
    .values(
        status=bindparam("b_status"),
        owner=bindparam("b_owner"),
        lease_until=bindparam("b_lease"),
        attempts=_POSTS.c.attempts + bindparam("b_attempt"),
    )
    .returning(_POSTS.c.id)
)
_LOCK = Prepared(select(func.pg_advisory_xact_lock(bindparam("b_key", type_=BigInteger()))))
# The answer of a post that went out: `delivery.finish(..., "sent")` and `_remember_topic_ids`.
_SENT = Prepared(
    update(_POSTS)
    .where(_POSTS.c.id == bindparam("b_id"))
    .values(status="sent", owner=None, lease_until=None, sent_at=bindparam("b_now"), error=None)
)
_TOPIC_MESSAGE = Prepared(
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values(topic_message_id=bindparam("b_topic_message"))
)


def _lock_key(group: int) -> int:
    return (0x5350 << 48) ^ (group & 0xFFFFFFFFFFFF)
