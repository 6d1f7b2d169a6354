"""Background workers started by the runtime; each runs until `ctx.stop` is set.

A worker is `async def run(ctx: BotContext) -> None`. Add yours to `workers()`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.context import BotContext

Worker = Callable[[BotContext], Awaitable[None]]


def workers() -> list[tuple[str, Worker]]:
    """(name, worker) pairs, imported lazily so each feature keeps its own module."""
    from bot import delivery_worker, engagement_worker, outreach, support_worker

    found: list[tuple[str, Worker]] = [
        ("support-reminders", support_worker.run_reminders),
        ("engagement-jobs", engagement_worker.run_jobs),
        ("outreach-scheduler", outreach.run_scheduler),
        ("delivery", delivery_worker.run),
        ("outreach-webhooks", outreach.run_webhooks),
    ]
    return found
