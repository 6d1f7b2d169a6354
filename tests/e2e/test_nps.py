"""NPS end to end: an API-triggered survey answered 3 with a comment, the staff alert, the
offer of a person, and a second trigger inside 90 days skipped with the reason."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text
from tests.e2e.test_loyalty import buttons, linked_user, product  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("no_violations")


async def topic_texts(tg: SandboxClient, group: int) -> list[str]:
    return [m.get("text") or "" for m in await tg.messages(group, include_deleted=False)]


async def test_detractor_survey_alerts_staff_and_throttles(
    product: Runtime,  # noqa: F811
    tg: SandboxClient,
    api: httpx.AsyncClient,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    group = staff["group_id"]
    uid = await linked_user(tg, api, "crm-nina", "Nina")
    await api.post(
        "/v1/orders",
        json={"order_id": "N-1", "customer_external_id": "crm-nina", "amount": "80", "currency": "USD"},
    )

    r = await api.post(
        "/v1/surveys/nps", json={"idempotency_key": "nps-nina-1", "external_ids": ["crm-nina"]}
    )
    assert r.status_code == 201 and r.json()["scheduled"] == 1

    survey = await wait_text(tg, uid, "how likely are you to recommend Demo Shop")
    assert buttons(survey) == [str(i) for i in range(11)]
    await tg.press_button(uid, "3", message_id=survey["message_id"])
    ask = await wait_text(tg, uid, "What went wrong?")
    assert "Your score: 3 out of 10" in ask["text"] and buttons(ask) == ["Skip"]
    await tg.send_text(uid, "Delivery was late twice")
    offer = await wait_text(tg, uid, "Would you like to talk to a person")
    assert buttons(offer) == ["💬 Talk to a person", "No, thanks"]
    assert buttons(await tg.message(uid, ask["message_id"])) == []  # no 'Skip' after writing

    # Staff get the alert in the customer's topic, with the card facts and the comment.
    async def alert() -> str | None:
        for topic in await tg.topics(group):
            for m in await tg.messages(group, topic["message_thread_id"], include_deleted=False):
                if "NPS detractor: 3/10" in (m.get("text") or ""):
                    return str(m["text"])
        return None

    text = await eventually(alert)
    assert "Delivery was late twice" in text and "Nina" in text and "crm-nina" in text
    assert "First order · 80 points · 1 order · spent $80.00" in text

    # The customer takes the offer: a case opens with the score and comment as its question.
    await tg.press_button(uid, "💬 Talk to a person", message_id=offer["message_id"])
    await wait_text(tg, uid, "A person from our team will reply right here")

    async def card() -> str | None:
        for topic in await tg.topics(group):
            for m in await tg.messages(group, topic["message_thread_id"], include_deleted=False):
                if "Case #1" in (m.get("text") or ""):
                    return str(m["text"])
        return None

    card_text = await eventually(card)
    assert "NPS 3/10: Delivery was late twice" in card_text
    assert "📊 Last NPS: 3/10" in card_text  # the loyalty section of the card

    # Asked again within 90 days: skipped, and the API says why.
    r = await api.post(
        "/v1/surveys/nps", json={"idempotency_key": "nps-nina-2", "external_ids": ["crm-nina"]}
    )
    body = r.json()
    assert (r.status_code, body["scheduled"], body["skipped"]) == (201, 0, 1)
    assert body["skipped_by_reason"] == {"answered_recently": 1}
    assert body["skipped_customers"] == [
        {
            "external_id": "crm-nina",
            "customer_id": body["skipped_customers"][0]["customer_id"],
            "reason": "answered_recently",
        }
    ]

    report = (await api.get("/v1/surveys/nps/report")).json()
    assert (report["responses"], report["detractors"], report["nps"]) == (1, 1, -100.0)
    assert report["by_tier"][0]["key"] == "one_time"
    responses = (await api.get("/v1/surveys/nps/responses")).json()["items"]
    assert [(x["score"], x["comment"]) for x in responses] == [(3, "Delivery was late twice")]


async def test_promoter_gets_the_referral_link_and_menu_rating_works(
    product: Runtime,  # noqa: F811
    tg: SandboxClient,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    user = await tg.create_user("Paul", language_code="en")
    uid = user["id"]
    sent = await tg.send_text(uid, "/start")
    welcome = await tg.wait_for_bot_message(uid, sent["message_id"])
    await tg.press_button(uid, "💬 Feedback", message_id=welcome["message_id"])
    await wait_text(tg, uid, "We'd love to hear from you")
    await tg.press_button(uid, "⭐ Rate us", message_id=welcome["message_id"])
    survey = await wait_text(tg, uid, "how likely are you to recommend")
    await tg.press_button(uid, "10", message_id=survey["message_id"])
    ask = await wait_text(tg, uid, "What do you like most")
    await tg.press_button(uid, "Skip", message_id=ask["message_id"])
    thanks = await wait_text(tg, uid, "Tell your friends about us")
    assert f"https://t.me/{product.bot_username}?start=ref_" in thanks["text"]
    assert buttons(thanks) == ["📤 Share the link"]
    # The 0-10 keyboard is gone once a score is given: nobody answers twice by accident.
    assert "0" not in buttons(await tg.message(uid, survey["message_id"]))
    # Rating again from the menu right away does not count twice.
    last = await tg.last_message_id(uid)
    await tg.send_text(uid, "/menu")
    menu = await tg.wait_for_bot_message(uid, last)
    await tg.press_button(uid, "💬 Feedback", message_id=menu["message_id"])
    await wait_text(tg, uid, "We'd love to hear from you", after=last)
    await tg.press_button(uid, "⭐ Rate us", message_id=menu["message_id"])
    await wait_text(tg, uid, "You rated us 10 out of 10", after=last)
    report = (await api.get("/v1/surveys/nps/report")).json()
    assert (report["promoters"], report["responses"]) == (1, 1)


async def test_deactivated_account_is_marked_unreachable_and_skipped_next_time(
    product: Runtime,  # noqa: F811
    tg: SandboxClient,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    uid = await linked_user(tg, api, "crm-gone", "Gus")
    await tg.deactivate(uid)
    r = await api.post("/v1/surveys/nps", json={"idempotency_key": "g-1", "external_ids": ["crm-gone"]})
    assert r.json()["scheduled"] == 1

    async def unreachable() -> bool:
        customer = (await api.get("/v1/customers/crm-gone")).json()
        return customer["reachable"] is False and customer["unreachable_reason"] == "deactivated"

    assert await eventually(unreachable)
    r = await api.post("/v1/surveys/nps", json={"idempotency_key": "g-2", "external_ids": ["crm-gone"]})
    assert r.json()["skipped_by_reason"] == {"unreachable": 1}
