"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable) and a frozen clock."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

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


async def _create_database(server_url: str, template: str | None = None) -> str:
    """A new database on the server (a copy of `template` if given); returns its name."""
    import asyncpg

    name = f"supportbot_test_{uuid.uuid4().hex[:12]}"
    dsn = server_url.replace("postgresql+asyncpg", "postgresql")
    try:
        conn = await asyncpg.connect(f"{dsn}/{PG_ADMIN_DB}")
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL refused the connection: {exc}")
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return name


async def _drop_database(server_url: str, name: str) -> None:
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(f"{dsn}/{PG_ADMIN_DB}")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A throw-away empty database per test, dropped afterwards."""
    name = await _create_database(postgres_server_url)
    yield f"{postgres_server_url}/{name}"
    await _drop_database(postgres_server_url, name)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the current heads once per pytest process (tests get copies)."""
    path = tmp_path_factory.mktemp("schema") / "migrated.sqlite3"

    async def build() -> None:
        from storage import migrate
        from storage.db import create_engine

        eng = create_engine(f"sqlite+aiosqlite:///{path}")
        await migrate.upgrade(eng)
        await eng.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> Iterator[str]:
    """A database migrated to the current heads once per pytest process, never connected to
    afterwards: `CREATE DATABASE ... TEMPLATE` copies it (one migration run instead of one a test)."""

    async def build() -> str:
        from storage import migrate
        from storage.db import create_engine

        name = await _create_database(postgres_server_url)
        eng = create_engine(f"{postgres_server_url}/{name}")
        try:
            await migrate.upgrade(eng)
        finally:
            await eng.dispose()
        return name

    name = asyncio.run(build())
    yield name
    asyncio.run(_drop_database(postgres_server_url, name))


@pytest.fixture
async def migrated_postgres_url(postgres_server_url: str, postgres_template: str) -> AsyncIterator[str]:
    """A throw-away database per test, already migrated (a copy of the template), dropped afterwards."""
    name = await _create_database(postgres_server_url, template=postgres_template)
    yield f"{postgres_server_url}/{name}"
    await _drop_database(postgres_server_url, name)


def sqlite_copy(template: Path, directory: Path, name: str = "test.sqlite3") -> str:
    """The URL of a fresh copy of the migrated SQLite file in `directory`."""
    path = directory / name
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """An empty database, SQLite and PostgreSQL (skipped with a reason if absent). Tests of
    repositories take `engine`/`sessionmaker` (migrated); this one is for migration tests."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_db_url(request, tmp_path, migrated_sqlite) -> str:  # type: ignore[no-untyped-def]
    """As `db_url`, but already migrated to the current heads (a copy of a schema migrated once)."""
    if request.param == "sqlite":
        return sqlite_copy(migrated_sqlite, tmp_path)
    return request.getfixturevalue("migrated_postgres_url")


@pytest.fixture
async def engine(migrated_db_url: str):  # type: ignore[no-untyped-def]
    from storage import migrate
    from storage.db import create_engine

    eng = create_engine(migrated_db_url)
    await migrate.upgrade(eng)  # already at the heads: checks it, changes nothing
    yield eng
    await eng.dispose()


@pytest.fixture
async def sessionmaker(engine):  # type: ignore[no-untyped-def]
    from storage.db import create_sessionmaker

    db = create_sessionmaker(engine)
    yield db
    await db.close()
