"""A dormant-segment win-back campaign end to end: the real runtime, the Bot API double, the API.

Time is a frozen clock moved by the test (40 days of dormancy, quiet hours in Tokyo, the 14-day
gap before step 2) so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web

from core.clock import FrozenClock
from core.outreach.campaigns import holdout_salt
from core.outreach.rules import in_holdout
from core.outreach.webhooks import SIGNATURE_HEADER, verify
from core.settings import Settings
from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text

pytestmark = pytest.mark.usefixtures("no_violations")

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
async def product(make_settings: Callable[..., Settings], clock: FrozenClock) -> AsyncIterator[Runtime]:
    runtime = Runtime(
        make_settings(outreach_sync_seconds=0.2, outreach_progress_log_seconds=0.5), clock=clock
    )
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
async def backend_hook(clock: FrozenClock) -> AsyncIterator[dict[str, Any]]:
    """The business's webhook receiver: records each call and whether its signature verified."""
    received: dict[str, Any] = {"calls": []}

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get(SIGNATURE_HEADER, "")
        # The test's clock jumps hours and days; a call signed just before a jump arrives just
        # after it. The signature is checked at the time it carries (the replay window itself
        # is pinned by the webhook unit tests).
        stamp = dict(p.split("=", 1) for p in header.split(",") if "=" in p).get("t", "0")
        at = datetime.fromtimestamp(int(stamp), tz=UTC) if stamp.isdigit() else clock.now()
        signed = verify(SECRET, header, body, now=at)
        received["calls"].append(
            {"event": request.headers["X-Outreach-Event"], "signed": signed, "json": await request.json()}
        )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    received["url"] = f"http://127.0.0.1:{port}/hook"
    yield received
    await runner.cleanup()


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or "" for m in messages]


async def linked_user(
    tg: SandboxClient, api: httpx.AsyncClient, name: str, external_id: str, **fields: Any
) -> int:
    """A customer your shop knows, who then opened the bot through their link."""
    r = await api.put(f"/v1/customers/{external_id}", json={"first_name": name, "language": "en", **fields})
    assert r.status_code == 201, r.text
    token = (await api.post(f"/v1/customers/{external_id}/link-token")).json()["token"]
    user = await tg.create_user(name, language_code="en")
    await tg.send_text(user["id"], f"/start {token}")
    await wait_text(tg, user["id"], "linked")
    return int(user["id"])


async def customer_ids(api: httpx.AsyncClient) -> dict[str, int]:
    page = (await api.get("/v1/customers", params={"limit": 200})).json()
    return {c["external_id"]: c["id"] for c in page["items"] if c["external_id"]}


def key_holding_out(ids: dict[str, int], held: set[str], share: float) -> str:
    """An idempotency key whose (stable) holdout is exactly `held` among these customers."""
    for n in itertools.count():
        key = f"winback-e2e-{n}"
        salt = holdout_salt(key)
        if {e for e, cid in ids.items() if in_holdout(salt, cid, share)} == held:
            return key
    raise AssertionError("unreachable")


async def recipients(api: httpx.AsyncClient, campaign_id: int) -> dict[str, dict[str, Any]]:
    r = await api.get(f"/v1/campaigns/{campaign_id}/recipients")
    assert r.status_code == 200
    return {x["external_id"]: x for x in r.json()["items"]}


