"""FAQ self-service and handoff to staff in forum topics, end to end through the double."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text

pytestmark = pytest.mark.usefixtures("no_violations")


async def topics_of(tg: SandboxClient, group: int) -> list[dict[str, Any]]:
    return [t for t in await tg.topics(group) if not t.get("deleted")]


async def test_faq_then_person_then_csat_then_case_two(
    product: Runtime, tg: SandboxClient, staff: dict[str, Any], api: httpx.AsyncClient
) -> None:
    group, agent = staff["group_id"], staff["agent_id"]
    user = await tg.create_user("Maria", username="maria_k", language_code="en")
    uid = user["id"]

    # A question with typos gets the right answer from the FAQ.
    await tg.send_text(uid, "how lnog does delivry take?")
    answer = await wait_text(tg, uid, "Did this answer help?")
    assert "How long does delivery take" in answer["text"]
    assert await topics_of(tg, group) == []  # no topic before a real request

    # It did not help: the customer asks for a person.
    await tg.press_button(uid, "👎 No", message_id=answer["message_id"])
    await wait_text(tg, uid, "talk to a person?")
    await tg.press_button(uid, "💬 Talk to a person")
    await wait_text(tg, uid, "Request #1 is open")

    # Staff see one topic that opens with the customer card and the question.
    topic = (await eventually(lambda: topics_of(tg, group)))[0]
    thread = topic["message_thread_id"]
    assert "Maria" in topic["name"]
    card = await wait_text(tg, group, "Case #1", thread_id=thread)
    assert "maria_k" in card["text"] and "how lnog does delivry take?" in card["text"]
    assert "the FAQ answer did not help" in card["text"]

    # The customer writes; it is relayed into the topic. Then they edit it.
    sent = await tg.send_text(uid, "My parcel 123 is late")
    relayed = await wait_text(tg, group, "My parcel 123 is late", thread_id=thread)
    await tg.edit(uid, sent["message_id"], "My parcel 123 is five days late")
    await wait_text(tg, group, "five days late", thread_id=thread)
    assert (await tg.message(group, relayed["message_id"]))["text"].endswith("five days late")

    # Staff reply with text and a photo; an internal note is not sent.
    last = await tg.last_message_id(uid)
    reply = await tg.staff_send(group, thread, agent, "Sorry! It ships today, here is the label")
    await tg.staff_send(group, thread, agent, "// customer is VIP, be nice")
    await tg.staff_send(group, thread, agent, None, kind="photo", caption="Your label")
    copy = await wait_text(tg, uid, "It ships today", after=last)
    # Staff correct their reply: the customer's copy changes too (where it landed was recorded
    # with the update's done mark).
    await tg.edit(agent, reply["message_id"], "Sorry! It ships tomorrow, here is the label", chat_id=group)
    await eventually(
        lambda: _text_is(tg, uid, copy["message_id"], "Sorry! It ships tomorrow, here is the label")
    )
    photo = await eventually(lambda: _bot_media(tg, uid, "photo"))
    assert photo["text"] == "Your label"
    assert not [m for m in await tg.messages(uid) if "VIP" in (m.get("text") or "")]

    # /close asks the customer for a rating; the rating and comment are stored.
    await tg.staff_send(group, thread, agent, "/close")
    prompt = await wait_text(tg, uid, "How would you rate our help?")
    await tg.press_button(uid, "5 ⭐", message_id=prompt["message_id"])
    await wait_text(tg, uid, "Anything to add?")
    await tg.send_text(uid, "Fast and friendly")
    await wait_text(tg, uid, "Thank you for your feedback")
    r = await api.get("/v1/support/cases", params={"status": "closed"})
    case1 = r.json()["items"][0]
    assert (case1["number"], case1["csat_score"], case1["csat_comment"]) == (1, 5, "Fast and friendly")
    await wait_text(tg, group, "rated case #1: 5/5", thread_id=thread)

    # A later message opens case #2 in the same topic.
    await tg.send_text(uid, "One more thing: can I change the address?")
    await wait_text(tg, uid, "Request #2 is open")
    await wait_text(tg, group, "Case #2", thread_id=thread)
    await wait_text(tg, group, "change the address", thread_id=thread)
    assert len(await topics_of(tg, group)) == 1
    r = await api.get(f"/v1/support/cases/{case1['id'] + 1}")
    assert r.status_code == 200 and r.json()["number"] == 2 and r.json()["status"] == "waiting"
    assert any(m["text"] == "One more thing: can I change the address?" for m in r.json()["messages"])


async def _text_is(tg: SandboxClient, chat: int, message_id: int, text: str) -> bool | None:
    return (await tg.message(chat, message_id)).get("text") == text or None


async def _bot_media(tg: SandboxClient, chat: int, kind: str) -> dict[str, Any] | None:
    for m in reversed(await tg.messages(chat)):
        if m.get("from_bot") and m.get("kind") == kind:
            return m
    return None


async def test_simultaneous_first_messages_create_one_topic(
    product: Runtime, tg: SandboxClient, staff: dict[str, Any]
) -> None:
    group = staff["group_id"]
    user = await tg.create_user("Pavel", language_code="ru")
    await tg.send_text(user["id"], "/human")
    await wait_text(tg, user["id"], "Обращение №1 открыто")
    await asyncio.gather(
        tg.send_text(user["id"], "Первое сообщение"),
        tg.send_text(user["id"], "Второе сообщение"),
        tg.send_media(user["id"], "document", caption="скан чека"),
    )
    await wait_text(tg, group, "скан чека", timeout=10)
    topics = await topics_of(tg, group)
    assert len(topics) == 1
    texts = " ".join(
        m.get("text") or m.get("caption") or ""
        for m in await tg.messages(group, topics[0]["message_thread_id"])
    )
    assert "Первое сообщение" in texts and "Второе сообщение" in texts


async def test_ban_stops_relaying_and_deleted_topic_is_recreated(
    product: Runtime, tg: SandboxClient, staff: dict[str, Any]
) -> None:
    group, agent = staff["group_id"], staff["agent_id"]
    user = await tg.create_user("Troll", language_code="en")
    await tg.send_text(user["id"], "/human")
    await tg.send_text(user["id"], "hello?")
    await wait_text(tg, group, "hello?")
    thread = (await topics_of(tg, group))[0]["message_thread_id"]
    await tg.staff_send(group, thread, agent, "/ban")
    await wait_text(tg, group, "Relaying stopped", thread_id=thread)
    await tg.send_text(user["id"], "spam spam")
    await asyncio.sleep(0.5)
    assert "spam spam" not in [m.get("text") for m in await tg.messages(group, thread)]
    await tg.staff_send(group, thread, agent, "/unban")
    await wait_text(tg, group, "Relaying restored", thread_id=thread)

    # Staff delete the topic; the next message recreates it transparently.
    await tg.staff_delete_topic(group, thread, agent)
    await tg.send_text(user["id"], "are you there?")
    moved = await wait_text(tg, group, "are you there?")
    topics = await topics_of(tg, group)
    assert len(topics) == 1 and topics[0]["message_thread_id"] != thread
    assert moved["message_thread_id"] == topics[0]["message_thread_id"]


async def test_non_staff_cannot_use_staff_commands(product: Runtime, tg: SandboxClient) -> None:
    user = await tg.create_user("Eve", language_code="en")
    await tg.send_text(user["id"], "/close")
    await wait_text(tg, user["id"], "for our support team only")
