"""Exit interviews from the menu, in-process: each reason's answer as the customer sees it."""

from __future__ import annotations

import re
from datetime import timedelta

from babel.dates import format_date

from tests.flows.harness import Flow, Person

REASONS = ["price", "feature", "competitor", "not_needed", "technical", "support", "break", "other"]


async def leave(flow: Flow, who: Person) -> int:
    """/start -> Feedback -> I want to leave; returns the question's message id."""
    t = flow.t(who.lang)
    await flow.send(who, "/start")
    await flow.press(who, t("menu-feedback"))
    await flow.press(who, t("feedback-leave"))
    ask = flow.last(who)
    assert ask.text == t("exit-ask", name=who.name)
    assert ask.buttons == [t(f"exit-reason-{r}") for r in REASONS]
    return ask.message_id


async def test_too_expensive_gets_a_promo_code(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    ask = await leave(flow, anna)
    await flow.press(anna, en("exit-reason-price"))
    offer = flow.message(anna, ask)
    code = re.search(r"SAVE-\S+", offer.text)
    assert code is not None, offer.text
    valid = format_date((flow.clock.now() + timedelta(days=14)).date(), format="long", locale="en")
    assert offer.text == en("exit-your-answer", reason=en("exit-reason-price")) + "\n\n" + en(
        "exit-offer", percent=15, code=code.group(0), date=valid
    )
    assert offer.buttons == []


async def test_missing_feature_is_noted(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    ask = await leave(flow, anna)
    await flow.press(anna, en("exit-reason-feature"))
    assert flow.message(anna, ask).text == (
        en("exit-your-answer", reason=en("exit-reason-feature")) + "\n\n" + en("exit-feature-ask")
    )
    assert flow.message(anna, ask).buttons == [en("exit-skip")]
    await flow.send(anna, "Dark mode")
    assert flow.last(anna).text == en("exit-feature-thanks", feature="Dark mode")
    assert flow.message(anna, ask).buttons == []  # no 'Skip' once they wrote
    await flow.send(anna, "Dark mode")  # a second message is a question again, not a detail
    assert flow.last(anna).text != en("exit-feature-thanks", feature="Dark mode")


async def test_a_break_with_a_bad_date_then_a_month(flow: Flow, ivan: Person) -> None:
    ru = flow.t("ru")
    ask = await leave(flow, ivan)
    await flow.press(ivan, ru("exit-reason-break"))
    assert flow.message(ivan, ask).text.endswith(ru("exit-break-ask"))
    assert flow.message(ivan, ask).buttons == [
        ru("exit-break-2w"),
        ru("exit-break-1m"),
        ru("exit-break-3m"),
        ru("exit-break-6m"),
        ru("exit-break-never"),
    ]
    await flow.send(ivan, "32.13.2026")
    assert flow.last(ivan).text == ru("exit-break-bad")
    await flow.press(ivan, ru("exit-break-1m"), message_id=ask)
    in_a_month = format_date((flow.clock.now() + timedelta(days=31)).date(), format="long", locale="ru")
    assert flow.message(ivan, ask).text.endswith(ru("exit-break-set", date=in_a_month))


async def test_not_needed_asks_whether_we_may_write(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await leave(flow, anna)
    await flow.press(anna, en("exit-reason-not_needed"))
    assert flow.last(anna).buttons == [en("exit-may-write-yes"), en("exit-may-write-no")]
    await flow.press(anna, en("exit-may-write-no"))
    assert en("exit-may-write-off") in flow.last(anna).text


async def test_poor_support_goes_straight_to_a_person(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await leave(flow, anna)
    await flow.press(anna, en("exit-reason-support"))
    assert flow.last(anna).text.endswith(en("exit-support"))
    await flow.send(anna, "Nobody answered my emails for a week")
    await flow.drain_staff()
    [thread] = flow.topics()
    staff = flow.texts(flow.staff_group, thread)
    assert any(en("card-case", number=1, origin=en("origin-exit_interview")) in x for x in staff)
    assert any("Nobody answered my emails for a week" in x for x in staff)


async def test_other_reason_can_be_skipped(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    ask = await leave(flow, anna)
    await flow.press(anna, en("exit-reason-other"))
    assert flow.message(anna, ask).text == (
        en("exit-your-answer", reason=en("exit-reason-other")) + "\n\n" + en("exit-other-ask")
    )
    await flow.press(anna, en("exit-skip"))
    assert flow.last(anna).text.endswith(en("exit-skipped"))
    assert flow.last(anna).buttons == []


async def test_an_answer_in_words_is_awaited_three_hours(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await leave(flow, anna)
    await flow.press(anna, en("exit-reason-feature"))
    flow.clock.advance(hours=2, minutes=59)
    await flow.send(anna, "Dark mode")
    assert flow.last(anna).text == en("exit-feature-thanks", feature="Dark mode")
    await leave(flow, anna)
    await flow.press(anna, en("exit-reason-competitor"))
    flow.clock.advance(hours=3)
    before = len(flow.messages(anna))
    await flow.send(anna, "Acme")  # the wait is over: not a detail any more
    assert len(flow.messages(anna)) == before + 1
    assert flow.last(anna).text == en("faq-none")  # free text outside any wait: the FAQ's answer
    await leave(flow, anna)
    await flow.press(anna, en("exit-reason-break"))
    flow.clock.advance(hours=3)
    until = (flow.clock.now() + timedelta(days=60)).date()
    await flow.send(anna, until.strftime("%d.%m.%Y"))
    answer = flow.last(anna).text
    assert answer == en("faq-none")
    assert answer != en("exit-break-set", date=format_date(until, format="long", locale="en"))
