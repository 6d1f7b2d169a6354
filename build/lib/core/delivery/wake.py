"""Wake a queue's worker when the transaction that queued something commits.

Core code that adds a row to a queue calls `wake(session, "group_posts")`. The names are kept
on the session and handed to every subscriber after a successful commit (never after a
rollback: a row that was not stored must not wake anyone). The runtime subscribes the
workers' signals; the HTTP API's transactions wake the workers the same way, so nothing waits
for a polling interval. Several processes: a subscriber can pass the names on (e.g. to other
processes over PostgreSQL's NOTIFY or Redis pub/sub).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
KEY = "delivery_wake"
Subscriber = Callable[[frozenset[str]], None]
_subscribers: list[Subscriber] = []


def wake(session: AsyncSession | Session, *names: str) -> None:
    """Wake the workers of these queues once the current transaction commits."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(KEY, set()).update(names)


def subscribe(callback: Subscriber) -> Callable[[], None]:
    """Call `callback(names)` after each commit that queued something; returns an unsubscribe."""
    _subscribers.append(callback)

    def unsubscribe() -> None:
        if callback in _subscribers:
            _subscribers.remove(callback)

    return unsubscribe


def committed(*names: str) -> None:
    """Wake the workers of these queues now: for a commit made without a session (a hot write,
    storage/hot.py), call it once that write returned."""
    _notify(frozenset(names))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    names = session.info.pop(KEY, None)
    if names:
        _notify(frozenset(names))


def _notify(frozen: frozenset[str]) -> None:
    if frozen:
        for callback in list(_subscribers):
            try:
                callback(frozen)
            except Exception:  # a wake-up is an optimisation: never fail a commit for it
                log.warning("wake-up subscriber failed", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(KEY, None)
