"""FAQ self-service, the handoff to a person, the staff reply, /close and the rating, in-process.
The FAQ texts come from faq/<lang>.yaml, the bot's words from dialogs/locales."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey

from tests.flows.harness import Flow, Person
from tests.flows.screens import menu_buttons

FAQ_DIR = Path(__file__).resolve().parents[2] / "faq"


@cache
def faq_entry(lang: str, entry_id: str) -> dict[str, Any]:
    content = yaml.safe_load((FAQ_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    return next(e for e in content["entries"] if e["id"] == entry_id)


def faq_answer(flow: Flow, lang: str, entry_id: str) -> str:
    entry = faq_entry(lang, entry_id)
    return f"{entry['question']}\n\n{entry['answer']}\n\n{flow.t(lang)('faq-helpful-question')}"


async def test_question_with_typos_gets_the_answer_and_feedback_buttons(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await flow.send(anna, "how lnog does delivry take?")
    shown = flow.last(anna)
    assert shown.text == faq_answer(flow, "en", "delivery-time")
    assert shown.buttons == [b["text"] for b in faq_entry("en", "delivery-time")["buttons"]] + [
        en("faq-yes"),
        en("faq-no"),
    ]
    assert flow.topics() == []  # nobody on staff is bothered by a self-served question

    await flow.press(anna, en("faq-yes"))
    glad = flow.last(anna)
    assert glad.message_id == shown.message_id  # the answer's buttons are replaced in place
    assert glad.text == en("faq-glad") and glad.buttons == menu_buttons(en)


async def test_russian_question_is_answered_in_russian(flow: Flow, ivan: Person) -> None:
    await flow.send(ivan, "сколько идет доставка?")
    assert flow.last(ivan).text == faq_answer(flow, "ru", "delivery-time")


async def test_unknown_question_offers_a_person(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await flow.send(anna, "hello?")
    assert flow.last(anna).text == en("faq-none")
    assert flow.last(anna).buttons == [en("menu-human"), en("menu-back")]


async def test_faq_no_then_person_then_staff_reply_close_and_rating(flow: Flow) -> None:
    en = flow.t("en")
    maria = flow.user("Maria", username="maria_k")
    await flow.send(maria, "how lnog does delivry take?")
    await flow.press(maria, en("faq-no"))
    sorry = flow.last(maria)
    assert sorry.text == en("faq-sorry") and sorry.buttons == [en("menu-human"), en("menu-back")]

    await flow.press(maria, en("menu-human"))
    opened = flow.last(maria)
    assert opened.text == en("handoff-opened-with-question", number=1)
    assert opened.buttons == [en("handoff-cancel")]

    # Staff get one topic opening with the customer card and the question.
    await flow.drain_staff()
    [thread] = flow.topics()
    card = flow.texts(flow.staff_group, thread)[0]
    assert "Maria" in card and "@maria_k" in card
    assert en("card-case", number=1, origin=en("origin-faq_no")) in card
    assert en("card-question", text="how lnog does delivry take?") in card

    # The customer writes: relayed into the topic, nothing shown back to them.
    shown_before = len(flow.messages(maria))
    await flow.send(maria, "My parcel 123 is late")
    await flow.drain_staff()
    assert "My parcel 123 is late" in flow.texts(flow.staff_group, thread)[-1]
    assert len(flow.messages(maria)) == shown_before

    # Staff reply in the topic; an internal note stays there.
    await flow.staff_send("Sorry! It ships today", thread_id=thread)
    await flow.staff_send("// customer is VIP, be nice", thread_id=thread)
    assert flow.last(maria).text == "Sorry! It ships today"
    assert not any("VIP" in text for text in flow.texts(maria))

    # /close: the customer is asked for a rating, staff see it closed.
    await flow.staff_send("/close", thread_id=thread)
    ask = flow.last(maria)
    assert ask.text == en("handoff-closed", number=1)
    assert ask.buttons == [f"{n} ⭐" for n in range(1, 6)]
    assert en("staff-case-closed", number=1, staff="Olga Support") in flow.texts(flow.staff_group, thread)

    await flow.press(maria, "5 ⭐")
    assert flow.last(maria).text == en("csat-thanks-score")
    assert flow.last(maria).buttons == [en("csat-skip")]
    await flow.send(maria, "Fast and friendly")
    assert flow.last(maria).text == en("csat-thanks")
    assert flow.last(maria).buttons == menu_buttons(en)
    await flow.drain_staff()
    staff_texts = flow.texts(flow.staff_group, thread)
    assert en("staff-csat", number=1, score=5) in staff_texts
    assert en("staff-csat-comment", number=1, comment="Fast and friendly") in staff_texts

    # A later message opens case #2 in the same topic.
    await flow.send(maria, "One more thing: can I change the address?")
    assert flow.last(maria).text == en("handoff-opened-with-question", number=2)
    await flow.drain_staff()
    assert flow.topics() == [thread]
    assert any(
        en("card-case", number=2, origin=en("origin-message")) in t
        for t in flow.texts(flow.staff_group, thread)
    )


async def test_human_command_opens_a_request_and_cancel_closes_it(flow: Flow, ivan: Person) -> None:
    ru = flow.t("ru")
    await flow.send(ivan, "/human")
    assert flow.last(ivan).text == ru("handoff-opened", number=1)
    await flow.send(ivan, "/human")
    assert flow.last(ivan).text == ru("handoff-already", number=1)
    await flow.press(ivan, ru("handoff-cancel"))
    assert flow.last(ivan).text == ru("handoff-cancelled", number=1)
    assert flow.last(ivan).buttons == menu_buttons(ru)
    await flow.drain_staff()
    [thread] = flow.topics()
    staff = flow.t(flow.settings.staff_language)
    assert staff("staff-case-cancelled", number=1) in flow.texts(flow.staff_group, thread)


async def test_request_outside_business_hours_says_when(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    flow.clock.advance(hours=10)  # Thursday 22:00 UTC, after 18:00
    await flow.send(anna, "/human")
    when = en("handoff-offline-when", day=en("weekday-5"), time="09:00", zone="UTC")
    shown = flow.last(anna)
    assert shown.text == en("handoff-opened", number=1) + "\n\n" + en("handoff-offline", when=when)
    assert shown.buttons == [en("handoff-cancel")]


async def test_staff_commands_are_refused_to_customers(flow: Flow, anna: Person) -> None:
    await flow.send(anna, "/close")
    assert flow.last(anna).text == flow.t("en")("handoff-staff-only")


async def test_staff_queue_edit_ban_and_a_customer_gone(flow: Flow, anna: Person) -> None:
    """The staff side in a topic: /queue, an edit that follows to the customer, /ban and /unban,
    a reply to a customer who blocked the bot, /close outside any topic."""
    staff = flow.t(flow.settings.staff_language)
    await flow.send(anna, "/human")
    await flow.send(anna, "Where is my parcel?")
    await flow.drain_staff()
    [thread] = flow.topics()

    await flow.staff_send("/queue", thread_id=thread)
    assert flow.last(flow.staff_group, thread).text == staff("staff-queue", waiting=1, open=0, queued=0)

    await flow.staff_send("On its way", thread_id=thread)
    assert flow.last(anna).text == "On its way"
    reply = flow.messages(flow.staff_group, thread, from_bot=False)[-1]
    flow.state.user_edit(
        flow.agent.id, reply.message_id, {"text": "On its way, today"}, chat_id=flow.staff_group
    )
    await flow.run_updates()
    assert flow.last(anna).text == "On its way, today"

    await flow.staff_send("/ban", thread_id=thread)
    assert flow.last(flow.staff_group, thread).text == staff("staff-banned")
    await flow.send(anna, "spam spam")
    await flow.drain_staff()
    assert not any("spam spam" in text for text in flow.texts(flow.staff_group, thread))
    await flow.staff_send("/unban", thread_id=thread)
    assert flow.last(flow.staff_group, thread).text == staff("staff-unbanned")

    flow.state.set_blocked(flow.state.get_user(anna.id), True)
    await flow.run_updates()
    await flow.staff_send("Are you there?", thread_id=thread)
    assert flow.last(flow.staff_group, thread).text == staff("staff-unreachable", reason="blocked")

    flow.state.user_send(flow.agent.id, {"text": "/close"}, chat_id=flow.staff_group)  # the general chat
    await flow.run_updates()
    assert flow.last(flow.staff_group).text == staff("staff-no-case")


async def _closed_case(flow: Flow, who: Person) -> int:
    """`who` asks for a person, writes, and staff close the case: the topic's thread."""
    await flow.send(who, "/human")
    await flow.send(who, "Where is my order?")
    await flow.drain_staff()
    [thread] = flow.topics()
    await flow.staff_send("/close", thread_id=thread)
    return thread


