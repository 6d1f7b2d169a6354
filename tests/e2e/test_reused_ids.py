"""Issue 11, case 7 end to end: Telegram-only customers link to backend customers (merged away,
their ids freed), newcomers get the freed ids on SQLite, and every one of them still has their
activity written (nobody stays "dormant" because of a stale in-memory throttle entry)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from sandbox.client import SandboxClient
from storage.models import Customer
from storage.models_outreach import OutreachStats
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.usefixtures("no_violations")
N = 12


async def test_activity_is_written_for_customers_on_reused_ids(
    product: Runtime, tg: SandboxClient, api: httpx.AsyncClient
) -> None:
    old = (product.clock.now() - timedelta(days=130)).isoformat()
    # Backend customers, dormant for 130 days.
    events = [
        {"event_id": f"old-{i}", "customer_external_id": f"crm-{i}", "kind": "activity", "occurred_at": old}
        for i in range(N)
    ]
    assert (await api.post("/v1/events", json={"events": events})).status_code == 200
    # Telegram-only customers: they write first (noted by the activity throttle)...
    users = [await tg.create_user(f"T{i}", language_code="en") for i in range(N)]
    for u in users:
        await tg.send_text(u["id"], "hello")

    async def all_known() -> bool:
        return await _count(product, Customer.external_id.is_(None), Customer.telegram_id.is_not(None)) >= N

    await eventually(all_known, 15)
    # ... then all link at once (merged into the backend customers; their ids are freed).
    tokens = [(await api.post(f"/v1/customers/crm-{i}/link-token")).json()["token"] for i in range(N)]
    await asyncio.gather(*(tg.send_text(u["id"], f"/start {t}") for u, t in zip(users, tokens, strict=True)))
    # Newcomers take the freed ids (SQLite reuses the highest rowids).
    newcomers = [await tg.create_user(f"N{i}", language_code="en") for i in range(N)]
    await asyncio.gather(*(tg.send_text(u["id"], "hi there") for u in newcomers))
    tg_ids = [u["id"] for u in users + newcomers]

    async def all_active() -> bool:
        async with product.db() as s:
            rows = (
                await s.execute(
                    select(Customer.telegram_id, OutreachStats.last_active_at)
                    .join(OutreachStats, OutreachStats.customer_id == Customer.id, isouter=True)
                    .where(Customer.telegram_id.in_(tg_ids))
                )
            ).all()
        recent = product.clock.now() - timedelta(minutes=5)
        return len(rows) == 2 * N and all(at is not None and at >= recent for _, at in rows)

    await eventually(all_active, 30)

    async def nobody_dormant() -> bool:  # every link handled (on a busy machine it takes a while)
        r = await api.post("/v1/segments/preview", json={"kind": "dormant", "days": 100})
        assert r.status_code == 200, r.text
        return r.json()["count"] == 0

    try:
        await eventually(nobody_dormant, 30)
    except AssertionError:
        r = await api.post("/v1/segments/preview", json={"kind": "dormant", "days": 100})
        raise AssertionError(r.text) from None


async def _count(product: Runtime, *where) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    async with product.db() as s:
        return int(await s.scalar(select(func.count()).select_from(Customer).where(*where)) or 0)
