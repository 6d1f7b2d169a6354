"""`GET /metrics`: Prometheus metrics of this process (core/telemetry.py).

No API key: operators keep /metrics off the public internet at the reverse proxy. With
METRICS_TOKEN set, the scrape must send `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise).
Queue depths are counted in the database on each scrape. Kept out of the OpenAPI document: it is
for Prometheus, not for the backend systems the API serves.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request, Response

from core import telemetry

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    token = getattr(request.app.state.settings, "metrics_token", None)
    if token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token.get_secret_value()}".encode()):
            return Response(
                "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": "Bearer"},
            )
    try:
        state = request.app.state
        await telemetry.refresh_queue_gauges(state.sessionmaker, now=state.clock.now())
    except Exception as exc:  # the database is down: still serve the process's own figures
        logger.warning("queue depths not counted: %r", exc)
    body, content_type = telemetry.render()
    return Response(body, media_type=content_type)
