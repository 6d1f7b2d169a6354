"""Liveness (is the process up?) and readiness (can it reach the database, and Redis if used?)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.errors import ApiError, error_responses
from api.schemas import HealthOut, ReadyOut

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 5.0


@router.get("/healthz", summary="Liveness probe (no auth)")
async def healthz() -> HealthOut:
    """Answers as long as the process serves requests; touches nothing else."""
    return HealthOut()


@router.get(
    "/readyz",
    summary="Readiness probe (no auth)",
    responses=error_responses(503),
    response_model_exclude_none=True,
)
async def readyz(request: Request) -> ReadyOut:
    """Ready when the database answers `SELECT 1` and, with REDIS_URL set, Redis answers PING.
    503 otherwise: `database_unavailable`, `redis_unavailable`, or `not_ready` when both fail
    (`details.failed` names them)."""
    failed: list[str] = []
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            engine = getattr(request.app.state, "engine", None)
            if engine is not None:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            else:
                async with request.app.state.sessionmaker() as session:
                    await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log only
        logger.warning("readiness check failed: %r", exc)
        failed.append("database")
    redis_url = getattr(request.app.state.settings, "redis_url", None)
    if redis_url:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await _redis(request, redis_url).ping()
        except Exception as exc:
            logger.warning("readiness check failed (redis): %r", exc)
            failed.append("redis")
    if failed == ["database"]:
        raise ApiError(
            "The database is not reachable.",
            status=503,
            code="database_unavailable",
            details={"failed": failed},
        )
    if failed == ["redis"]:
        raise ApiError(
            "Redis is not reachable.", status=503, code="redis_unavailable", details={"failed": failed}
        )
    if failed:
        raise ApiError(
            "The database and Redis are not reachable.",
            status=503,
            code="not_ready",
            details={"failed": failed},
        )
    return ReadyOut(redis="ok" if redis_url else None)


def _redis(request: Request, url: str):
    """One Redis client per app, made on first use (the API never needs it otherwise)."""
    client = getattr(request.app.state, "redis", None)
    if client is None:
        from redis.asyncio import Redis

        client = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        request.app.state.redis = client
    return client
