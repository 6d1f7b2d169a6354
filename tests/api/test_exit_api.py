"""/v1/exit-interviews, /v1/features/shipped and /v1/promo-codes."""

from __future__ import annotations

from datetime import timedelta

from core import exit_interview as ex
from storage.models_loyalty import LoyaltyNotice
from tests.api.conftest import bearer
from tests.api.test_nps_api import make_customer


async def answer(
    sessionmaker,
    clock,
    interview_id: int,
    customer_id: int,
    reason: str,  # type: ignore[no-untyped-def]
    detail: str | None = None,
) -> None:
    rules = ex.ExitRules()
    async with sessionmaker() as s:
        await ex.claim_interviews(s, clock=clock, cap=timedelta(days=7))
        await ex.interview_sent(s, clock=clock, interview_id=interview_id, chat_id=1, message_id=1)
        await ex.choose_reason(
            s, clock=clock, rules=rules, interview_id=interview_id, customer_id=customer_id, reason=reason
        )
        if detail is not None:
            await ex.set_detail(
                s, clock=clock, interview_id=interview_id, customer_id=customer_id, text=detail
            )
        await s.commit()


async def test_event_schedules_an_interview_once(client, admin, sessionmaker, clock) -> None:
    await make_customer(sessionmaker, clock, "c1", telegram_id=11)
    body = {"idempotency_key": "sub-1-cancel", "external_id": "c1", "event": "subscription_cancelled"}
    r = await client.post("/v1/exit-interviews", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "scheduled" and r.json()["replayed"] is False
    again = await client.post("/v1/exit-interviews", json=body, headers=admin)
    assert again.status_code == 200 and again.json() == {**r.json(), "replayed": True}
    second = await client.post(
        "/v1/exit-interviews", json={**body, "idempotency_key": "acct-1"}, headers=admin
    )
    assert second.status_code == 201
    assert (second.json()["status"], second.json()["skip_reason"]) == ("skipped", "already_scheduled")


async def test_unreachable_or_unknown_customers_and_auth(
    client, admin, sessionmaker, clock, make_key
) -> None:
    reader = bearer(await make_key("surveys:read"))
    r = await client.post("/v1/features/shipped", json={"feature": "x"}, headers=reader)
    assert r.status_code == 403
    for method, path in [
        ("POST", "/v1/exit-interviews"),
        ("GET", "/v1/exit-interviews/report"),
        ("POST", "/v1/features/shipped"),
        ("POST", "/v1/promo-codes"),
        ("GET", "/v1/promo-codes/ABC-1"),
    ]:
        r = await client.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == 401, path
    await make_customer(sessionmaker, clock, "quiet", telegram_id=12, opted_in=False)
    r = await client.post(
        "/v1/exit-interviews",
        headers=admin,
        json={"idempotency_key": "k1", "external_id": "quiet", "event": "account_closed"},
    )
    assert (r.status_code, r.json()["skip_reason"]) == (201, "opted_out")
    r = await client.post(
        "/v1/exit-interviews",
        headers=admin,
        json={"idempotency_key": "k2", "external_id": "nobody", "event": "account_closed"},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "customer_not_found"
    r = await client.post(
        "/v1/exit-interviews",
        headers=admin,
        json={"idempotency_key": "k3", "external_id": "quiet", "event": "Bad Event"},
    )
    assert r.status_code == 422


async def test_report_reasons_features_and_save_rate(client, admin, sessionmaker, clock) -> None:
    people = {}
    for i, (ext, reason, detail) in enumerate(
        [
            ("p1", "price", None),
            ("p2", "price", None),
            ("f1", "feature", "Dark mode"),
            ("f2", "feature", "dark  MODE!"),
            ("b1", "break", None),
        ]
    ):
        cid = await make_customer(sessionmaker, clock, ext, telegram_id=50 + i)
        r = await client.post(
            "/v1/exit-interviews",
            headers=admin,
            json={"idempotency_key": f"e-{ext}", "external_id": ext, "event": "churned"},
        )
        people[ext] = (cid, r.json()["interview_id"], reason, detail)
    for cid, iid, reason, detail in people.values():
        await answer(sessionmaker, clock, iid, cid, reason, detail)
    # p1 buys again within the save window.
    clock.advance(days=3)
    await client.post(
        "/v1/orders",
        headers=admin,
        json={"order_id": "W-1", "customer_external_id": "p1", "amount": "10", "currency": "USD"},
    )
    rep = (await client.get("/v1/exit-interviews/report", headers=admin)).json()
    assert (rep["interviews"], rep["answered"], rep["customers"]) == (5, 5, 5)
    assert rep["reasons"][:2] == [
        {"reason": "price", "count": 2, "share_percent": 40.0, "saved": 1},
        {"reason": "feature", "count": 2, "share_percent": 40.0, "saved": 0},
    ]
    assert rep["top_features"] == [
        {"feature": "Dark mode", "feature_key": "dark mode", "count": 2, "shipped": False}
    ]
    assert (rep["saved"], rep["save_rate_percent"], rep["still_in_window"]) == (1, 20.0, 4)
    assert rep["offers_given"] == 2 and rep["save_window_days"] == 30

    r = await client.post(
        "/v1/features/shipped", json={"feature": "Dark Mode", "aliases": ["night mode"]}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "feature_key": "dark mode",
        "matched_keys": ["dark mode", "night mode"],
        "requests": 2,
        "notified": 2,
    }
    again = (await client.post("/v1/features/shipped", json={"feature": "dark mode"}, headers=admin)).json()
    assert (again["requests"], again["notified"]) == (0, 0)
    async with sessionmaker() as s:
        from sqlalchemy import func, select

        assert (
            await s.scalar(
                select(func.count()).select_from(LoyaltyNotice).where(LoyaltyNotice.kind == "feature_shipped")
            )
            == 2
        )
    rep = (await client.get("/v1/exit-interviews/report", headers=admin)).json()
    assert rep["top_features"][0]["shipped"] is True
    future = (clock.now() + timedelta(days=1)).isoformat()
    empty = (await client.get("/v1/exit-interviews/report", params={"since": future}, headers=admin)).json()
    assert empty["interviews"] == 0 and empty["reasons"] == []


async def test_promo_code_pool_and_lookup(client, admin, sessionmaker, clock) -> None:
    body = {"pool": "exit-save", "discount_percent": 20, "codes": ["SPRING-1", "SPRING-2", "SPRING-1"]}
    r = await client.post("/v1/promo-codes", json=body, headers=admin)
    assert r.status_code == 201 and r.json() == {"added": 2, "existing": []}
    r = await client.post("/v1/promo-codes", json=body, headers=admin)
    assert r.json() == {"added": 0, "existing": ["SPRING-1", "SPRING-2"]}
    r = await client.get("/v1/promo-codes/SPRING-1", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "available"

    # A price answer takes the first pool code; an order with it redeems it.
    cid = await make_customer(sessionmaker, clock, "pp", telegram_id=77)
    iid = (
        await client.post(
            "/v1/exit-interviews",
            headers=admin,
            json={"idempotency_key": "pp-1", "external_id": "pp", "event": "churned"},
        )
    ).json()["interview_id"]
    await answer(sessionmaker, clock, iid, cid, "price")
    got = (await client.get("/v1/promo-codes/SPRING-1", headers=admin)).json()
    assert got["status"] == "assigned" and got["customer_external_id"] == "pp"
    assert got["expires_at"].startswith((clock.now() + timedelta(days=14)).date().isoformat())
    await client.post(
        "/v1/orders",
        headers=admin,
        json={
            "order_id": "P-1",
            "customer_external_id": "pp",
            "amount": "10",
            "currency": "USD",
            "promo_code": "spring-1",
        },
    )
    got = (await client.get("/v1/promo-codes/SPRING-1", headers=admin)).json()
    assert got["status"] == "redeemed" and got["redeemed_order"] == "P-1"

    r = await client.get("/v1/promo-codes/NOPE-1", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "promo_code_not_found"
    r = await client.post(
        "/v1/promo-codes", headers=admin, json={**body, "expires_at": "2020-01-01T00:00:00Z"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "expires_in_past"
