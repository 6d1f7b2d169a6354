"""/metrics (Prometheus) and /readyz with Redis (REDIS_URL): which dependency failed."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from api.app import create_app
from core import telemetry
from core.settings import Settings
from tests.api.conftest import checked_client

REDIS = ("127.0.0.1", 6379)


def redis_reachable() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not redis_reachable(), reason="Redis not reachable at 127.0.0.1:6379")


def with_settings(settings: Settings, **changes) -> Settings:  # type: ignore[no-untyped-def]
    return settings.model_copy(update=changes)


async def test_metrics_lists_every_metric_without_an_api_key(client, session, clock) -> None:
    from datetime import timedelta

    from storage.models import Customer, InboxUpdate
    from storage.models_support import GroupPost

    now = clock.now()
    session.add(InboxUpdate(update_id=1, payload={}, status="pending", attempts=0, received_at=now))
    session.add(InboxUpdate(update_id=2, payload={}, status="done", attempts=0, received_at=now))
    customer = Customer(first_name="Anna", created_at=now, updated_at=now)
    session.add(customer)
    await session.flush()
    for status, not_before in [
        ("queued", None),
        ("queued", now - timedelta(seconds=1)),
        ("queued", now + timedelta(hours=1)),  # not due yet: not backlog
        ("sent", None),
        ("uncertain", None),
    ]:
        session.add(
            GroupPost(
                group_chat_id=-100,
                customer_id=customer.id,
                priority=0,
                kind="text",
                payload={},
                status=status,
                not_before=not_before,
                created_at=now,
            )
        )
    await session.commit()
    telemetry.update_finished(0.0, 0.05, "done")
    telemetry.telegram_send("live", "ok")
    telemetry.telegram_send("campaign", "429")
    telemetry.telegram_retry("429")
    telemetry.set_role("api")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    for name in (
        "supportbot_updates_handled_total",
        "supportbot_update_seconds_bucket",
        "supportbot_telegram_sends_total",
        "supportbot_telegram_retries_total",
        "supportbot_queue_depth",
        "supportbot_queue_uncertain",
        "supportbot_process_info",
        "supportbot_poller_leader",
        "process_cpu_seconds_total",
    ):
        assert name in r.text, name
    assert 'supportbot_queue_depth{queue="inbox_updates",status="pending"} 1.0' in r.text
    assert 'supportbot_queue_depth{queue="outbox",status="queued"} 0.0' in r.text
    assert 'supportbot_queue_depth{queue="group_posts",status="queued"} 2.0' in r.text
    assert 'supportbot_queue_depth{queue="nps_surveys",status="scheduled"} 0.0' in r.text
    assert 'supportbot_queue_uncertain{queue="group_posts"} 1.0' in r.text
    assert 'supportbot_queue_uncertain{queue="outbox"} 0.0' in r.text
    assert 'supportbot_telegram_sends_total{lane="campaign",result="429"}' in r.text
    assert 'supportbot_process_info{role="api"} 1.0' in r.text
    assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_metrics_token_when_set(settings, sessionmaker, clock, engine) -> None:
    app = create_app(
        settings=with_settings(settings, metrics_token=SecretStr("s3cret")),
        sessionmaker=sessionmaker,
        clock=clock,
        engine=engine,
    )
    async with checked_client(app) as c:
        assert (await c.get("/metrics")).status_code == 401
        assert (await c.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
        ok = await c.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "supportbot_queue_depth" in ok.text


@needs_redis
async def test_readyz_checks_redis_when_configured(settings, sessionmaker, clock, engine) -> None:
    app = create_app(
        settings=with_settings(settings, redis_url="redis://127.0.0.1:6379/15"),
        sessionmaker=sessionmaker,
        clock=clock,
        engine=engine,
    )
    async with checked_client(app) as c:
        r = await c.get("/readyz")
    await app.state.redis.aclose()
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "database": "ok", "redis": "ok"}


async def test_readyz_says_redis_failed(settings, sessionmaker, clock, engine, caplog) -> None:
    app = create_app(
        settings=with_settings(settings, redis_url="redis://127.0.0.1:1/0"),
        sessionmaker=sessionmaker,
        clock=clock,
        engine=engine,
    )
    async with checked_client(app) as c:
        r = await c.get("/readyz")
    await app.state.redis.aclose()
    assert r.status_code == 503
    body = r.json()["error"]
    assert body["code"] == "redis_unavailable" and body["details"] == {"failed": ["redis"]}
    assert "readiness check failed (redis)" in caplog.text


async def test_readyz_says_both_failed(settings, clock, tmp_path) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage.db import create_sessionmaker

    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite3")
    app = create_app(
        settings=with_settings(settings, redis_url="redis://127.0.0.1:1/0"),
        sessionmaker=create_sessionmaker(broken),
        clock=clock,
        engine=broken,
    )
    async with checked_client(app) as c:
        r = await c.get("/readyz")
    await app.state.redis.aclose()
    await broken.dispose()
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "not_ready"
    assert r.json()["error"]["details"] == {"failed": ["database", "redis"]}