async def test_csat_skip_ends_the_wait_and_a_later_message_is_a_follow_up(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    thread = await _closed_case(flow, anna)
    await flow.press(anna, "3 ⭐")
    await flow.press(anna, en("csat-skip"))
    assert flow.last(anna).text == en("csat-thanks")
    assert flow.last(anna).buttons == menu_buttons(en)
    await flow.send(anna, "And another question")  # no comment awaited: it opens case #2
    assert flow.last(anna).text == en("handoff-opened-with-question", number=2)
    await flow.drain_staff()
    staff_texts = flow.texts(flow.staff_group, thread)
    assert en("staff-csat", number=1, score=3) in staff_texts
    assert any("And another question" in t for t in staff_texts)  # relayed, not a comment
    assert en("staff-csat-comment", number=1, comment="And another question") not in staff_texts


@pytest.mark.parametrize("how", ["three hours later", "a wait of the previous version"])
async def test_a_csat_comment_wait_that_is_over_lets_the_next_text_through(
    flow: Flow, anna: Person, how: str
) -> None:
    """The comment is awaited 3 hours; a wait written before waits had a start (no `since`) is
    over too. Either way her next text is a follow-up for a person, not the old case's comment."""
    en = flow.t("en")
    thread = await _closed_case(flow, anna)
    await flow.press(anna, "4 ⭐")
    if how == "three hours later":
        flow.clock.advance(hours=3)
    else:
        fsm = FSMContext(
            storage=flow.dp.storage, key=StorageKey(bot_id=flow.bot.id, chat_id=anna.id, user_id=anna.id)
        )
        data = await fsm.get_data()
        await fsm.set_data({"csat_case": data["csat_case"]})
    await flow.send(anna, "Kind people")
    assert flow.last(anna).text == en("handoff-opened-with-question", number=2)
    await flow.drain_staff()
    staff_texts = flow.texts(flow.staff_group, thread)
    assert en("staff-csat", number=1, score=4) in staff_texts
    assert en("staff-csat-comment", number=1, comment="Kind people") not in staff_texts
    assert any("Kind people" in t for t in staff_texts)  # relayed into case #2


async def test_asking_for_a_person_ends_the_birthday_question(flow: Flow, anna: Person) -> None:
    """A customer who left the birthday question open and asks for a person: what she writes
    next reaches staff instead of being answered 'not a date'."""
    en = flow.t("en")
    await flow.send(anna, "/balance")
    await flow.press(anna, en("balance-birthday"))
    await flow.send(anna, "/human")
    await flow.send(anna, "My parcel is late")
    assert flow.last(anna).text != en("birthday-bad")
    await flow.drain_staff()
    [thread] = flow.topics()
    assert any("My parcel is late" in t for t in flow.texts(flow.staff_group, thread))
