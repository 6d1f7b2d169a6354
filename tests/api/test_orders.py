"""/v1/orders: purchases earn points once, refunds and cancellations take them back."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import NOW, bearer

ORDER = {
    "order_id": "A-1001",
    "customer_external_id": "crm-1",
    "amount": "129.90",
    "currency": "USD",
    "placed_at": "2026-01-15T10:00:00Z",
}


async def balance(client, admin, ext="crm-1") -> dict:  # type: ignore[no-untyped-def]
    r = await client.get(f"/v1/customers/{ext}/loyalty", headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


async def test_order_earns_points_once_and_counts_for_the_tier(client, admin) -> None:
    r = await client.post("/v1/orders", json=ORDER, headers=admin)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["duplicate"] is False and body["points_credited"] == 129
    assert body["amount"] == "129.90" and body["status"] == "completed"
    assert r.headers["Location"] == "/v1/orders/A-1001"

    # The shop retries the webhook: acknowledged, not counted twice.
    again = await client.post("/v1/orders", json=ORDER, headers=admin)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["points_credited"] == 0

    b = await balance(client, admin)
    assert (b["spendable"], b["pending"], b["orders"], b["tier"]) == (129, 0, 1, "one_time")
    assert b["spend"] == "129.90" and b["currency"] == "USD"
    assert b["next_tier"] == {"tier": "regular", "spend_needed": "0.00", "orders_needed": 1}
    assert b["expires_at"].startswith("2027-01-15")

    r = await client.get("/v1/orders/A-1001", headers=admin)
    assert r.status_code == 200 and r.json()["points_earned"] == 129


async def test_conflicting_order_and_full_refund(client, admin) -> None:
    assert (await client.post("/v1/orders", json=ORDER, headers=admin)).status_code == 201
    r = await client.post("/v1/orders", json={**ORDER, "amount": "99.00"}, headers=admin)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "order_conflict"
    assert (await balance(client, admin))["spendable"] == 129

    # A full refund needs no refund id; repeating it changes nothing.
    for _ in range(2):
        r = await client.post("/v1/orders/A-1001/refund", json={}, headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "refunded"
    assert (await balance(client, admin))["spendable"] == 0


async def test_bad_orders_are_refused_with_a_code(client, admin) -> None:
    for patch, code in [
        ({"currency": "EUR"}, "unsupported_currency"),
        ({"currency": "XYZ"}, "unknown_currency"),
        ({"amount": "10.555"}, "invalid_amount"),
        ({"placed_at": (NOW + timedelta(days=1)).isoformat()}, "placed_at_in_future"),
    ]:
        r = await client.post("/v1/orders", json={**ORDER, **patch}, headers=admin)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == code
    r = await client.post("/v1/orders", json={**ORDER, "amount": -5, "currency": "usd"}, headers=admin)
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {"body.amount", "body.currency"} <= fields


async def test_partial_refund_then_cancel_reverse_points(client, admin) -> None:
    await client.post("/v1/orders", json={**ORDER, "amount": "200.00"}, headers=admin)
    assert (await balance(client, admin))["spendable"] == 200

    r = await client.post("/v1/orders/A-1001/refund", json={"amount": "50.00"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "refund_id_required"

    r = await client.post(
        "/v1/orders/A-1001/refund", json={"refund_id": "R-1", "amount": "50.00"}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is True
    assert r.json()["status"] == "partially_refunded" and r.json()["points_reversed"] == 50
    assert (await balance(client, admin))["spendable"] == 150

    # A retried refund changes nothing.
    r = await client.post(
        "/v1/orders/A-1001/refund", json={"refund_id": "R-1", "amount": "50.00"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["changed"] is False
    assert (await balance(client, admin))["spendable"] == 150

    r = await client.post(
        "/v1/orders/A-1001/refund", json={"refund_id": "R-2", "amount": "500"}, headers=admin
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "refund_exceeds_order"

    r = await client.post("/v1/orders/A-1001/cancel", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["points_reversed"] == 200
    b = await balance(client, admin)
    assert (b["spendable"], b["orders"], b["tier"]) == (0, 0, "never_bought")
    r = await client.post("/v1/orders/A-1001/cancel", json={"reason": "again"}, headers=admin)
    assert r.status_code == 200 and r.json()["changed"] is False

    history = (await client.get("/v1/customers/crm-1/loyalty/history", headers=admin)).json()["items"]
    assert [(e["kind"], e["points"]) for e in history] == [
        ("reversal", -150),
        ("reversal", -50),
        ("earn", 200),
    ]


async def test_unknown_order_scopes_and_auth(client, admin, make_key) -> None:
    r = await client.get("/v1/orders/nope", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "order_not_found"
    r = await client.post("/v1/orders/nope/refund", json={}, headers=admin)
    assert r.status_code == 404
    r = await client.post("/v1/orders/nope/cancel", headers=admin)
    assert r.status_code == 404
    read_only = bearer(await make_key("loyalty:read"))
    r = await client.post("/v1/orders", json=ORDER, headers=read_only)
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    for method, path in [
        ("POST", "/v1/orders"),
        ("GET", "/v1/orders/A-1001"),
        ("POST", "/v1/orders/A-1001/refund"),
        ("POST", "/v1/orders/A-1001/cancel"),
    ]:
        r = await client.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == 401, (method, path)
