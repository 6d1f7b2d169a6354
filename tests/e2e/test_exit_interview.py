"""Exit interviews end to end: a cancellation event asks why; "too expensive" gets a promo code,
"missing feature" is counted and announced when it ships; a break from the menu gets a date."""

from __future__ import annotations

import httpx
import pytest

from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import eventually, wait_text
from tests.e2e.test_loyalty import buttons, linked_user, product  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("no_violations")

REASONS = [
    "💸 Too expensive",
    "🧩 Missing a feature",
    "🔀 Switched to another provider",
    "🤷 Don't need it any more",
    "🛠 Technical problems",
    "😞 Poor support",
    "⏸ Taking a break",
    "✏️ Other",
]


async def test_cancellation_price_and_missing_feature(
    product: Runtime,  # noqa: F811
    tg: SandboxClient,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    olga = await linked_user(tg, api, "crm-olga", "Olga")
    r = await api.post(
        "/v1/exit-interviews",
        json={"idempotency_key": "sub-1", "external_id": "crm-olga", "event": "subscription_cancelled"},
    )
    assert r.status_code == 201 and r.json()["status"] == "scheduled"
    ask = await wait_text(tg, olga, "you've cancelled your subscription. Could you tell us why?")
    assert buttons(ask) == REASONS
    await tg.press_button(olga, "💸 Too expensive", message_id=ask["message_id"])
    offer = await wait_text(tg, olga, "Here is 15% off your next order")
    code = next(w for w in offer["text"].split() if w.startswith("SAVE-"))
    assert "Your answer: 💸 Too expensive" in offer["text"] and "Valid until" in offer["text"]
    promo = (await api.get(f"/v1/promo-codes/{code}")).json()
    assert (promo["status"], promo["customer_external_id"], promo["discount_percent"]) == (
        "assigned",
        "crm-olga",
        15,
    )

    pete = await linked_user(tg, api, "crm-pete", "Pete")
    await api.post(
        "/v1/exit-interviews",
        json={"idempotency_key": "acct-2", "external_id": "crm-pete", "event": "account_closed"},
    )
    ask = await wait_text(tg, pete, "you've closed your account")
    await tg.press_button(pete, "🧩 Missing a feature", message_id=ask["message_id"])
    await wait_text(tg, pete, "Which feature were you missing?")
    await tg.send_text(pete, "Dark mode")
    await wait_text(tg, pete, "Noted: «Dark mode». We'll write to you once it's available")

    report = (await api.get("/v1/exit-interviews/report")).json()
    assert {(x["reason"], x["count"], x["share_percent"]) for x in report["reasons"]} == {
        ("price", 1, 50.0),
        ("feature", 1, 50.0),
    }
    assert report["top_features"] == [
        {"feature": "Dark mode", "feature_key": "dark mode", "count": 1, "shipped": False}
    ]
    assert (report["interviews"], report["answered"], report["offers_given"]) == (2, 2, 1)

    # The price-sensitive customer orders again with the code: saved.
    await api.post(
        "/v1/orders",
        json={
            "order_id": "O-9",
            "customer_external_id": "crm-olga",
            "amount": "30",
            "currency": "USD",
            "promo_code": code,
        },
    )
    report = (await api.get("/v1/exit-interviews/report")).json()
    assert (report["saved"], report["save_rate_percent"], report["offers_redeemed"]) == (1, 50.0, 1)

    # The feature ships: Pete hears about it once.
    r = await api.post("/v1/features/shipped", json={"feature": "Dark mode"})
    assert r.json()["notified"] == 1
    await wait_text(tg, pete, "Good news: «Dark mode» is now available!")
    assert (await api.post("/v1/features/shipped", json={"feature": "dark mode"})).json()["notified"] == 0


async def test_leaving_from_the_menu_for_a_break(
    product: Runtime,  # noqa: F811
    tg: SandboxClient,
    api: httpx.AsyncClient,  # noqa: F811
) -> None:
    user = await tg.create_user("Lena", language_code="ru")
    uid = user["id"]
    sent = await tg.send_text(uid, "/start")
    welcome = await tg.wait_for_bot_message(uid, sent["message_id"])
    await tg.press_button(uid, "💬 Отзыв", message_id=welcome["message_id"])
    await wait_text(tg, uid, "Нам важно ваше мнение")
    await tg.press_button(uid, "👋 Хочу уйти", message_id=welcome["message_id"])
    ask = await wait_text(tg, uid, "жаль, что вы уходите")
    await tg.press_button(uid, "⏸ Беру паузу", message_id=ask["message_id"])
    await wait_text(tg, uid, "Когда напомнить о нас?")
    await tg.send_text(uid, "32.13.2026")
    await wait_text(tg, uid, "напишите будущую дату")
    await tg.press_button(uid, "Через месяц", message_id=ask["message_id"])
    await wait_text(tg, uid, "Готово: напомню")


async def test_poor_support_goes_straight_to_a_person(
    product: Runtime,  # noqa: F811
    tg: SandboxClient,
    api: httpx.AsyncClient,
    staff: dict,  # noqa: F811
) -> None:
    uid = await linked_user(tg, api, "crm-sam", "Sam")
    await api.post(
        "/v1/exit-interviews",
        json={"idempotency_key": "s-1", "external_id": "crm-sam", "event": "subscription_cancelled"},
    )
    ask = await wait_text(tg, uid, "Could you tell us why?")
    await tg.press_button(uid, "😞 Poor support", message_id=ask["message_id"])
    await wait_text(tg, uid, "We're sorry our support let you down")
    await tg.send_text(uid, "Nobody answered my emails for a week")

    async def relayed() -> bool:
        for topic in await tg.topics(staff["group_id"]):
            texts = [
                m.get("text") or "" for m in await tg.messages(staff["group_id"], topic["message_thread_id"])
            ]
            if any("exit interview" in t for t in texts) and any("Nobody answered" in t for t in texts):
                return True
        return False

    assert await eventually(relayed)
