"""The one error shape everywhere, the probes, and routers added after the app is built."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import create_async_engine

from api.app import create_app
from storage.db import create_sessionmaker
from tests.api.conftest import checked_client


def assert_error_shape(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_readyz_when_the_database_answers(client):
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "database": "ok"}


async def test_readyz_without_an_engine_uses_the_sessionmaker(settings, sessionmaker, clock):
    app = create_app(settings=settings, sessionmaker=sessionmaker, clock=clock)
    async with checked_client(app) as c:
        assert (await c.get("/readyz")).status_code == 200


async def test_readyz_when_the_database_is_gone(settings, clock, tmp_path, caplog):
    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite3")
    app = create_app(settings=settings, sessionmaker=create_sessionmaker(broken), clock=clock, engine=broken)
    async with checked_client(app) as c:
        r = await c.get("/readyz")
        assert (await c.get("/healthz")).status_code == 200  # alive, just not ready
    await broken.dispose()
    assert r.status_code == 503
    assert_error_shape(r.json(), "database_unavailable")
    assert "missing" not in r.text  # the reason is logged, not shown
    assert "readiness check failed" in caplog.text


async def test_unknown_route_is_404_json(client):
    r = await client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert_error_shape(r.json(), "not_found")
    assert "/v1/nothing-here" in r.json()["error"]["message"]


async def test_wrong_method_is_405_json(client, admin):
    r = await client.delete("/v1/customers/crm-1", headers=admin)
    assert r.status_code == 405
    assert_error_shape(r.json(), "method_not_allowed")
    assert r.json()["error"]["details"]["allowed"] == ["GET", "PUT"]
    assert r.headers["allow"] == "GET, PUT"


async def test_unexpected_error_is_500_without_internals(app, caplog):
    # Also shows the runtime can add routers after create_app (as it will for the webhook).
    extra = APIRouter()

    @extra.post("/telegram/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret connection string postgres://u:p@db")

    app.include_router(extra)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        async with checked_client(app) as c:
            r = await c.post("/telegram/boom")
    assert r.status_code == 500
    assert_error_shape(r.json(), "internal_error")
    assert "secret" not in r.text and "RuntimeError" not in r.text
    assert "RuntimeError: secret connection string" in caplog.text  # traceback is logged


async def test_docs_and_openapi_are_served(client):
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Support & win-back API"
    assert spec["info"]["version"]
    assert {"BearerKey", "ApiKeyHeader"} <= set(spec["components"]["securitySchemes"])


async def test_app_state_exposes_what_it_was_given(app, settings, sessionmaker, clock, engine):
    assert app.state.settings is settings
    assert app.state.sessionmaker is sessionmaker
    assert app.state.clock is clock
    assert app.state.engine is engine
