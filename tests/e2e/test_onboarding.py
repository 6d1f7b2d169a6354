"""A customer's first minutes: /start, language, menu, /stop, /start, /forget."""

from __future__ import annotations

import httpx
import pytest

from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text

pytestmark = pytest.mark.usefixtures("no_violations")


def buttons(message: dict) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_start_language_menu_stop_start_forget(product: Runtime, tg: SandboxClient) -> None:
    user = await tg.create_user("Anna", language_code="ru")
    uid = user["id"]

    sent = await tg.send_text(uid, "/start")
    welcome = await tg.wait_for_bot_message(uid, sent["message_id"])
    assert "Здравствуйте, Anna" in welcome["text"] and "Demo Shop" in welcome["text"]
    assert "🌐 Язык" in buttons(welcome)

    # Switch to English through the menu; the menu is redrawn in place.
    await tg.press_button(uid, "🌐 Язык")
    prompt = await wait_text(tg, uid, "Выберите язык")
    await tg.press_button(uid, "🇬🇧 English", message_id=prompt["message_id"])
    menu = await wait_text(tg, uid, "speak English")
    assert "🌐 Language" in buttons(menu)

    # /stop opts out of proactive messages...
    last = await tg.last_message_id(uid)
    await tg.send_text(uid, "/stop")
    reply = await tg.wait_for_bot_message(uid, last + 1)
    assert "won't get news or offers" in reply["text"]
    async with product.db() as session:
        from core.customers import by_telegram_id

        row = await by_telegram_id(session, uid)
        assert row is not None and row.opted_in is False and row.language == "en"

    # ... and /start brings them back.
    last = await tg.last_message_id(uid)
    await tg.send_text(uid, "/start")
    reply = await tg.wait_for_bot_message(uid, last + 1)
    assert "Welcome back, Anna" in reply["text"]
    async with product.db() as session:
        row = await by_telegram_id(session, uid)
        assert row is not None and row.opted_in is True

    # /forget asks first, then erases.
    last = await tg.last_message_id(uid)
    await tg.send_text(uid, "/forget")
    confirm = await tg.wait_for_bot_message(uid, last + 1)
    assert "cannot be undone" in confirm["text"]
    await tg.press_button(uid, "🗑 Yes, delete", message_id=confirm["message_id"])
    await wait_text(tg, uid, "has been deleted")
    async with product.db() as session:
        assert await by_telegram_id(session, uid) is None


async def test_deep_link_links_backend_customer(
    product: Runtime, tg: SandboxClient, api: httpx.AsyncClient
) -> None:
    r = await api.put("/v1/customers/crm-42", json={"first_name": "Ivan", "language": "en"})
    assert r.status_code == 201
    r = await api.post("/v1/customers/crm-42/link-token")
    assert r.status_code == 201
    body = r.json()
    assert body["deep_link"].startswith(f"https://t.me/{product.bot_username}?start=")

    user = await tg.create_user("Ivan", language_code="en")
    sent = await tg.send_text(user["id"], f"/start {body['token']}")
    reply = await tg.wait_for_bot_message(user["id"], sent["message_id"])
    assert "linked" in reply["text"]
    r = await api.get("/v1/customers/crm-42")
    assert r.json()["telegram_id"] == user["id"]

    # A second use of the same link is refused with a clear message.
    other = await tg.create_user("Mallory", language_code="en")
    sent = await tg.send_text(other["id"], f"/start {body['token']}")
    reply = await tg.wait_for_bot_message(other["id"], sent["message_id"])
    assert "already been used" in reply["text"]


async def test_odd_inputs_get_helpful_answers(product: Runtime, tg: SandboxClient) -> None:
    user = await tg.create_user("Bob", language_code="en")
    uid = user["id"]
    for payload, expected in [
        ({"text": "/nonsense"}, "don't know the command /nonsense"),
        ({"sticker": {}}, "only read text"),
        ({"text": "x" * 4096}, "very long"),
        ({"text": "hello?"}, "couldn't find an answer"),
    ]:
        last = await tg.last_message_id(uid)
        if "sticker" in payload:
            await tg.send_media(uid, "sticker")
        else:
            await tg.send_text(uid, payload["text"])
        reply = await tg.wait_for_bot_message(uid, last + 1)
        assert expected in reply["text"], reply["text"]


async def test_block_marks_unreachable_and_message_restores(product: Runtime, tg: SandboxClient) -> None:
    from core.customers import by_telegram_id

    user = await tg.create_user("Kate", language_code="en")
    uid = user["id"]
    sent = await tg.send_text(uid, "/start")
    await tg.wait_for_bot_message(uid, sent["message_id"])
    await tg.block(uid)

    async def blocked():  # type: ignore[no-untyped-def]
        async with product.db() as session:
            row = await by_telegram_id(session, uid)
            return row if row is not None and not row.reachable else None

    row = await eventually(blocked)
    assert row.unreachable_reason == "blocked"
    await tg.unblock(uid)
    sent = await tg.send_text(uid, "/start")
    await tg.wait_for_bot_message(uid, sent["message_id"])
    async with product.db() as session:
        row = await by_telegram_id(session, uid)
        assert row is not None and row.reachable is True
