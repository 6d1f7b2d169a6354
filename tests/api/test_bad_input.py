"""Issue 11: bad input never stops the machine. Each case answers a clear 4xx (or is handled),
and the rest of the product keeps working through it: after the bad input a normal campaign,
message and report must succeed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.outreach import campaigns as svc
from core.outreach.rules import OutreachRules
from core.outreach.variables import cart_summary, values_for
from storage.models import Customer
from storage.models_outreach import OutreachStats
from tests.api.test_campaigns_api import dormant

HUGE = 9223372036854775808


def _event(kind: str = "activity", **kw):  # type: ignore[no-untyped-def]
    return {
        "events": [
            {"event_id": kw.pop("event_id", "e-1"), "customer_external_id": "crm-0", "kind": kind, **kw}
        ]
    }


def _field(r) -> str:  # type: ignore[no-untyped-def]
    return " ".join(d["field"] + " " + d["message"] for d in r.json()["error"]["details"])


async def _normal_work_succeeds(client, admin) -> None:  # type: ignore[no-untyped-def]
    """A normal campaign, a single message and a report: all must work."""
    r = await client.post("/v1/campaigns", json={"name": "after", "playbook": "winback"}, headers=admin)
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/messages",
        json={"customer_external_id": "crm-1", "templates": {"en": "Hi {name|}"}},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = await client.get("/v1/analytics/summary", headers=admin)
    assert r.status_code == 200, r.text
    r = await client.get("/v1/analytics/retention", headers=admin)
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ 1. one bad event


@pytest.mark.parametrize(
    "data",
    [
        {"items": 5},
        {"items": "boots"},
        {"items": [5]},
        {"items": [{"qty": 1}]},
        {"items": [{"name": "x", "quantity": "2"}]},
        {"items": [{"name": "x"}], "value": "1E+5"},
        {"items": []},
    ],
)
async def test_cart_event_of_the_wrong_shape_is_422_naming_the_field(client, admin, data) -> None:
    r = await client.post("/v1/events", json=_event("cart_abandoned", data=data), headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text
    assert "data" in _field(r)


async def test_a_valid_cart_event_is_accepted_and_other_kinds_keep_free_form_data(client, admin) -> None:
    r = await client.post(
        "/v1/events",
        json=_event(
            "cart_abandoned",
            data={
                "items": [{"name": "Boots", "quantity": 2, "sku": "B-1", "price": "59.90"}],
                "value": 119.8,
                "currency": "EUR",
            },
        ),
        headers=admin,
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/events", json=_event("activity", event_id="e-2", data={"items": 5, "x": [1]}), headers=admin
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "cart",
    [
        {"items": 5},
        {"items": "x"},
        {"items": [None, 3, {"name": None}, {"name": {"a": 1}}]},
        [1, 2],
        "cart",
        7,
        {"items": [{"name": "A"}, 5, "B"]},
        None,
        {},
    ],
)
def test_cart_summary_is_total(cart) -> None:  # type: ignore[no-untyped-def]
    out = cart_summary(cart)
    assert out is None or isinstance(out, str)


def test_values_for_never_raises_on_bad_stored_data(clock) -> None:  # type: ignore[no-untyped-def]
    class C:
        id = 1
        language = "xx-bad"
        timezone = "Not/AZone"
        first_name = None
        username = None

    stats = OutreachStats(
        customer_id=1,
        orders_count="many",
        spend_minor=None,
        cart={"items": 5},  # type: ignore[arg-type]
        last_purchase_at="yesterday",
        subscription_expires_at=None,
        last_product=None,
    )
    values = values_for(C(), stats, now=clock.now(), rules=OutreachRules(), balance=None)  # type: ignore[arg-type]
    assert values["cart_items"] is None and values["balance"] == 0
    assert values["days_since_last_order"] is None


async def test_bad_cart_stored_before_validation_does_not_stop_outreach(
    client, admin, sessionmaker, clock
) -> None:
    ext = await dormant(client, admin, sessionmaker, clock, 3)
    async with sessionmaker.begin() as s:  # data from before validation existed
        cid = (await s.execute(select(Customer.id).where(Customer.external_id == ext[0]))).scalar_one()
        await s.execute(
            update(OutreachStats)
            .where(OutreachStats.customer_id == cid)
            .values(cart={"items": 5}, cart_abandoned_at=clock.now() - timedelta(days=1))
        )
    body = {"name": "cart", "playbook": "abandoned_cart", "customer_external_ids": ext}
    r = await client.post("/v1/campaigns/dry-run", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert all("{" not in text for sample in r.json()["samples"] for text in sample["steps"])
    r = await client.post(
        "/v1/campaigns",
        json={**body, "steps": [{"templates": {"en": "{name|Hi}: {cart_items|your cart}, {tier}"}}]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    await _normal_work_succeeds(client, admin)


# ------------------------------------------------------------------ 2. large amounts


@pytest.mark.parametrize("amount", [999999999999999, "999999999999999", "1000000000.01", 1e10])
async def test_amounts_above_the_maximum_are_422(client, admin, amount) -> None:
    r = await client.post(
        "/v1/orders",
        json={"order_id": "A-1", "customer_external_id": "crm-0", "amount": amount, "currency": "USD"},
        headers=admin,
    )
    assert r.status_code == 422 and "amount" in _field(r), r.text


async def test_many_orders_of_the_maximum_keep_every_report_working(client, admin) -> None:
    for i in range(100):
        r = await client.post(
            "/v1/orders",
            json={
                "order_id": f"A-{i}",
                "customer_external_id": "crm-1",
                "amount": "1000000000",
                "currency": "USD",
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
    r = await client.get("/v1/customers/crm-1/loyalty", headers=admin)
    assert r.status_code == 200 and r.json()["spendable"] == 100 * 1_000_000_000, r.text
    await _normal_work_succeeds(client, admin)


# ------------------------------------------------------------------ 3. huge integers in parameters


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/customers?after={HUGE}",
        "/v1/customers?after=9223372036854775807",
        "/v1/customers?after=2147483648",
        f"/v1/surveys/nps/responses?after={HUGE}",
        f"/v1/campaigns?after={HUGE}",
        f"/v1/campaigns/{HUGE}",
        f"/v1/campaigns/{HUGE}/recipients",
        f"/v1/campaigns/1/recipients?after={HUGE}",
        f"/v1/support/cases?after={HUGE}",
        f"/v1/support/cases?customer_id={HUGE}",
        f"/v1/support/cases/{HUGE}",
        f"/v1/customers/crm-1/loyalty/history?before={HUGE}",
    ],
)
async def test_huge_integers_in_parameters_are_422(client, admin, path) -> None:
    r = await client.get(path, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", (path, r.text)


# ------------------------------------------------------------------ 4. NUL and lone surrogates


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("put", "/v1/customers/crm-1", {"first_name": "An\u0000na"}, "first_name"),
        ("put", "/v1/customers/crm-1", {"attributes": {"plan": "p\u0000"}}, "attributes"),
        ("post", "/v1/events", _event(product="mug\u0000"), "product"),
        ("post", "/v1/events", _event(data={"note": "a\u0000b"}), "data"),
        ("post", "/v1/events", _event(data={"k\u0000": 1}), "data"),
        (
            "post",
            "/v1/orders",
            {
                "order_id": "A-1",
                "customer_external_id": "crm-1",
                "amount": "1",
                "currency": "USD",
                "promo_code": "SAVE\u0000",
            },
            "promo_code",
        ),
        ("post", "/v1/campaigns", {"name": "x\u0000", "playbook": "winback"}, "name"),
    ],
)
async def test_nul_and_lone_surrogates_are_422_naming_the_field(
    client, admin, method, path, body, field
) -> None:
    r = await client.request(method, path, json=body, headers=admin)
    assert r.status_code == 422 and field in _field(r), r.text


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/v1/customers/crm-1", '{"first_name": "An\\ud800na"}', "first_name"),
        ("/v1/customers/crm-1", '{"first_name": "An\\u0000na"}', "first_name"),
        ("/v1/customers/crm-1", '{"attributes": {"a": "\\udfff"}}', "attributes"),
    ],
)
async def test_escaped_nul_and_lone_surrogates_in_raw_json_are_422(client, admin, path, raw, field) -> None:
    r = await client.put(path, content=raw, headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 422 and field in _field(r), r.text


def test_every_request_model_rejects_bad_text() -> None:
    """No request body model escapes the shared check: each one derives from api.schemas.common.Input."""
    import importlib
    import pkgutil
    import typing

    from pydantic import BaseModel

    import api.schemas
    from api.app import create_app
    from api.schemas.common import Input
    from core.clock import FrozenClock
    from core.settings import Settings

    spec = create_app(
        settings=Settings(_env_file=None),
        sessionmaker=None,
        clock=FrozenClock(),  # type: ignore[arg-type]
        engine=None,
    ).openapi()  # type: ignore[arg-type]
    classes: dict[str, type[BaseModel]] = {}
    for info in pkgutil.walk_packages(api.schemas.__path__, "api.schemas."):  # packages too (outreach/)
        m = importlib.import_module(info.name)
        classes.update({k: v for k, v in vars(m).items() if isinstance(v, type) and issubclass(v, BaseModel)})
    bodies = set()
    for ops in spec["paths"].values():
        for op in ops.values():
            for media in (op.get("requestBody") or {}).get("content", {}).values():
                ref = (media.get("schema") or {}).get("$ref")
                if ref:
                    bodies.add(ref.rsplit("/", 1)[-1])
    seen: set[type] = set()

    def types_in(annotation: typing.Any) -> list[typing.Any]:
        out = [annotation]
        for arg in typing.get_args(annotation):
            out.extend(types_in(arg))
        return out

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        assert issubclass(model, Input), f"{model.__name__} must derive from api.schemas.common.Input"
        for f in model.model_fields.values():
            for arg in types_in(f.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    walk(arg)

    assert bodies, "no request bodies found in the OpenAPI document"
    for name in bodies:
        assert name in classes, f"request body {name} is not a model of api.schemas"
        walk(classes[name])
    assert len(seen) >= 15


def test_every_string_in_a_request_schema_is_bounded() -> None:
    from api.app import create_app
    from core.clock import FrozenClock
    from core.settings import Settings

    spec = create_app(
        settings=Settings(_env_file=None),
        sessionmaker=None,
        clock=FrozenClock(),  # type: ignore[arg-type]
        engine=None,
    ).openapi()  # type: ignore[arg-type]
    unbounded = []

    def check(schema, where):  # type: ignore[no-untyped-def]
        if not isinstance(schema, dict):
            return
        if schema.get("type") == "string" and not ({"maxLength", "pattern", "enum", "const"} & set(schema)):
            unbounded.append(where)
        for key in ("properties",):
            for name, sub in (schema.get(key) or {}).items():
                check(sub, f"{where}.{name}")
        for key in ("anyOf", "oneOf", "allOf"):
            for i, sub in enumerate(schema.get(key) or []):
                check(sub, f"{where}[{i}]")
        if "items" in schema:
            check(schema["items"], f"{where}[]")
        if isinstance(schema.get("additionalProperties"), dict):
            check(schema["additionalProperties"], f"{where}{{}}")

    for name, schema in spec["components"]["schemas"].items():
        if name.endswith("In") or name in {"CustomerUpsert"}:
            check(schema, name)
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                check(p.get("schema"), f"{method} {path} {p['name']}")
    assert not unbounded, unbounded


# ------------------------------------------------------------------ 5. one format per field


@pytest.mark.parametrize(
    "amount",
    [
        "١٢٣",
        " 12",
        "12 ",
        "1E+5",
        "1e5",
        "+12",
        "-1",
        "12,50",
        "0",
        0,
        True,
        "NaN",
        "Infinity",
        "0x10",
        "1_000",
    ],
)
async def test_amounts_have_one_format(client, admin, amount) -> None:
    r = await client.post(
        "/v1/orders",
        json={"order_id": "A-1", "customer_external_id": "crm-0", "amount": amount, "currency": "USD"},
        headers=admin,
    )
    assert r.status_code == 422 and "amount" in _field(r), (amount, r.text)


@pytest.mark.parametrize("placed_at", [0, 1700000000, "1700000000", "2026-01-15", "2026-01-15T10:00:00"])
async def test_datetimes_are_iso_strings_with_a_zone_only(client, admin, placed_at) -> None:
    r = await client.post(
        "/v1/orders",
        json={
            "order_id": "A-1",
            "customer_external_id": "crm-0",
            "amount": "1",
            "currency": "USD",
            "placed_at": placed_at,
        },
        headers=admin,
    )
    assert r.status_code == 422 and "placed_at" in _field(r), (placed_at, r.text)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/analytics/retention?end=0",
        "/v1/analytics/summary?start=0",
        "/v1/faq/insights/deflection?end=0",
        "/v1/analytics/cohorts?start=20250101",
        "/v1/exit-interviews/report?since=0",
        "/v1/surveys/nps/report?since=0",
    ],
)
async def test_dates_in_queries_are_iso_only(client, admin, path) -> None:
    r = await client.get(path, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", (path, r.text)


# ------------------------------------------------------------------ 8. a campaign that cannot do what it says


async def test_a_step_within_the_frequency_cap_is_reported(client, admin, sessionmaker, clock) -> None:
    await dormant(client, admin, sessionmaker, clock, 2)
    body = {
        "name": "too close",
        "segment": {"kind": "dormant"},
        "steps": [
            {"templates": {"en": "one"}},
            {"delay_days": 2, "templates": {"en": "two"}},
            {"delay_days": 14, "templates": {"en": "three"}},
        ],
    }
    r = await client.post("/v1/campaigns/dry-run", json=body, headers=admin)
    assert r.status_code == 200
    assert [(w["code"], w["step"]) for w in r.json()["warnings"]] == [("step_blocked_by_frequency_cap", 2)]
    r = await client.post("/v1/campaigns", json=body, headers=admin)
    assert r.status_code == 201
    assert [(w["code"], w["step"]) for w in r.json()["warnings"]] == [("step_blocked_by_frequency_cap", 2)]
    r = await client.post("/v1/campaigns", json={"name": "fine", "playbook": "winback"}, headers=admin)
    assert r.status_code == 201 and r.json()["warnings"] == []


def test_cap_warning_rule() -> None:
    rules = OutreachRules(cap=timedelta(days=7))
    steps = [{"delay_seconds": 0}, {"delay_seconds": 7 * 86400}, {"delay_seconds": 6 * 86400}]
    assert [w.step for w in svc.frequency_cap_warnings(steps, rules=rules)] == [3]
    assert svc.frequency_cap_warnings(steps, rules=OutreachRules(cap=timedelta(0))) == []


@pytest.mark.parametrize("value", [HUGE, -HUGE - 1, 2**63 - 1, 1e308])
async def test_segment_attribute_filters_never_500(client, admin, value) -> None:
    r = await client.put("/v1/customers/crm-1", json={"attributes": {"n": 1}}, headers=admin)
    assert r.status_code in (200, 201), r.text
    r = await client.post(
        "/v1/segments/preview", json={"kind": "all", "attributes": {"n": value}}, headers=admin
    )
    assert r.status_code in (200, 422), r.text


async def test_reports_survive_sums_beyond_64_bits_stored_before_the_cap(
    client, admin, sessionmaker, clock
) -> None:
    """Orders stored before amounts were capped: SQLite's SUM overflows; the reports still answer."""
    from storage.models_loyalty import Order

    r = await client.put("/v1/customers/crm-1", json={"first_name": "Big"}, headers=admin)
    async with sessionmaker.begin() as s:
        cid = (await s.execute(select(Customer.id).where(Customer.external_id == "crm-1"))).scalar_one()
        for i in range(3):
            big = 2**62
            s.add(
                Order(
                    external_id=f"legacy-{i}",
                    customer_id=cid,
                    amount_minor=big,
                    currency="USD",
                    base_amount_minor=big,
                    refunded_minor=0,
                    base_refunded_minor=0,
                    status="completed",
                    points_earned=0,
                    placed_at=clock.now() - timedelta(days=3 + i),
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
    for path in ("/v1/analytics/retention", "/v1/analytics/summary", "/v1/analytics/revenue-churn"):
        r = await client.get(path, headers=admin)
        assert r.status_code == 200, (path, r.text)


async def test_balance_survives_sums_beyond_64_bits_stored_before_the_cap(
    client, admin, sessionmaker, clock
) -> None:
    from storage.models_loyalty import LedgerEntry, Order

    await client.put("/v1/customers/crm-1", json={"first_name": "Big"}, headers=admin)
    async with sessionmaker.begin() as s:
        cid = (await s.execute(select(Customer.id).where(Customer.external_id == "crm-1"))).scalar_one()
        for i in range(3):
            s.add(
                Order(
                    external_id=f"legacy-{i}",
                    customer_id=cid,
                    amount_minor=2**62,
                    currency="USD",
                    base_amount_minor=2**62,
                    refunded_minor=0,
                    base_refunded_minor=0,
                    status="completed",
                    points_earned=0,
                    placed_at=clock.now() - timedelta(days=3),
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
            s.add(
                LedgerEntry(
                    customer_id=cid,
                    kind="adjust",
                    points=2**62,
                    reason="legacy",
                    idempotency_key=f"l{i}",
                    available_at=clock.now() - timedelta(days=1),
                    created_at=clock.now(),
                )
            )
    r = await client.get("/v1/customers/crm-1/loyalty", headers=admin)
    assert r.status_code == 200 and r.json()["spendable"] == 3 * 2**62, r.text
