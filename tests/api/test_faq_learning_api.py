"""Learned phrasings (/v1/faq/learned), gap clusters and assisted answers through the HTTP API."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from core import customers, faq_learning, faq_stats
from core.faq import FaqLibrary
from tests.api.conftest import bearer

ROOT = Path(__file__).resolve().parents[2]
PHRASING = "the thingy with my parcel number is dead"


@pytest.fixture
def faq(app, tmp_path) -> FaqLibrary:  # type: ignore[no-untyped-def]
    folder = tmp_path / "faq"
    shutil.copytree(ROOT / "faq", folder)
    library = FaqLibrary.from_dir(folder)
    app.state.faq = library
    return library


async def _key(client: httpx.AsyncClient, scope: str) -> dict[str, str]:
    app = client._transport.app  # type: ignore[attr-defined]
    from core.apikeys import create_api_key

    async with app.state.sessionmaker.begin() as s:
        key, _ = await create_api_key(s, clock=app.state.clock, name="reader", scopes=[scope])
    return bearer(key)


async def test_learned_list_approve_reject(
    client: httpx.AsyncClient, admin, sessionmaker, clock, faq
) -> None:  # type: ignore[no-untyped-def]
    before = faq.search("en", PHRASING)
    assert before.best is None or before.best.id != "delivery-tracking"
    version = faq.version("en")
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=21, first_name="C")
        first, created = await faq_learning.teach(
            s,
            clock=clock,
            language="en",
            entry_id="delivery-tracking",
            text=PHRASING,
            customer_id=c.id,
            taught_by=500,
        )
        again, created_again = await faq_learning.teach(
            s, clock=clock, language="en", entry_id="delivery-tracking", text=PHRASING.upper()
        )
        other, _ = await faq_learning.teach(
            s, clock=clock, language="ru", entry_id="delivery-late", text="где мой пакетик", taught_by=500
        )
    assert created and not created_again and again.id == first.id
    r = await client.get("/v1/faq/learned", headers=admin, params={"status": "pending"})
    assert r.status_code == 200
    assert {(i["id"], i["status"]) for i in r.json()["items"]} == {
        (first.id, "pending"),
        (other.id, "pending"),
    }
    r = await client.get("/v1/faq/learned", headers=admin, params={"language": "ru"})
    assert [i["text"] for i in r.json()["items"]] == ["где мой пакетик"]

    r = await client.post(f"/v1/faq/learned/{first.id}/approve", headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["entry_id"], body["taught_by"]) == ("approved", "delivery-tracking", 500)
    assert body["decided_by"] and body["decided_at"]
    after = faq.search("en", PHRASING)  # matched at once, no reload
    assert after.best is not None and after.best.id == "delivery-tracking" and after.kind == "answer"
    assert faq.version("en") == version  # the content itself did not change
    assert (await client.post(f"/v1/faq/learned/{first.id}/approve", headers=admin)).status_code == 409

    r = await client.post(f"/v1/faq/learned/{first.id}/reject", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    gone = faq.search("en", PHRASING)
    assert gone.best is None or gone.best.id != "delivery-tracking" or gone.kind != "answer"
    r = await client.post(f"/v1/faq/learned/{other.id}/reject", headers=admin)
    assert r.status_code == 200
    assert (await client.post(f"/v1/faq/learned/{other.id}/reject", headers=admin)).status_code == 409
    assert (await client.post("/v1/faq/learned/9999/approve", headers=admin)).status_code == 404
    assert (await client.get("/v1/faq/learned", headers=admin, params={"status": "maybe"})).status_code == 422

    reader = await _key(client, "faq:read")
    assert (await client.get("/v1/faq/learned", headers=reader)).status_code == 200
    assert (await client.post(f"/v1/faq/learned/{first.id}/approve", headers=reader)).status_code == 403
    for method, path in (
        ("get", "/v1/faq/learned"),
        ("post", f"/v1/faq/learned/{first.id}/approve"),
        ("post", f"/v1/faq/learned/{first.id}/reject"),
    ):
        assert (await client.request(method, path)).status_code == 401


async def test_gap_clusters_and_assisted_answers(
    client: httpx.AsyncClient, admin, sessionmaker, clock, faq
) -> None:  # type: ignore[no-untyped-def]
    now = clock.now()
    async with sessionmaker.begin() as s:
        c, _ = await customers.touch_telegram_user(s, clock=clock, telegram_id=22, first_name="D")
        for text in (
            "can I cancel my order",
            "Can I cancel my order",
            "how to cancel an order",
            "cancel order before shipping",
            "do you gift wrap",
            "gift wrapping available?",
            "are you hiring",
        ):
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
        await faq_stats.record_query(
            s,
            now=now,
            customer_id=c.id,
            language="en",
            text="delivery time",
            result="answer",
            entry_id="delivery-time",
            score=80,
        )
        await faq_learning.record_assisted(
            s,
            clock=clock,
            customer_id=c.id,
            language="en",
            text="wheres my stuff",
            entry_id="delivery-tracking",
        )
    r = await client.get("/v1/faq/insights/gaps", headers=admin)
    assert r.status_code == 200
    clusters = r.json()["clusters"]
    assert [(c["title"], c["count"], c["phrasings"]) for c in clusters] == [
        ("Can I cancel my order", 4, 3),
        ("do you gift wrap", 2, 2),
        ("are you hiring", 1, 1),
    ]
    assert "cancel" in clusters[0]["terms"] and len(clusters[0]["examples"]) == 3
    r = await client.get("/v1/faq/insights/gaps", headers=admin, params={"clusters": 1, "similarity": 0.9})
    assert len(r.json()["clusters"]) == 1
    r = await client.get(
        "/v1/faq/insights/deflection",
        headers=admin,
        params={"start": str(now.date()), "end": str(now.date())},
    )
    body = r.json()
    assert (body["questions"], body["deflected"], body["assisted"]) == (8, 1, 1)
    assert body["days"][0]["assisted"] == 1
