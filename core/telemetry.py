"""Prometheus metrics of one process, served at `GET /metrics` (api/routes/metrics.py).

The counters and histograms are updated where things happen (bot/inbox.py, bot/sender.py);
queue depths are counted in the database when Prometheus scrapes (`refresh_queue_gauges`), so
every process reports the same shared queues and nothing runs between scrapes.

The metrics live in their own registry (`REGISTRY`), not prometheus-client's global one, so
the process's own Python/GC collectors are added explicitly and tests can read the values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

UPDATES_HANDLED = Counter(
    "supportbot_updates_handled_total",
    "Telegram updates handled, by outcome (done, failed, uncertain).",
    ["result"],
    registry=REGISTRY,
)
UPDATE_SECONDS = Histogram(
    "supportbot_update_seconds",
    "Time to handle one Telegram update (handlers and the done mark).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
TELEGRAM_SENDS = Counter(
    "supportbot_telegram_sends_total",
    "Message-producing Bot API requests by lane and result (ok, 429, 403, 4xx, 5xx, network).",
    ["lane", "result"],
    registry=REGISTRY,
)
TELEGRAM_RETRIES = Counter(
    "supportbot_telegram_retries_total",
    "Bot API requests retried by the sender, by reason (429, 5xx, network).",
    ["reason"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "supportbot_queue_depth",
    "Rows due now in each durable queue, by status (counted in the database at scrape time).",
    ["queue", "status"],
    registry=REGISTRY,
)
QUEUE_UNCERTAIN = Gauge(
    "supportbot_queue_uncertain",
    "Rows that may or may not have reached Telegram (on the wire at a crash; never repeated).",
    ["queue"],
    registry=REGISTRY,
)
INBOX_LEASES = Counter(
    "supportbot_inbox_chat_leases_total",
    "Several processes: attempts to take a chat's lease before handling its updates, by outcome "
    "(free: taken; kept: ours already; taken_over: from a process that died holding it; "
    "busy: another process holds it and handles the chat).",
    ["outcome"],
    registry=REGISTRY,
)
INBOX_SWEPT = Counter(
    "supportbot_inbox_swept_total",
    "Several processes: chats the sweeper took up because their pending updates had no live "
    "holder (a dead process's, or waiting behind a busy one's backlog).",
    registry=REGISTRY,
)
PROCESS_ROLE = Info(
    "supportbot_process", "This process: its role (all, bot, api, worker).", registry=REGISTRY
)
POLLER_LEADER = Gauge(
    "supportbot_poller_leader", "1 while this process holds the getUpdates lease.", registry=REGISTRY
)
REDIS_UP = Gauge(
    "supportbot_redis_up",
    "1 while the shared flood gate reaches Redis (absent without REDIS_URL).",
    registry=REGISTRY,
)

# Each queue: its table and the statuses that mean "not finished". Counted with one GROUP BY
# per table over the status-first index of each queue; only rows due now (`not_before` unset or
# past), so a survey scheduled for next week is not backlog. Statuses not listed are ignored.
QUEUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "inbox_updates": ("inbox_updates", ("pending",)),
    "outbox": ("outbox", ("queued", "claimed", "inflight", "held")),
    "group_posts": ("group_posts", ("queued", "sending")),
    "nps_surveys": ("nps_surveys", ("scheduled", "sending")),
    "exit_interviews": ("exit_interviews", ("scheduled", "sending")),
    "loyalty_notices": ("loyalty_notices", ("queued", "sending")),
}
# Queues whose rows become `uncertain` (on the wire at a crash, never resent). Updates handled
# with an uncertain send are counted by supportbot_updates_handled_total{result="uncertain"}
# instead: the inbox keeps every row, and finding them would scan it.
UNCERTAIN_QUEUES = ("outbox", "group_posts")


def set_role(role: str) -> None:
    PROCESS_ROLE.info({"role": role})


def update_finished(started: float, now: float, result: str) -> None:
    """One update is finished (bot/inbox.py)."""
    UPDATES_HANDLED.labels(result).inc()
    UPDATE_SECONDS.observe(max(0.0, now - started))


def telegram_send(lane: str, result: str) -> None:
    """One message-producing request ended (bot/sender.py)."""
    TELEGRAM_SENDS.labels(str(lane), result).inc()


def telegram_retry(reason: str) -> None:
    TELEGRAM_RETRIES.labels(reason).inc()


async def refresh_queue_gauges(sessionmaker: Callable[[], AsyncSession], *, now: datetime) -> None:
    """Count every queue in the database (one GROUP BY per table); a missing table is skipped."""
    from storage.schema import metadata

    async with sessionmaker() as session:
        for queue, (name, statuses) in QUEUES.items():
            table = metadata.tables.get(name)
            if table is None:
                continue
            query = select(table.c.status, func.count()).where(table.c.status.in_(statuses))
            if "not_before" in table.c:
                query = query.where(or_(table.c.not_before.is_(None), table.c.not_before <= now))
            try:
                rows = (await session.execute(query.group_by(table.c.status))).all()
            except Exception as exc:  # e.g. a table the running schema does not have yet
                log.debug("queue %s not counted: %s", queue, exc)
                await session.rollback()
                continue
            counts: dict[str, int] = dict.fromkeys(statuses, 0)
            counts.update({status: int(count) for status, count in rows})
            for status, count in counts.items():
                QUEUE_DEPTH.labels(queue, status).set(count)
        for queue in UNCERTAIN_QUEUES:
            table = metadata.tables.get(queue)
            if table is None:
                continue
            try:
                uncertain = await session.scalar(
                    select(func.count()).select_from(table).where(table.c.status == "uncertain")
                )
            except Exception as exc:
                log.debug("uncertain rows of %s not counted: %s", queue, exc)
                await session.rollback()
                continue
            QUEUE_UNCERTAIN.labels(queue).set(int(uncertain or 0))


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def value(name: str, **labels: Any) -> float | None:
    """A sample's current value (tests)."""
    return REGISTRY.get_sample_value(name, labels or None)
