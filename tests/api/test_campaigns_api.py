"""/v1/events, /v1/segments, /v1/playbooks, /v1/campaigns, /v1/messages over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from core.outreach import stats
from storage.models import Customer
from supportbot.runtime import customer_hooks

ROUTES = [
    ("post", "/v1/events", {"events": [{"event_id": "e", "customer_external_id": "c", "kind": "activity"}]}),
    ("get", "/v1/segments", None),
    ("post", "/v1/segments/preview", {"kind": "dormant"}),
    ("get", "/v1/playbooks", None),
    ("post", "/v1/campaigns", {"name": "x", "playbook": "winback"}),
    ("post", "/v1/campaigns/dry-run", {"name": "x", "playbook": "winback"}),
    ("get", "/v1/campaigns", None),
    ("get", "/v1/campaigns/1", None),
    ("get", "/v1/campaigns/1/recipients", None),
    ("post", "/v1/campaigns/1/pause", None),
    ("post", "/v1/campaigns/1/resume", None),
    ("post", "/v1/campaigns/1/cancel", None),
    ("post", "/v1/messages", {"customer_external_id": "c", "templates": {"en": "hi"}}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_route_needs_a_key_with_the_right_scope(client, make_key, method, path, body):
    r = await client.request(method, path, json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    wrong = await make_key("support:read")
    r = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {wrong}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"


async def dormant(client, admin, sessionmaker, clock, n: int = 5) -> list[str]:
    """n customers your shop knows, linked to Telegram, last active 40 days ago."""
    ext = [f"crm-{i}" for i in range(n)]
    events = [
        {
            "event_id": f"open-{e}",
            "customer_external_id": e,
            "kind": "activity",
            "occurred_at": (clock.now() - timedelta(days=40)).isoformat(),
        }
        for e in ext
    ]
    r = await client.post("/v1/events", json={"events": events}, headers=admin)
    assert r.status_code == 200 and r.json()["recorded"] == n
    async with sessionmaker.begin() as s:
        for i, e in enumerate(ext):
            await s.execute(
                update(Customer)
                .where(Customer.external_id == e)
                .values(telegram_id=7000 + i, first_name=f"N{i}")
            )
    return ext


async def test_events_are_idempotent_and_validated(client, admin, sessionmaker, clock):
    body = {
        "events": [
            {"event_id": "a-1", "customer_external_id": "crm-1", "kind": "activity"},
            {
                "event_id": "s-1",
                "customer_external_id": "crm-1",
                "kind": "subscription_expiring",
                "expires_at": (clock.now() + timedelta(days=3)).isoformat(),
            },
            {
                "event_id": "c-1",
                "customer_external_id": "crm-2",
                "kind": "cart_abandoned",
                "product": "Blue mug",
                "data": {"items": [{"name": "Blue mug"}], "value": 19.9},
            },
        ]
    }
    r = await client.post("/v1/events", json=body, headers=admin)
    assert r.status_code == 200 and r.json()["recorded"] == 3 and r.json()["duplicates"] == 0
    r = await client.post("/v1/events", json=body, headers=admin)
    assert r.json()["duplicates"] == 3
    r = await client.post(
        "/v1/events",
        json={
            "events": [{"event_id": "x", "customer_external_id": "crm-1", "kind": "subscription_expiring"}]
        },
        headers=admin,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "expires_at_required"
    r = await client.post(
        "/v1/events",
        json={"events": [{"event_id": "x", "customer_external_id": "crm-1", "kind": "purchase"}]},
        headers=admin,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = await client.post("/v1/segments/preview", json={"kind": "subscription_expiring"}, headers=admin)
    assert r.json()["count"] == 1


async def test_segments_list_and_preview(client, admin, sessionmaker, clock):
    await dormant(client, admin, sessionmaker, clock, 3)
    r = await client.get("/v1/segments", headers=admin)
    assert r.status_code == 200
    kinds = {k["kind"]: k for k in r.json()}
    assert kinds["dormant"]["default_days"] == 30 and kinds["churned"]["default_days"] == 90
    r = await client.post("/v1/segments/preview", json={"kind": "dormant", "sample_size": 2}, headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and body["contactable"] == 3 and len(body["sample"]) == 2
    assert body["sample"][0]["days_inactive"] == 40 and body["sample"][0]["tier"] == "never_bought"
    r = await client.post("/v1/segments/preview", json={"kind": "dormant", "days": 50}, headers=admin)
    assert r.json()["count"] == 0
    r = await client.post("/v1/segments/preview", json={"kind": "nope"}, headers=admin)
    assert r.status_code == 422


async def test_playbooks(client, admin):
    r = await client.get("/v1/playbooks", headers=admin)
    assert r.status_code == 200
    books = {b["name"]: b for b in r.json()}
    assert set(books) == {"winback", "renewal", "abandoned_cart"}
    assert books["winback"]["steps"][1]["delay_seconds"] == 14 * 86400


async def test_campaign_lifecycle(client, admin, sessionmaker, clock):
    await dormant(client, admin, sessionmaker, clock, 5)
    body = {
        "name": "Win-back",
        "idempotency_key": "wb-2026-01",
        "playbook": "winback",
        "holdout": 0,
        "playbook_options": {"promo_code": "BACK10"},
    }
    r = await client.post("/v1/campaigns/dry-run", json=body, headers=admin)
    assert r.status_code == 200
    dry = r.json()
    assert dry["audience"] == 5 and dry["contactable"] == 5 and dry["missing_data"] == {}
    assert "BACK10" in dry["samples"][0]["steps"][1] and dry["samples"][0]["steps"][0].startswith("N")

    r = await client.post("/v1/campaigns", json=body, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"/v1/campaigns/{created['id']}"
    assert created["targeted"] == 5 and created["status"] == "running" and not created["replayed"]
    assert created["send_window"] == "10:00-20:00" and created["quiet_hours"] == "21:00-09:00"
    r = await client.post("/v1/campaigns", json=body, headers=admin)
    assert r.status_code == 200 and r.json()["replayed"] and r.json()["id"] == created["id"]
    r = await client.post("/v1/campaigns", json={**body, "holdout": 0.2}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_conflict"

    cid = created["id"]
    r = await client.get(f"/v1/campaigns/{cid}", headers=admin)
    assert r.status_code == 200
    s = r.json()["stats"]
    assert s["targeted"] == 5 and s["queued"] == 5 and s["sent"] == 0 and s["progress"]["total"] == 5
    r = await client.get("/v1/campaigns", params={"limit": 1}, headers=admin)
    assert r.status_code == 200 and [c["id"] for c in r.json()["items"]] == [cid]
    r = await client.get(f"/v1/campaigns/{cid}/recipients", params={"limit": 2}, headers=admin)
    assert r.status_code == 200 and len(r.json()["items"]) == 2 and r.json()["next_after"] is not None
    assert r.json()["items"][0]["status"] == "queued" and r.json()["items"][0]["step"] == 1

    r = await client.post(f"/v1/campaigns/{cid}/pause", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "paused"
    r = await client.post(f"/v1/campaigns/{cid}/resume", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "running"
    r = await client.post(f"/v1/campaigns/{cid}/cancel", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["stats"]["cancelled"] == 5
    r = await client.post(f"/v1/campaigns/{cid}/resume", headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "campaign_state"
    r = await client.post(f"/v1/campaigns/{cid}/pause", headers=admin)
    assert r.status_code == 409
    for action in ("pause", "resume", "cancel"):
        r = await client.post(f"/v1/campaigns/999/{action}", headers=admin)
        assert r.status_code == 404 and r.json()["error"]["code"] == "campaign_not_found"
    for path in ("/v1/campaigns/999", "/v1/campaigns/999/recipients"):
        r = await client.get(path, headers=admin)
        assert r.status_code == 404


async def test_campaign_refusals(client, admin, sessionmaker, clock):
    ext = await dormant(client, admin, sessionmaker, clock, 2)
    cases = [
        (
            {"name": "x", "steps": [{"templates": {"en": "Hi {nmae}"}}], "customer_external_ids": ext},
            "template_unknown_variable",
        ),
        (
            {
                "name": "x",
                "steps": [{"templates": {"en": "Code {promo_code}"}}],
                "customer_external_ids": ext,
            },
            "template_needs_offer",
        ),
        (
            {
                "name": "x",
                "steps": [{"templates": {"en": "You liked {last_product}"}}],
                "customer_external_ids": ext,
            },
            "template_variable_missing",
        ),
        ({"name": "x", "steps": [{"templates": {"en": "hi"}}]}, "audience_required"),
        (
            # 3,000 emoji are 6,000 UTF-16 units: Telegram could never send it (4,096 at most).
            {"name": "x", "steps": [{"templates": {"en": "🎉" * 3000}}], "customer_external_ids": ext},
            "template_too_long",
        ),
        ({"name": "x", "playbook": "winback", "send_window": "22:00-23:00"}, "invalid_window"),
        (
            {"name": "x", "playbook": "winback", "paid_broadcast": {"max_stars": 10}},
            "paid_broadcast_disabled",
        ),
        (
            {"name": "x", "playbook": "winback", "webhook": {"url": "ftp://x", "secret": "s" * 20}},
            "validation_error",
        ),
        ({"name": "x", "playbook": "winback", "holdout": 0.9}, "validation_error"),
    ]
    for body, code in cases:
        r = await client.post("/v1/campaigns", json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == code, (body, r.json())
    r = await client.post(
        "/v1/campaigns",
        json={"name": "x", "playbook": "winback", "customer_external_ids": ["crm-0", "ghost"]},
        headers=admin,
    )
    assert r.status_code == 404 and r.json()["error"]["details"]["external_ids"] == ["ghost"]
    r = await client.post(
        "/v1/campaigns/dry-run",
        json={"name": "x", "playbook": "winback", "customer_external_ids": ["ghost"]},
        headers=admin,
    )
    assert r.status_code == 404
    r = await client.post(
        "/v1/campaigns/dry-run",
        json={"name": "x", "steps": [{"templates": {"en": "{x"}}], "segment": {"kind": "all"}},
        headers=admin,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "template_syntax"


async def test_single_message(client, admin, sessionmaker, clock):
    await dormant(client, admin, sessionmaker, clock, 1)
    body = {
        "customer_external_id": "crm-0",
        "idempotency_key": "delay-A-1",
        "templates": {"en": "{name|Hi}, your order is one day late. Sorry!"},
        "buttons": [{"kind": "url", "text": {"en": "Track it"}, "url": "https://shop.example/t/1"}],
    }
    r = await client.post("/v1/messages", json=body, headers=admin)
    assert r.status_code == 201, r.text
    msg = r.json()
    assert msg["kind"] == "message" and msg["targeted"] == 1 and msg["holdout"] == 0
    r = await client.post("/v1/messages", json=body, headers=admin)
    assert r.status_code == 200 and r.json()["id"] == msg["id"]
    r = await client.post(
        "/v1/messages",
        json={**body, "idempotency_key": None, "customer_external_id": "nobody"},
        headers=admin,
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "customer_not_found"
    r = await client.post(
        "/v1/messages", json={**body, "idempotency_key": "delay-A-1", "templates": {"en": "x"}}, headers=admin
    )
    assert r.status_code == 409


async def test_summary_ignores_erased_customers(client, admin, sessionmaker, clock):
    await dormant(client, admin, sessionmaker, clock, 2)
    async with sessionmaker.begin() as s:
        from core import customers

        await customers.forget(s, clock=clock, hooks=customer_hooks(), telegram_id=7000)
        assert await stats.stats_of(s, customer_id=1) is not None
    r = await client.post("/v1/segments/preview", json={"kind": "dormant"}, headers=admin)
    assert r.json()["count"] == 1
