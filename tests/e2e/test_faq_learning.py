"""Staff answer from the FAQ and teach it, end to end through the double (issue 13)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text

pytestmark = pytest.mark.usefixtures("no_violations")
SLANG = "чё там с моей шмоткой, куда она подевалась"  # no FAQ entry uses these words


def _buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_staff_send_suggested_answer_teach_approve_then_bot_answers(
    product: Runtime, tg: SandboxClient, staff: dict[str, Any], api: httpx.AsyncClient
) -> None:
    group, agent = staff["group_id"], staff["agent_id"]
    user = await tg.create_user("Anna", language_code="ru")
    uid = user["id"]
    before = product.faq.search("ru", SLANG)
    assert before.kind != "answer" or before.best is None or before.best.id != "delivery-tracking"

    await tg.send_text(uid, "/human")
    await wait_text(tg, uid, "Обращение №1 открыто")

    # A question relayed into the topic carries the likely FAQ entries as buttons.
    await tg.send_text(uid, "заказ уже неделю не приходит, что делать?")
    topic = (await eventually(lambda: tg.topics(group)))[0]
    thread = topic["message_thread_id"]
    relayed = await wait_text(tg, group, "неделю не приходит", thread_id=thread)
    assert "📤 delivery-late" in _buttons(relayed)

    # Staff send one with a tap: the customer gets the answer in Russian, the topic notes it.
    last = await tg.last_message_id(uid)
    await tg.press_button(agent, "📤 delivery-late", chat_id=group, message_id=relayed["message_id"])
    answer = await wait_text(tg, uid, "Заказ задерживается", after=last)
    assert "номер заказа" in answer["text"]
    await wait_text(tg, group, "sent the FAQ answer delivery-late", thread_id=thread)
    r = await api.get("/v1/faq/insights/deflection")
    assert r.json()["assisted"] == 1 and r.json()["deflected"] == 0
    r = await api.get("/v1/support/cases", params={"status": "active"})
    assert r.json()["items"][0]["status"] == "open"  # the FAQ answer was the first staff reply

    # A phrasing the FAQ does not know: staff link it to the right entry with /teach.
    await tg.send_text(uid, SLANG)
    slang = await wait_text(tg, group, "шмоткой", thread_id=thread)
    await tg.staff_send(
        group, thread, agent, "/teach delivery-tracking", reply_to_message_id=slang["message_id"]
    )
    await wait_text(tg, group, "Learned phrasing #1", thread_id=thread)
    assert not [m for m in await tg.messages(uid) if "/teach" in (m.get("text") or "")]

    # Approved through the API, it is matched at once: another customer gets the answer.
    r = await api.get("/v1/faq/learned", params={"status": "pending"})
    (item,) = r.json()["items"]
    assert (item["entry_id"], item["language"], item["text"]) == ("delivery-tracking", "ru", SLANG)
    r = await api.post(f"/v1/faq/learned/{item['id']}/approve")
    assert r.status_code == 200 and r.json()["status"] == "approved"

    other = await tg.create_user("Boris", language_code="ru")
    await tg.send_text(other["id"], SLANG)
    reply = await wait_text(tg, other["id"], "Этот ответ помог?")
    assert reply["text"].startswith("Как отследить заказ?")
