"""Idempotency keys of API calls that start outreach (surveys, exit interviews, 'it shipped').

The first call with a key does the work and stores its answer; a repeat with the same body gets
the stored answer back; a repeat with another body is a conflict (a client bug worth seeing).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.errors import Conflict
from storage.models_loyalty import OutreachRequest


def fingerprint(body: dict[str, Any]) -> str:
    """A stable hash of a request body (key order does not matter)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def begin(
    session: AsyncSession, *, clock: Clock, kind: str, key: str, body: dict[str, Any]
) -> tuple[OutreachRequest, dict[str, Any] | None]:
    """Claim `key` for this request; returns (row, stored answer if it is a repeat)."""
    print_ = fingerprint(body)
    row = (
        await session.execute(
            select(OutreachRequest).where(
                OutreachRequest.kind == kind, OutreachRequest.idempotency_key == key
            )
        )
    ).scalar_one_or_none()
    if row is None:
        row = OutreachRequest(
            idempotency_key=key, kind=kind, fingerprint=print_, result={}, created_at=clock.now()
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            raise Conflict(
                "a request with this idempotency key is in progress; retry",
                code="idempotency_conflict",
                details={"idempotency_key": key},
            ) from None
        return row, None
    if row.fingerprint != print_:
        raise Conflict(
            "this idempotency key was already used with a different request body",
            code="idempotency_conflict",
            details={"idempotency_key": key},
        )
    return row, dict(row.result or {})


async def finish(session: AsyncSession, *, request: OutreachRequest, result: dict[str, Any]) -> None:
    """Store the answer a repeat of this request will get."""
    request.result = result
    await session.flush()
