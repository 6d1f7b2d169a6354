"""API-key authentication and scopes, as a backend developer meets them."""

from __future__ import annotations

import pytest

from core.apikeys import list_api_keys, revoke_api_key
from tests.api.conftest import bearer

CUSTOMER = "/v1/customers/crm-1"


async def test_no_key_is_401_with_a_bearer_challenge(client):
    r = await client.get(CUSTOMER)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "unauthorized"
    assert "X-API-Key" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/customers"),
        ("GET", CUSTOMER),
        ("PUT", CUSTOMER),
        ("POST", f"{CUSTOMER}/link-token"),
    ],
)
async def test_every_v1_route_needs_a_key(client, method, path):
    r = await client.request(method, path, json={} if method == "PUT" else None)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


async def test_other_authorization_schemes_count_as_no_key(client):
    r = await client.get(CUSTOMER, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


async def test_bad_key_is_401(client, make_key):
    real = await make_key("*")
    for bad in ("nonsense", "sbk_abcdefgh_" + "x" * 43, real[:-2] + "zz"):
        r = await client.get(CUSTOMER, headers=bearer(bad))
        assert r.status_code == 401, bad
        assert r.json()["error"]["code"] == "invalid_api_key"
        assert r.headers["www-authenticate"] == "Bearer"
        assert bad not in r.text


async def test_revoked_key_is_401(client, make_key, sessionmaker, clock):
    key = await make_key("*")
    assert (await client.get("/v1/customers", headers=bearer(key))).status_code == 200
    async with sessionmaker() as s:
        await revoke_api_key(s, clock=clock, key_id_or_prefix=key[:12])
        await s.commit()
    r = await client.get("/v1/customers", headers=bearer(key))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


async def test_wrong_scope_is_403_naming_the_scope(client, make_key):
    reader = await make_key("customers:read")
    r = await client.put(CUSTOMER, json={"first_name": "Ann"}, headers=bearer(reader))
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "insufficient_scope"
    assert "customers:write" in error["message"]
    assert error["details"] == {
        "required_scope": "customers:write",
        "granted_scopes": ["customers:read"],
    }
    # Nothing was written.
    assert (await client.get(CUSTOMER, headers=bearer(reader))).status_code == 404


async def test_unrelated_scope_cannot_read(client, make_key):
    key = await make_key("faq:read", "analytics:read")
    r = await client.get("/v1/customers", headers=bearer(key))
    assert r.status_code == 403
    assert r.json()["error"]["details"]["required_scope"] == "customers:read"


async def test_star_scope_reads_and_writes(client, make_key):
    key = await make_key("*")
    assert (await client.put(CUSTOMER, json={}, headers=bearer(key))).status_code == 201
    assert (await client.get(CUSTOMER, headers=bearer(key))).status_code == 200
    r = await client.post(f"{CUSTOMER}/link-token", headers=bearer(key))
    assert r.status_code == 201


async def test_x_api_key_header_works_too(client, make_key):
    key = await make_key("customers:read")
    r = await client.get("/v1/customers", headers={"X-API-Key": key})
    assert r.status_code == 200


async def test_auth_comes_before_validation(client):
    # An anonymous caller learns nothing about the request's shape.
    r = await client.put("/v1/customers/bad%20id", json={"opted_in": 0})
    assert r.status_code == 401


async def test_use_is_recorded_on_the_key(client, make_key, sessionmaker, clock):
    key = await make_key("customers:read")
    clock.advance(hours=1)
    await client.get("/v1/customers", headers=bearer(key))
    async with sessionmaker() as s:
        (view,) = await list_api_keys(s)
    assert view.last_used_at == clock.now()
