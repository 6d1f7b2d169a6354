"""Fixtures for the HTTP API: a migrated SQLite file per test (a copy of one migrated once per
pytest process), a frozen clock, an ASGI client.

Every response the `client` sees is checked against the OpenAPI document on the spot: a
status code the route does not document fails the test that got it. The statuses are also
collected in STATUS_LOG for the contract test, which runs last.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import create_app
from core.apikeys import create_api_key
from core.clock import FrozenClock
from core.settings import Settings
from storage.db import create_engine, create_sessionmaker
from storage.migrate import upgrade
from tests.conftest import sqlite_copy

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

# (method, documented path, status) for every response to a documented operation.
STATUS_LOG: list[tuple[str, str, int]] = []

CONTRACT_LAST = "test_observed_statuses_are_documented"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the observed-status contract test after everything that feeds STATUS_LOG."""
    last = [i for i in items if i.name == CONTRACT_LAST]
    if last:
        items[:] = [i for i in items if i.name != CONTRACT_LAST] + last


def operation_for(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict] | None:
    """The documented (template, operation) a concrete request path falls under."""
    candidates = []
    for template, ops in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            candidates.append((template.count("{"), template, ops[method.lower()]))
    if not candidates:
        return None
    _, template, op = min(candidates, key=lambda c: c[0])  # a literal path beats a template
    return template, op


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
async def engine(tmp_path, migrated_sqlite) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    eng = create_engine(sqlite_copy(migrated_sqlite, tmp_path, "api.sqlite3"))
    await upgrade(eng)  # already at the heads: checks it, changes nothing
    yield eng
    await eng.dispose()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    db = create_sessionmaker(engine)
    yield db
    await db.close()


@pytest.fixture
async def session(sessionmaker) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as s:
        yield s


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.sqlite3'}",
        link_token_ttl_hours=48,
    )


@pytest.fixture
def app(settings, sessionmaker, clock, engine) -> FastAPI:
    return create_app(settings=settings, sessionmaker=sessionmaker, clock=clock, engine=engine)


# The OpenAPI document per set of routes: building it takes about 1.5 s of CPU, and every
# test's app has the same routes (the document depends on nothing else: no setting shows in it).
_SPECS: dict[tuple[Any, ...], dict[str, Any]] = {}


def openapi_of(app: FastAPI) -> dict[str, Any]:
    key = tuple(
        (
            getattr(r, "path", ""),
            tuple(sorted(getattr(r, "methods", None) or ())),
            getattr(r, "name", ""),
            getattr(r, "include_in_schema", None),
        )
        for r in app.routes
    )
    if key not in _SPECS:
        _SPECS[key] = app.openapi()
    return _SPECS[key]


def checked_client(app: FastAPI, **transport_kwargs: Any) -> httpx.AsyncClient:
    spec = openapi_of(app)

    async def check(response: httpx.Response) -> None:
        found = operation_for(spec, response.request.method, response.request.url.path)
        if found is None:  # unknown route, /docs, or a route kept out of the schema
            return
        template, op = found
        STATUS_LOG.append((response.request.method, template, response.status_code))
        assert str(response.status_code) in op["responses"], (
            f"{response.request.method} {template} answered {response.status_code}, "
            f"which it does not document (documented: {sorted(op['responses'])})"
        )

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, **transport_kwargs),
        base_url="http://testserver",
        event_hooks={"response": [check]},
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(app) as c:
        yield c


MakeKey = Callable[..., Awaitable[str]]


@pytest.fixture
def make_key(sessionmaker, clock) -> MakeKey:
    async def make(*scopes: str, name: str = "test backend") -> str:
        async with sessionmaker() as s:
            plaintext, _ = await create_api_key(s, clock=clock, name=name, scopes=scopes or ("*",))
            await s.commit()
        return plaintext

    return make


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def admin(make_key) -> dict[str, str]:
    """Headers for a key with every scope."""
    return bearer(await make_key("*"))
