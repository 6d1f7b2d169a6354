"""/v1/customers: upsert, read, list and link tokens, with strict input."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.customers import redeem_link_token
from storage.models import BotState
from supportbot.runtime import customer_hooks
from tests.api.conftest import NOW

FULL = {
    "first_name": "Anna",
    "last_name": "Schmidt",
    "email": "Anna.Schmidt@Example.COM",
    "phone": "+49 (151) 234-567-89",
    "language": "ru",
    "timezone": "Europe/Berlin",
    "birthday": "1990-04-21",
    "opted_in": True,
    "attributes": {"plan": "pro", "orders": 3, "ltv": 120.5},
}


def fields(response) -> dict[str, str]:
    body = response.json()
    assert body["error"]["code"] == "validation_error", body
    return {d["field"]: d["message"] for d in body["error"]["details"]}


# ------------------------------------------------------------------ upsert


async def test_upsert_creates_then_updates_with_merged_attributes(client, admin, clock):
    r = await client.put("/v1/customers/crm-42", json=FULL, headers=admin)
    assert r.status_code == 201
    assert r.headers["location"] == "/v1/customers/crm-42"
    created = r.json()
    assert created["external_id"] == "crm-42"
    assert created["email"] == "Anna.Schmidt@example.com"
    assert created["phone"] == "+4915123456789"
    assert created["language"] == "ru" and created["language_chosen"] is True
    assert created["birthday"] == "1990-04-21"
    assert created["attributes"] == {"plan": "pro", "orders": 3, "ltv": 120.5}
    assert created["telegram_id"] is None and created["reachable"] is True
    assert created["created_at"].startswith("2026-01-15T12:00:00")

    clock.advance(hours=1)
    r = await client.put(
        "/v1/customers/crm-42",
        json={"opted_in": False, "attributes": {"orders": 4, "vip": True, "plan": None}},
        headers=admin,
    )
    assert r.status_code == 200
    updated = r.json()
    assert updated["id"] == created["id"]
    assert updated["attributes"] == {"orders": 4, "ltv": 120.5, "vip": True}
    assert updated["opted_in"] is False
    assert updated["first_name"] == "Anna"  # left out, so kept
    assert updated["updated_at"].startswith("2026-01-15T13:00:00")

    r = await client.get("/v1/customers/crm-42", headers=admin)
    assert r.status_code == 200 and r.json() == updated


async def test_empty_body_object_registers_a_bare_customer(client, admin):
    r = await client.put("/v1/customers/user@shop:7", json={}, headers=admin)
    assert r.status_code == 201
    assert r.json()["external_id"] == "user@shop:7"
    assert r.json()["language"] == "en"


# ------------------------------------------------------------------ strictness


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"opted_in": 0}, "body.opted_in"),
        ({"opted_in": "true"}, "body.opted_in"),
        ({"first_name": 12}, "body.first_name"),
        ({"first_name": "   "}, "body.first_name"),
        ({"first_name": "x" * 257}, "body.first_name"),
        ({"email": "not-an-email"}, "body.email"),
        ({"email": "a@b"}, "body.email"),
        ({"phone": "12345"}, "body.phone"),
        ({"phone": 4915123456789}, "body.phone"),
        ({"language": "de"}, "body.language"),
        ({"timezone": "Mars/Olympus_Mons"}, "body.timezone"),
        ({"timezone": "../../etc/passwd"}, "body.timezone"),
        ({"birthday": "1990-13-01"}, "body.birthday"),
        ({"birthday": "21.04.1990"}, "body.birthday"),
        ({"birthday": 640656000}, "body.birthday"),
        ({"attributes": {"nested": {"a": 1}}}, "body.attributes.nested"),
        ({"attributes": {"list": [1, 2]}}, "body.attributes.list"),
        ({"attributes": {"bad key!": 1}}, "body.attributes.bad key!.[key]"),
        ({"attributes": [1, 2]}, "body.attributes"),
    ],
)
async def test_wrong_types_and_values_are_422_per_field(client, admin, body, field):
    r = await client.put("/v1/customers/crm-1", json=body, headers=admin)
    assert r.status_code == 422
    messages = fields(r)
    assert field in messages, messages
    assert messages[field] and not messages[field].startswith("Value error")


async def test_unknown_field_is_named(client, admin):
    r = await client.put(
        "/v1/customers/crm-1", json={"first_name": "A", "nickname": "x", "vip": 1}, headers=admin
    )
    assert r.status_code == 422
    assert fields(r) == {
        "body.nickname": "Extra inputs are not permitted",
        "body.vip": "Extra inputs are not permitted",
    }
    assert "body.nickname" in r.json()["error"]["message"]


async def test_several_errors_are_reported_together(client, admin):
    r = await client.put(
        "/v1/customers/crm-1",
        json={"opted_in": 0, "language": "fr", "timezone": "Nowhere"},
        headers=admin,
    )
    assert set(fields(r)) == {"body.opted_in", "body.language", "body.timezone"}


async def test_birthday_in_the_future_is_refused(client, admin, clock):
    tomorrow_somewhere = (NOW + timedelta(hours=14)).date().isoformat()
    ok = await client.put("/v1/customers/c1", json={"birthday": tomorrow_somewhere}, headers=admin)
    assert ok.status_code == 201
    future = (NOW + timedelta(days=2)).date().isoformat()
    r = await client.put("/v1/customers/c2", json={"birthday": future}, headers=admin)
    assert r.status_code == 422
    assert fields(r) == {"body.birthday": "a birthday cannot be in the future"}


async def test_too_many_attributes(client, admin):
    attrs = {f"k{i}": i for i in range(51)}
    r = await client.put("/v1/customers/c1", json={"attributes": attrs}, headers=admin)
    assert "body.attributes" in fields(r)
    attrs.pop("k50")
    assert (
        await client.put("/v1/customers/c1", json={"attributes": attrs}, headers=admin)
    ).status_code == 201


async def test_non_finite_numbers_are_refused(client, admin):
    r = await client.put(
        "/v1/customers/c1",
        content='{"attributes": {"score": NaN}}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert fields(r) == {"body.attributes.score": "numbers must be finite"}


@pytest.mark.parametrize("external_id", ["bad%20id", "a" * 129, "semi;colon", "%C3%A9t%C3%A9"])
async def test_external_id_is_checked(client, admin, external_id):
    r = await client.put(f"/v1/customers/{external_id}", json={}, headers=admin)
    assert r.status_code == 422
    assert "path.external_id" in fields(r)


async def test_malformed_json_is_400(client, admin):
    r = await client.put(
        "/v1/customers/crm-1",
        content=b'{"first_name": "Ann",}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_json"
    assert "not valid JSON" in error["message"]


async def test_body_must_be_json(client, admin):
    r = await client.put(
        "/v1/customers/crm-1",
        content=b"first_name=Ann",
        headers={**admin, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"


async def test_missing_body_is_422(client, admin):
    r = await client.put("/v1/customers/crm-1", headers=admin)
    assert r.status_code == 422
    assert fields(r) == {"body": "Field required"}


async def test_oversized_body_is_413(client, admin):
    body = json.dumps({"first_name": "A", "attributes": {"blob": "x" * 70_000}})
    r = await client.put(
        "/v1/customers/crm-1",
        content=body,
        headers={**admin, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


async def test_oversized_streamed_body_is_413(client, admin):
    async def chunks():
        yield b'{"attributes": {"blob": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}}'

    r = await client.put(
        "/v1/customers/crm-1",
        content=chunks(),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


# ------------------------------------------------------------------ read


async def test_unknown_customer_is_404_with_its_code(client, admin):
    r = await client.get("/v1/customers/nobody", headers=admin)
    assert r.status_code == 404
    assert r.json() == {
        "error": {"code": "customer_not_found", "message": "customer not found", "details": None}
    }


async def test_paging_through_five_customers_two_at_a_time(client, admin):
    for i in range(5):
        r = await client.put(f"/v1/customers/c{i}", json={"first_name": f"N{i}"}, headers=admin)
        assert r.status_code == 201

    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"after": after} if after is not None else {})
        r = await client.get("/v1/customers", params=params, headers=admin)
        assert r.status_code == 200
        page = r.json()
        assert page["total"] == 5
        assert len(page["items"]) <= 2
        seen += [c["external_id"] for c in page["items"]]
        pages += 1
        after = page["next_after"]
        if after is None:
            break
        assert after == page["items"][-1]["id"]
    assert pages == 3
    assert seen == [f"c{i}" for i in range(5)]


async def test_exact_last_page_has_no_next(client, admin):
    for i in range(4):
        await client.put(f"/v1/customers/c{i}", json={}, headers=admin)
    first = (await client.get("/v1/customers?limit=2", headers=admin)).json()
    second = (await client.get(f"/v1/customers?limit=2&after={first['next_after']}", headers=admin)).json()
    assert len(second["items"]) == 2 and second["next_after"] is None


async def test_default_page_on_an_empty_book(client, admin):
    r = await client.get("/v1/customers", headers=admin)
    assert r.json() == {"items": [], "total": 0, "next_after": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("limit=201", "query.limit"),
        ("limit=12abc", "query.limit"),
        ("after=-1", "query.after"),
        ("after=x", "query.after"),
    ],
)
async def test_paging_parameters_are_checked(client, admin, query, field):
    r = await client.get(f"/v1/customers?{query}", headers=admin)
    assert r.status_code == 422
    assert field in fields(r)


# ------------------------------------------------------------------ link tokens


async def test_link_token_uses_the_bot_username_the_bot_stored(client, admin, sessionmaker, clock):
    async with sessionmaker() as s:
        s.add(BotState(key="bot_username", value="shop_help_bot", updated_at=clock.now()))
        await s.commit()
    await client.put("/v1/customers/crm-9", json={"first_name": "Ivan"}, headers=admin)

    r = await client.post("/v1/customers/crm-9/link-token", headers=admin)
    assert r.status_code == 201
    body = r.json()
    token = body["token"]
    assert body["deep_link"] == f"https://t.me/shop_help_bot?start={token}"
    assert body["start_command"] == f"/start {token}"
    assert body["expires_at"].startswith("2026-01-17T12:00:00")  # ttl 48 h from settings

    # The token is real: the bot can redeem it for this customer.
    async with sessionmaker() as s:
        linked = await redeem_link_token(s, clock=clock, hooks=customer_hooks(), token=token, telegram_id=555)
        await s.commit()
    assert linked.external_id == "crm-9" and linked.telegram_id == 555


async def test_link_token_before_the_bot_has_run(client, admin):
    await client.put("/v1/customers/crm-9", json={}, headers=admin)
    r = await client.post("/v1/customers/crm-9/link-token", headers=admin)
    assert r.status_code == 201
    body = r.json()
    assert body["deep_link"] is None
    assert body["start_command"] == f"/start {body['token']}"


async def test_link_token_for_an_unknown_customer_is_404(client, admin):
    r = await client.post("/v1/customers/ghost/link-token", headers=admin)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "customer_not_found"


async def test_link_token_needs_write_scope(client, make_key):
    from tests.api.conftest import bearer

    key = await make_key("customers:read")
    r = await client.post("/v1/customers/crm-9/link-token", headers=bearer(key))
    assert r.status_code == 403