async def test_dormant_winback_campaign(
    product: Runtime,
    tg: SandboxClient,
    api: httpx.AsyncClient,
    clock: FrozenClock,
    backend_hook: dict[str, Any],
) -> None:
    wake = lambda: (product.ctx.notify("outreach"), product.ctx.notify("outbox"))  # noqa: E731

    # Day 0: nine customers use the bot once; then nothing for 40 days.
    users = {}
    for ext, name, extra in [
        ("a", "Alice", {}),
        ("b", "Boris", {}),
        ("c", "Chloe", {}),
        ("d", "Dmitri", {}),
        ("e", "Emma", {}),
        ("f", "Fyodor", {}),
        ("g", "Greta", {}),
        ("h", "Hugo", {}),
        ("q", "Kenji", {"timezone": "Asia/Tokyo"}),
        ("x", "Xenia", {}),
    ]:
        users[ext] = await linked_user(tg, api, name, ext, **extra)
    last = await tg.last_message_id(users["d"])
    await tg.send_text(users["d"], "/stop")  # Dmitri opts out of offers
    await tg.wait_for_bot_message(users["d"], last + 1)
    await tg.block(users["e"])  # Emma blocks the bot (the bot sees it)

    async def emma_unreachable() -> bool:
        r = await api.get("/v1/customers/e")
        return r.json()["reachable"] is False

    await eventually(emma_unreachable)

    clock.advance(days=40)  # 2026-02-24 12:00 UTC = 21:00 in Tokyo (quiet hours there)
    sent = await tg.send_text(users["x"], "hello again")  # Xenia is active today: not dormant
    await tg.wait_for_bot_message(users["x"], sent["message_id"])
    await tg.deactivate(users["f"])  # Fyodor's account is gone (only a send will tell)
    # Greta got another proactive message today: the weekly cap is spent.
    r = await api.post(
        "/v1/messages", json={"customer_external_id": "g", "templates": {"en": "Your parcel is on its way."}}
    )
    assert r.status_code == 201, r.text
    await wait_text(tg, users["g"], "parcel is on its way")

    # Preview: the dormant segment, without sending anything.
    r = await api.post("/v1/segments/preview", json={"kind": "dormant", "sample_size": 20})
    assert r.status_code == 200
    preview = r.json()
    assert preview["count"] == 9  # everyone but Xenia
    assert preview["contactable"] == 7  # Dmitri opted out, Emma blocked
    assert "x" not in {s["external_id"] for s in preview["sample"]}

    ids = {e: cid for e, cid in (await customer_ids(api)).items() if e != "x"}
    key = key_holding_out(ids, {"h"}, 0.1)
    r = await api.post(
        "/v1/campaigns",
        json={
            "name": "Win-back February",
            "idempotency_key": key,
            "playbook": "winback",
            "playbook_options": {"promo_code": "BACK10", "discount_percent": 10},
            "segment": {"kind": "dormant"},
            "holdout": 0.1,
            "send_window": "any",
            "webhook": {"url": backend_hook["url"], "secret": SECRET},
        },
    )
    assert r.status_code == 201, r.text
    campaign = r.json()
    cid = campaign["id"]
    assert campaign["targeted"] == 9 and campaign["status"] == "running"
    wake()

    # Step 1 reaches Alice, Boris and Chloe: a personal question with one-tap reasons.
    for who in ("a", "b", "c"):
        msg = await wait_text(tg, users[who], "What made you stop?")
        labels = [b["text"] for row in msg["reply_markup"]["inline_keyboard"] for b in row]
        assert "💸 Too expensive" in labels
        assert "BACK10" not in msg["text"]

    async def step1_settled() -> dict[str, Any] | None:
        s = (await api.get(f"/v1/campaigns/{cid}")).json()["stats"]
        done = s["sent"] == 3 and sum(s["skipped"].values()) == 3 and s["failed"] and s["deferred"] == 1
        return s if done else None

    stats = await eventually(step1_settled, timeout=10)
    assert stats["held_out"] == 1 and stats["targeted"] == 9
    assert stats["skipped"] == {"opted_out": 1, "unreachable": 1, "frequency_cap": 1}
    assert stats["failed"] == {"deactivated": 1}
    assert stats["deferred"] == 1  # Kenji: it is 21:00 in Tokyo
    rec = await recipients(api, cid)
    assert rec["h"]["status"] == "held_out" and rec["d"]["status"] == "opted_out"
    assert rec["f"]["stop_reason"] == "deactivated"
    assert (await api.get("/v1/customers/f")).json()["unreachable_reason"] == "deactivated"
    for who in ("h", "d", "e", "g", "q"):
        assert not any("What made you stop?" in t for t in texts(await tg.bot_messages(users[who])))

    # Boris answers in words: his sequence stops; the text goes on like any message.
    await tg.send_text(users["b"], "I moved to another city, nothing personal")
    # Chloe taps a reason: the exit interview takes over in place of the question.
    await tg.press_button(users["c"], "💸 Too expensive")
    await wait_text(tg, users["c"], "Your answer: 💸 Too expensive")

    async def two_replies() -> dict[str, Any] | None:
        rec = await recipients(api, cid)
        return rec if rec["b"]["status"] == "replied" and rec["c"]["status"] == "replied" else None

    rec = await eventually(two_replies)
    assert rec["c"]["reply_choice"] == "price"

    # 10:00 in Tokyo: Kenji gets the question.
    clock.advance(hours=13)
    wake()
    await wait_text(tg, users["q"], "What made you stop?")

    async def sent(n: int) -> bool:
        return (await api.get(f"/v1/campaigns/{cid}")).json()["stats"]["sent"] == n

    await eventually(lambda: sent(4))  # recorded, so step 2 is timed from now

    # Two weeks without an answer: Alice and Kenji get the gift; Boris and Chloe do not.
    clock.advance(days=15, hours=9)  # 10:00 UTC, 19:00 in Tokyo
    wake()
    for who in ("a", "q"):
        gift = await wait_text(tg, users[who], "BACK10")
        assert "10% off" in gift["text"]
    await asyncio.sleep(0.5)
    for who in ("b", "c"):
        assert not any("BACK10" in t for t in texts(await tg.bot_messages(users[who])))

    # Alice buys (and Hugo, in the holdout, buys too): conversions in both groups.
    for order, who in (("A-1", "a"), ("H-1", "h")):
        r = await api.post(
            "/v1/orders",
            json={"order_id": order, "customer_external_id": who, "amount": "49.90", "currency": "USD"},
        )
        assert r.status_code == 201, r.text

    async def converted() -> dict[str, Any] | None:
        s = (await api.get(f"/v1/campaigns/{cid}")).json()["stats"]
        return s if s["converted"] == 1 and s["holdout_converted"] == 1 else None

    stats = await eventually(converted, timeout=10)
    assert stats["sent"] == 6 and stats["reached"] == 4
    assert stats["replied"] == 2 and stats["reply_choices"] == {"price": 1}
    assert stats["conversion_rate"] == pytest.approx(100 / 8)
    assert stats["holdout_conversion_rate"] == 100.0
    assert stats["uplift_pp"] == pytest.approx(100 / 8 - 100)
    assert stats["steps"][1]["sent"] == 2
    rec = await recipients(api, cid)
    assert rec["a"]["converted_at"] is not None and rec["h"]["converted_at"] is not None

    # The backend heard about it, every call signed.
    async def hooks() -> list[dict[str, Any]] | None:
        calls = backend_hook["calls"]
        events = [c["event"] for c in calls]
        return (
            calls
            if events.count("sent") == 6 and "converted" in events and events.count("replied") == 2
            else None
        )

    calls = await eventually(hooks, timeout=10)
    assert all(c["signed"] for c in calls), [(c["event"], c["signed"]) for c in calls]
    assert [c["event"] for c in calls].count("failed") == 1
    assert {c["json"]["external_id"] for c in calls if c["event"] == "converted"} == {"a"}
