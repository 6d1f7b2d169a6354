"""Liveness (is the process up?) and readiness (can it reach the database?) probes."""

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


@router.get("/readyz", summary="Readiness probe (no auth)", responses=error_responses(503))
async def readyz(request: Request) -> ReadyOut:
    """Ready when the database answers `SELECT 1`; 503 `database_unavailable` otherwise."""
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
        raise ApiError("The database is not reachable.", status=503, code="database_unavailable") from None
    return ReadyOut()
