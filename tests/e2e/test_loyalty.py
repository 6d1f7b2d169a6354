"""Loyalty end to end: an order through the API shows in /balance with the tier; a referral
pays both sides once; Russian plurals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from babel.dates import format_date

from core.settings import Settings
from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text

pytestmark = pytest.mark.usefixtures("no_violations")


@pytest.fixture
async def product(make_settings: Callable[..., Settings], staff: dict[str, Any]) -> AsyncIterator[Runtime]:
    runtime = Runtime(make_settings(support_chat_id=staff["group_id"], engagement_poll_seconds=0.1))
    await runtime.start()
    yield runtime
    await runtime.stop()


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def linked_user(
    tg: SandboxClient, api: httpx.AsyncClient, external_id: str, name: str, lang: str = "en"
) -> int:
    """A Telegram user tied to the backend customer `external_id` (through a one-time link)."""
    await api.put(f"/v1/customers/{external_id}", json={"first_name": name})
    token = (await api.post(f"/v1/customers/{external_id}/link-token")).json()["token"]
    user = await tg.create_user(name, language_code=lang)
    sent = await tg.send_text(user["id"], f"/start {token}")
    # "Linked", then the welcome with the menu: wait for the last one so nothing is in flight.
    await tg.wait_for_bot_message(user["id"], sent["message_id"], predicate=lambda m: bool(buttons(m)))
    return int(user["id"])


async def test_order_shows_in_balance_with_tier(
    product: Runtime, tg: SandboxClient, api: httpx.AsyncClient
) -> None:
    uid = await linked_user(tg, api, "crm-anna", "Anna")
    r = await api.post(
        "/v1/orders",
        json={"order_id": "A-1", "customer_external_id": "crm-anna", "amount": "129.90", "currency": "USD"},
    )
    assert r.status_code == 201 and r.json()["points_credited"] == 129

    last = await tg.last_message_id(uid)
    await tg.send_text(uid, "/balance")
    screen = await wait_text(tg, uid, "Your points: 129 points", after=last)
    text = screen["text"]
    assert "Tier: First order" in text
    assert "To reach Regular: one more order." in text
    assert "+129 · purchase A-1" in text
    assert "1 point for every $1 you spend" in text
    assert "invite a friend: you get 200 points, they get 100 points" in text
    expires = format_date((product.clock.now() + timedelta(days=365)).date(), format="long", locale="en")
    assert f"without any activity they expire on {expires}" in text
    assert "👥 Invite a friend" in buttons(screen)

    # A second order makes them a regular; the menu button shows the same screen.
    await api.post(
        "/v1/orders",
        json={"order_id": "A-2", "customer_external_id": "crm-anna", "amount": "20", "currency": "USD"},
    )
    last = await tg.last_message_id(uid)
    await tg.send_text(uid, "/menu")
    menu = await tg.wait_for_bot_message(uid, last)
    await tg.press_button(uid, "💎 My points", message_id=menu["message_id"])
    screen = await wait_text(tg, uid, "Your points: 149 points")
    assert "Tier: Regular" in screen["text"]
    assert "To reach Almost VIP: spend $450.10 more and place one more order." in screen["text"]


async def test_russian_plurals(product: Runtime, tg: SandboxClient, api: httpx.AsyncClient) -> None:
    uid = await linked_user(tg, api, "crm-ivan", "Иван", lang="ru")
    await api.post(
        "/v1/orders",
        json={"order_id": "R-1", "customer_external_id": "crm-ivan", "amount": "21", "currency": "USD"},
    )
    last = await tg.last_message_id(uid)
    await tg.send_text(uid, "/balance")
    screen = await wait_text(tg, uid, "Ваши баллы: 21 балл", after=last)
    assert "Уровень: Первый заказ" in screen["text"]
    assert "вы получите 200 баллов, он — 100 баллов" in screen["text"]
    await api.post(
        "/v1/orders",
        json={"order_id": "R-2", "customer_external_id": "crm-ivan", "amount": "2", "currency": "USD"},
    )
    last = await tg.last_message_id(uid)
    await tg.send_text(uid, "/balance")
    screen = await wait_text(tg, uid, "Ваши баллы: 23 балла", after=last)
    assert "ещё 1 заказ" in screen["text"]


async def test_referral_pays_both_sides_once(
    product: Runtime, tg: SandboxClient, api: httpx.AsyncClient
) -> None:
    anna = await linked_user(tg, api, "crm-anna", "Anna")
    last = await tg.last_message_id(anna)
    await tg.send_text(anna, "/balance")
    screen = await wait_text(tg, anna, "Your points", after=last)
    await tg.press_button(anna, "👥 Invite a friend", message_id=screen["message_id"])
    invite = await wait_text(tg, anna, "Your link: https://t.me/")
    link = next(w for w in invite["text"].split() if w.startswith("https://t.me/"))
    payload = link.split("start=")[1]
    assert payload.startswith("ref_") and "📤 Share the link" in buttons(invite)

    # Ben arrives through Anna's link, then his account is linked to the shop's record.
    ben = await tg.create_user("Ben", language_code="en")
    sent = await tg.send_text(ben["id"], f"/start {payload}")
    await wait_text(tg, ben["id"], "invitation from Anna", after=sent["message_id"])
    await api.put("/v1/customers/crm-ben", json={"first_name": "Ben"})
    token = (await api.post("/v1/customers/crm-ben/link-token")).json()["token"]
    sent = await tg.send_text(ben["id"], f"/start {token}")
    await wait_text(tg, ben["id"], "linked", after=sent["message_id"])

    # Anna cannot use her own link.
    sent = await tg.send_text(anna, f"/start {payload}")
    await wait_text(tg, anna, "your own invitation link", after=sent["message_id"])

    r = await api.post(
        "/v1/orders",
        json={"order_id": "B-1", "customer_external_id": "crm-ben", "amount": "50", "currency": "USD"},
    )
    assert r.json()["referral_rewarded"] is True
    await wait_text(tg, anna, "Your friend Ben made their first purchase: you got 200 points")
    await wait_text(tg, ben["id"], "you got 100 points")

    r = await api.post(
        "/v1/orders",
        json={"order_id": "B-2", "customer_external_id": "crm-ben", "amount": "50", "currency": "USD"},
    )
    assert r.json()["referral_rewarded"] is False
    assert (await api.get("/v1/customers/crm-anna/loyalty")).json()["spendable"] == 200
    ben_balance = (await api.get("/v1/customers/crm-ben/loyalty")).json()
    assert ben_balance["spendable"] == 100 + 50 + 50
    anna_ref = (await api.get("/v1/customers/crm-anna/loyalty")).json()["referral"]
    assert (anna_ref["invited"], anna_ref["rewarded"]) == (1, 1)

    async def one_notice_each() -> bool:
        texts = [m.get("text") or "" for m in await tg.messages(anna)]
        return sum("made their first purchase" in t for t in texts) == 1

    assert await eventually(one_notice_each)
