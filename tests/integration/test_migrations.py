"""Stairway: every migration upgrades, downgrades and upgrades again, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from storage import migrate
from storage.db import create_engine
from storage.schema import Base


async def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names())) - {"alembic_version"}


async def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine)
        assert await _tables(engine) == set(Base.metadata.tables)
        await migrate.downgrade(engine, "base")
        assert await _tables(engine) == set()
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        assert await _tables(engine) == set(Base.metadata.tables)
    finally:
        await engine.dispose()


async def test_models_match_migrations(db_url: str) -> None:
    """Autogenerate finds nothing to add: the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        assert diff == []
    finally:
        await engine.dispose()
