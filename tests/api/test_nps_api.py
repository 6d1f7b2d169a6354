"""/v1/surveys/nps: who is surveyed and who is skipped (and why), idempotency, the report."""

from __future__ import annotations

from datetime import timedelta

from core import customers, nps
from core.customers import CustomerData
from core.loyalty.rules import LoyaltyRules
from core.nps.rules import NpsRules
from storage.models import Customer
from tests.api.conftest import bearer


async def make_customer(
    sessionmaker,
    clock,
    ext: str,
    *,
    telegram_id: int | None = None,  # type: ignore[no-untyped-def]
    opted_in: bool = True,
    reachable: bool = True,
) -> int:
    async with sessionmaker() as s:
        view, _ = await customers.upsert_by_external_id(
            s, clock=clock, external_id=ext, data=CustomerData(first_name=ext)
        )
        row = await s.get(Customer, view.id)
        row.telegram_id, row.opted_in, row.reachable = telegram_id, opted_in, reachable
        await s.commit()
        return view.id


async def test_trigger_list_counts_skips_by_reason(client, admin, sessionmaker, clock) -> None:
    await make_customer(sessionmaker, clock, "ok", telegram_id=101)
    await make_customer(sessionmaker, clock, "out", telegram_id=102, opted_in=False)
    await make_customer(sessionmaker, clock, "gone", telegram_id=103, reachable=False)
    await make_customer(sessionmaker, clock, "web-only")
    body = {"idempotency_key": "nps-1", "external_ids": ["ok", "out", "gone", "web-only", "ghost"]}
    r = await client.post("/v1/surveys/nps", json=body, headers=admin)
    assert r.status_code == 201, r.text
    res = r.json()
    assert (res["requested"], res["scheduled"], res["skipped"], res["replayed"]) == (5, 1, 4, False)
    assert res["skipped_by_reason"] == {"not_found": 1, "opted_out": 1, "unreachable": 1, "no_telegram": 1}
    assert {c["external_id"]: c["reason"] for c in res["skipped_customers"]} == {
        "ghost": "not_found",
        "out": "opted_out",
        "gone": "unreachable",
        "web-only": "no_telegram",
    }

    again = await client.post("/v1/surveys/nps", json=body, headers=admin)
    assert again.status_code == 200 and again.json() == {**res, "replayed": True}
    r = await client.post("/v1/surveys/nps", json={**body, "external_ids": ["ok"]}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_conflict"

    # A new request for the same customer while one is waiting: skipped.
    r = await client.post(
        "/v1/surveys/nps", json={"idempotency_key": "nps-2", "external_ids": ["ok"]}, headers=admin
    )
    assert r.json()["skipped_by_reason"] == {"already_scheduled": 1}


async def test_segment_audience_validation_and_auth(client, admin, sessionmaker, clock, make_key) -> None:
    reader = bearer(await make_key("surveys:read"))
    r = await client.post("/v1/surveys/nps", json={"idempotency_key": "x", "segment": "all"}, headers=reader)
    assert r.status_code == 403
    for method, path in [
        ("POST", "/v1/surveys/nps"),
        ("GET", "/v1/surveys/nps/report"),
        ("GET", "/v1/surveys/nps/responses"),
    ]:
        r = await client.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == 401, path
    await make_customer(sessionmaker, clock, "a", telegram_id=201)
    r = await client.post("/v1/surveys/nps", json={"idempotency_key": "s-1", "segment": "vip"}, headers=admin)
    assert r.status_code == 201 and r.json()["requested"] == 0
    r = await client.post(
        "/v1/surveys/nps",
        json={"idempotency_key": "s-2", "segment": "never_bought", "delay_minutes": 60},
        headers=admin,
    )
    assert r.json()["scheduled"] == 1
    for bad in (
        {"idempotency_key": "s-3"},
        {"idempotency_key": "s-3", "segment": "all", "external_ids": ["a"]},
        {"idempotency_key": "s-3", "segment": "whales"},
    ):
        r = await client.post("/v1/surveys/nps", json=bad, headers=admin)
        assert r.status_code == 422, bad


async def test_report_and_responses(client, admin, sessionmaker, clock) -> None:
    rules, lrules = NpsRules(), LoyaltyRules()
    scores = {"p1": 10, "p2": 9, "s1": 8, "d1": 3}
    ids = [await make_customer(sessionmaker, clock, ext, telegram_id=300 + i) for i, ext in enumerate(scores)]
    async with sessionmaker() as s:
        for i, (cid, score) in enumerate(zip(ids, scores.values(), strict=True)):
            survey = await nps.start_from_menu(s, clock=clock, rules=rules, customer_id=cid, chat_id=300 + i)
            await nps.record_score(
                s, clock=clock, loyalty_rules=lrules, survey_id=survey.id, customer_id=cid, score=score
            )
            await nps.record_comment(
                s,
                clock=clock,
                survey_id=survey.id,
                customer_id=cid,
                comment="slow delivery" if score < 7 else None,
            )
        await s.commit()
    r = await client.get("/v1/surveys/nps/report", headers=admin)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["responses"], rep["promoters"], rep["passives"], rep["detractors"]) == (4, 2, 1, 1)
    assert rep["nps"] == 25.0 and rep["promoters_percent"] == 50.0 and rep["comments"] == 1
    assert rep["by_tier"] == [
        {"key": "never_bought", "responses": 4, "promoters": 2, "passives": 1, "detractors": 1, "nps": 25.0}
    ]
    assert rep["by_trigger"][0]["key"] == "menu"

    later = (clock.now() + timedelta(days=1)).isoformat()
    empty = (await client.get("/v1/surveys/nps/report", params={"since": later}, headers=admin)).json()
    assert empty["responses"] == 0 and empty["nps"] is None
    vip = (await client.get("/v1/surveys/nps/report", params={"tier": "vip"}, headers=admin)).json()
    assert vip["responses"] == 0

    page = (
        await client.get("/v1/surveys/nps/responses", params={"category": "detractor"}, headers=admin)
    ).json()
    assert [(x["external_id"], x["score"], x["comment"]) for x in page["items"]] == [
        ("d1", 3, "slow delivery")
    ]
    page = (await client.get("/v1/surveys/nps/responses", params={"limit": 3}, headers=admin)).json()
    assert len(page["items"]) == 3 and page["next_after"] is not None
    r = await client.get("/v1/surveys/nps/report", params={"since": "2026-01-01"}, headers=admin)
    assert r.status_code == 422  # a period needs a time zone
