"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable) and a frozen clock."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator

import pytest

import supportbot  # noqa: F401  (first: aiogram's models are built as the product builds them, see lean.py)
from core.clock import FrozenClock

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("TEST_PG_DB", "test")


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    if not postgres_reachable():
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT} (start it to run these tests)")
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}"


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A throw-away database per test, dropped afterwards."""
    import asyncpg

    name = f"supportbot_test_{uuid.uuid4().hex[:12]}"
    dsn = postgres_server_url.replace("postgresql+asyncpg", "postgresql")
    try:
        conn = await asyncpg.connect(f"{dsn}/{PG_ADMIN_DB}")
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL refused the connection: {exc}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield f"{postgres_server_url}/{name}"
    conn = await asyncpg.connect(f"{dsn}/{PG_ADMIN_DB}")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """Repository tests run on both databases (PostgreSQL skipped with a reason if absent)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def engine(db_url: str):  # type: ignore[no-untyped-def]
    from storage import migrate
    from storage.db import create_engine

    eng = create_engine(db_url)
    await migrate.upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def sessionmaker(engine):  # type: ignore[no-untyped-def]
    from storage.db import create_sessionmaker

    db = create_sessionmaker(engine)
    yield db
    await db.close()
