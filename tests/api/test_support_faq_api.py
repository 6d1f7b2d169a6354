"""Support cases, the staff-group queue and the FAQ through the HTTP API."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from core import customers, faq_stats, support
from core.faq import FaqLibrary
from tests.api.conftest import bearer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def faq(app, tmp_path) -> FaqLibrary:  # type: ignore[no-untyped-def]
    folder = tmp_path / "faq"
    shutil.copytree(ROOT / "faq", folder)
    library = FaqLibrary.from_dir(folder)
    app.state.faq = library
    return library


async def test_cases_and_queue(client: httpx.AsyncClient, admin, sessionmaker, clock) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=5, first_name="A")
        case, _ = await support.open_case(
            s,
            clock=clock,
            customer_id=c.id,
            group_chat_id=-100,
            origin="menu",
            origin_text="where is my order?",
        )
        await support.relay_customer_message(
            s, clock=clock, case=case, chat_id=5, message_id=7, kind="text", text="hello"
        )
    r = await client.get("/v1/support/cases", headers=admin, params={"status": "active"})
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(i["number"], i["status"], i["origin_text"]) for i in items] == [
        (1, "waiting", "where is my order?")
    ]
    r = await client.get(f"/v1/support/cases/{items[0]['id']}", headers=admin)
    assert r.status_code == 200 and r.json()["messages"][0]["text"] == "hello"
    assert (await client.get("/v1/support/cases/999", headers=admin)).status_code == 404
    r = await client.get("/v1/support/queue", headers=admin)
    assert r.json() == {"groups": {"-100": 2}, "total": 2}  # the card and the message
    for path in ("/v1/support/cases", "/v1/support/cases/1", "/v1/support/queue"):
        assert (await client.get(path)).status_code == 401
    r = await client.get("/v1/support/queue", headers=bearer(await _key(client, "faq:read")))
    assert r.status_code == 403


async def _key(client: httpx.AsyncClient, scope: str) -> str:
    app = client._transport.app  # type: ignore[attr-defined]
    from core.apikeys import create_api_key

    async with app.state.sessionmaker.begin() as s:
        key, _ = await create_api_key(s, clock=app.state.clock, name="x", scopes=[scope])
    return key


async def test_faq_get_put_roundtrip_and_validation(client: httpx.AsyncClient, admin, faq) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/v1/faq", headers=admin)
    assert set(r.json()["languages"]) == {"en", "ru"}
    r = await client.get("/v1/faq/en", headers=admin)
    assert r.status_code == 200
    etag = r.headers["etag"]
    doc = r.json()
    assert len(doc["entries"]) >= 20

    # A broken document is refused with every problem listed; the old content stays live.
    broken = dict(doc, entries=[dict(doc["entries"][0], category="nope")] + doc["entries"][1:])
    r = await client.put("/v1/faq/en", headers=admin, json=broken)
    assert r.status_code == 422
    assert any("unknown category 'nope'" in d["message"] for d in r.json()["error"]["details"])
    assert faq.search("en", "how long does delivery take").kind == "answer"

    # A valid YAML replacement goes live, and a stale If-Match is refused.
    new = dict(doc, entries=[e for e in doc["entries"] if e["category"] != "delivery"])
    r = await client.put(
        "/v1/faq/en",
        headers={**admin, "Content-Type": "application/yaml", "If-Match": etag},
        content=yaml.safe_dump(new, allow_unicode=True),
    )
    assert r.status_code == 200, r.text
    assert r.json()["entries"] == len(new["entries"])
    r = await client.put("/v1/faq/en", headers={**admin, "If-Match": etag}, json=doc)
    assert r.status_code == 412
    r = await client.put(
        "/v1/faq/en",
        headers=admin,
        content=b"{oops",
    )
    assert r.status_code == 422
    r = await client.get("/v1/faq/de", headers=admin)
    assert r.status_code == 404
    for method, path in (("GET", "/v1/faq"), ("GET", "/v1/faq/en"), ("PUT", "/v1/faq/en")):
        assert (await client.request(method, path, json={})).status_code == 401


async def test_gaps_and_deflection(client: httpx.AsyncClient, admin, sessionmaker, clock, faq) -> None:  # type: ignore[no-untyped-def]
    now = clock.now()
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=9, first_name="B")
        for text in ("Can I pay with crypto?", "can i pay with crypto", "Do you ship to Mars?"):
            await faq_stats.record_query(
                s,
                now=now,
                customer_id=c.id,
                language="en",
                text=text,
                result="none",
                entry_id=None,
                score=None,
            )
        ok = await faq_stats.record_query(
            s,
            now=now,
            customer_id=c.id,
            language="en",
            text="delivery time",
            result="answer",
            entry_id="delivery-time",
            score=80,
        )
        bad = await faq_stats.record_query(
            s,
            now=now - timedelta(days=1),
            customer_id=c.id,
            language="en",
            text="returns",
            result="answer",
            entry_id="returns-how",
            score=70,
        )
        await faq_stats.set_feedback(s, query_id=ok, customer_id=c.id, helpful=True)
        await faq_stats.set_feedback(s, query_id=bad, customer_id=c.id, helpful=False)
    r = await client.get("/v1/faq/insights/gaps", headers=admin)
    assert r.status_code == 200
    top = r.json()["items"][0]
    assert (top["normalized"], top["count"], top["unanswered"]) == ("can i pay with crypto", 2, 2)
    r = await client.get(
        "/v1/faq/insights/deflection",
        headers=admin,
        params={"start": str((now - timedelta(days=1)).date()), "end": str(now.date())},
    )
    body = r.json()
    assert [(d["questions"], d["deflected"]) for d in body["days"]] == [(1, 0), (4, 1)]
    assert body["rate"] == pytest.approx(1 / 5)
    r = await client.get(
        "/v1/faq/insights/deflection", headers=admin, params={"start": "2026-02-01", "end": "2026-01-01"}
    )
    assert r.status_code == 422
    for path in ("/v1/faq/insights/gaps", "/v1/faq/insights/deflection"):
        assert (await client.get(path)).status_code == 401


async def test_faq_routes_answer_cleanly_without_content(client: httpx.AsyncClient, admin) -> None:  # type: ignore[no-untyped-def]
    """An app built without FAQ files gives 404 with a code, not a crash."""
    r = await client.get("/v1/faq/en", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "faq_language_not_found"
