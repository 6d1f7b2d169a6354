"""Issue 11, case 1 end to end: a customer whose stored cart has a wrong shape (data from before
validation) is in a campaign using {cart_items} and {tier}: everyone gets the campaign (that
customer with the fallback), and an unrelated message and a report sent afterwards succeed."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update

from sandbox.client import SandboxClient
from storage.models import Customer
from storage.models_outreach import OutreachStats
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text
from tests.e2e.test_loyalty import linked_user

pytestmark = pytest.mark.usefixtures("no_violations")


async def test_a_bad_stored_cart_does_not_stop_a_campaign_or_later_messages(
    product: Runtime, tg: SandboxClient, api: httpx.AsyncClient
) -> None:
    users = {ext: await linked_user(tg, api, ext, ext.title()) for ext in ("bad", "good", "fine", "other")}

    async def summary_row() -> int | None:
        async with product.db() as s:
            return await s.scalar(
                select(OutreachStats.customer_id)
                .join(Customer, Customer.id == OutreachStats.customer_id)
                .where(Customer.external_id == "bad")
            )

    cid = await eventually(summary_row, 10)
    async with product.db.begin() as s:
        await s.execute(
            update(OutreachStats).where(OutreachStats.customer_id == cid).values(cart={"items": 5})
        )
    r = await api.post(
        "/v1/events",
        json={
            "events": [
                {
                    "event_id": "c-1",
                    "customer_external_id": "bad",
                    "kind": "cart_abandoned",
                    "data": {"items": 5},
                }
            ]
        },
    )
    assert r.status_code == 422  # it can no longer get in through the API
    r = await api.post(
        "/v1/campaigns",
        json={
            "name": "Carts",
            "customer_external_ids": ["bad", "good", "fine"],
            "holdout": 0,
            "send_window": "any",
            "quiet_hours": "off",
            "steps": [
                {"templates": {"en": "{name|Hi}, still thinking about {cart_items|your cart}? ({tier})"}}
            ],
        },
    )
    assert r.status_code == 201, r.text
    await wait_text(tg, users["bad"], "still thinking about your cart?", timeout=15)
    for ext in ("good", "fine"):
        await wait_text(tg, users[ext], "still thinking about", timeout=15)
    r = await api.post(
        "/v1/messages",
        json={"customer_external_id": "other", "templates": {"en": "Parcel sent."}, "quiet_hours": "off"},
    )
    assert r.status_code == 201, r.text
    await wait_text(tg, users["other"], "Parcel sent.", timeout=15)
    r = await api.get("/v1/analytics/summary")
    assert r.status_code == 200, r.text
