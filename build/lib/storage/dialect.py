"""Which database a session talks to: the few statements that differ ask here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    """'sqlite' or 'postgresql'. Every session here comes from a sessionmaker bound to one engine."""
    bind = session.bind
    if bind is None:
        raise RuntimeError("the session is bound to no engine")
    return bind.dialect.name


def is_postgres(session: AsyncSession) -> bool:
    return dialect_name(session) == "postgresql"
