"""/v1/customers/{id}/loyalty: balance, history, earn, redeem (409 when short), adjust."""

from __future__ import annotations

from tests.api.conftest import bearer


async def make_customer(client, admin, ext: str = "crm-7") -> None:  # type: ignore[no-untyped-def]
    r = await client.put(f"/v1/customers/{ext}", json={"first_name": "Ann"}, headers=admin)
    assert r.status_code in (200, 201)


async def test_earn_and_adjust_are_idempotent_and_conflict_on_reuse(client, admin) -> None:
    await make_customer(client, admin)
    body = {"points": 300, "reason": "Goodwill", "idempotency_key": "g-1"}
    r = await client.post("/v1/customers/crm-7/loyalty/earn", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["duplicate"] is False and r.json()["balance"]["spendable"] == 300
    r = await client.post("/v1/customers/crm-7/loyalty/earn", json=body, headers=admin)
    assert r.status_code == 200 and r.json()["duplicate"] is True
    assert r.json()["balance"]["spendable"] == 300
    r = await client.post("/v1/customers/crm-7/loyalty/earn", json={**body, "points": 5}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_conflict"

    # Adjustments go either way (a correction may go below zero) but never zero.
    r = await client.post(
        "/v1/customers/crm-7/loyalty/adjust",
        json={"points": -320, "reason": "Fix", "idempotency_key": "a-1"},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["balance"]["spendable"] == -20
    r = await client.post(
        "/v1/customers/crm-7/loyalty/adjust",
        json={"points": -320, "reason": "Fix", "idempotency_key": "a-1"},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["duplicate"] is True
    r = await client.post(
        "/v1/customers/crm-7/loyalty/adjust",
        json={"points": 0, "reason": "Nothing", "idempotency_key": "a-2"},
        headers=admin,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_points"


async def test_redeeming_more_than_the_balance_is_409_and_changes_nothing(client, admin) -> None:
    await make_customer(client, admin)
    await client.post(
        "/v1/customers/crm-7/loyalty/earn",
        json={"points": 100, "reason": "Bonus", "idempotency_key": "b-1"},
        headers=admin,
    )
    before = (await client.get("/v1/customers/crm-7/loyalty/history", headers=admin)).json()

    r = await client.post(
        "/v1/customers/crm-7/loyalty/redeem",
        json={"points": 101, "reason": "Checkout", "idempotency_key": "r-1"},
        headers=admin,
    )
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "insufficient_points"
    assert error["details"] == {"spendable": 100, "pending": 0, "requested": 101}
    assert (await client.get("/v1/customers/crm-7/loyalty/history", headers=admin)).json() == before
    assert (await client.get("/v1/customers/crm-7/loyalty", headers=admin)).json()["spendable"] == 100

    # The same key can be used once the balance allows it; a repeat is acknowledged.
    ok = {"points": 60, "reason": "Checkout", "idempotency_key": "r-1"}
    r = await client.post("/v1/customers/crm-7/loyalty/redeem", json=ok, headers=admin)
    assert r.status_code == 201 and r.json()["entry"]["points"] == -60
    assert r.json()["balance"]["spendable"] == 40
    r = await client.post("/v1/customers/crm-7/loyalty/redeem", json=ok, headers=admin)
    assert r.status_code == 200 and r.json()["duplicate"] is True
    assert r.json()["balance"]["spendable"] == 40


async def test_history_pages_newest_first(client, admin) -> None:
    await make_customer(client, admin)
    for i in range(5):
        await client.post(
            "/v1/customers/crm-7/loyalty/earn",
            json={"points": i + 1, "reason": f"n{i}", "idempotency_key": f"k{i}"},
            headers=admin,
        )
    page = (await client.get("/v1/customers/crm-7/loyalty/history?limit=2", headers=admin)).json()
    assert [e["points"] for e in page["items"]] == [5, 4]
    page2 = (
        await client.get(
            f"/v1/customers/crm-7/loyalty/history?limit=2&before={page['next_before']}", headers=admin
        )
    ).json()
    assert [e["points"] for e in page2["items"]] == [3, 2]
    page3 = (
        await client.get(
            f"/v1/customers/crm-7/loyalty/history?limit=2&before={page2['next_before']}", headers=admin
        )
    ).json()
    assert [e["points"] for e in page3["items"]] == [1] and page3["next_before"] is None
    assert page["items"][0]["kind"] == "earn" and page["items"][0]["reason"] == "n4"


async def test_balance_shows_tier_progress_and_referral(client, admin) -> None:
    for i, amount in enumerate(["300", "200", "150"]):
        await client.post(
            "/v1/orders",
            json={"order_id": f"O-{i}", "customer_external_id": "crm-7", "amount": amount, "currency": "USD"},
            headers=admin,
        )
    b = (await client.get("/v1/customers/crm-7/loyalty", headers=admin)).json()
    assert b["tier"] == "pre_vip" and b["orders"] == 3 and b["spend"] == "650.00"
    assert b["next_tier"] == {"tier": "vip", "spend_needed": "350.00", "orders_needed": 2}
    ref = b["referral"]
    assert ref["start_command"] == f"/start ref_{ref['code']}" and ref["link"] is None
    assert (ref["invited"], ref["rewarded"]) == (0, 0)
    # The code is stable.
    again = (await client.get("/v1/customers/crm-7/loyalty", headers=admin)).json()
    assert again["referral"]["code"] == ref["code"]


async def test_unknown_customer_and_auth(client, admin, make_key) -> None:
    r = await client.get("/v1/customers/ghost/loyalty", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "customer_not_found"
    r = await client.post(
        "/v1/customers/ghost/loyalty/redeem",
        json={"points": 1, "reason": "x", "idempotency_key": "x"},
        headers=admin,
    )
    assert r.status_code == 404
    reader = bearer(await make_key("loyalty:read"))
    r = await client.post(
        "/v1/customers/ghost/loyalty/earn",
        json={"points": 1, "reason": "x", "idempotency_key": "x"},
        headers=reader,
    )
    assert r.status_code == 403
    for method, path in [
        ("GET", "/v1/customers/crm-7/loyalty"),
        ("GET", "/v1/customers/crm-7/loyalty/history"),
        ("POST", "/v1/customers/crm-7/loyalty/earn"),
        ("POST", "/v1/customers/crm-7/loyalty/redeem"),
        ("POST", "/v1/customers/crm-7/loyalty/adjust"),
    ]:
        r = await client.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == 401, (method, path)
