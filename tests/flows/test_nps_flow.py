"""NPS from the menu in-process: score -> why -> thanks; a detractor's alert reaches staff and
they may talk to a person; a promoter gets the referral link; no second rating right away."""

from __future__ import annotations

from babel.dates import format_date

from tests.flows.harness import Flow, Person


async def open_survey(flow: Flow, who: Person) -> None:
    t = flow.t(who.lang)
    await flow.send(who, "/start")
    await flow.press(who, t("menu-feedback"))
    assert flow.last(who).text == t("feedback-title")
    assert flow.last(who).buttons == [t("feedback-rate"), t("feedback-leave"), t("menu-back")]
    await flow.press(who, t("feedback-rate"))
    survey = flow.last(who)
    assert survey.text == t("nps-question", name=who.name, shop="Demo Shop")
    assert survey.buttons == [str(i) for i in range(11)]


async def test_detractor_why_thanks_alert_and_a_person(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await open_survey(flow, anna)
    survey = flow.last(anna)
    await flow.press(anna, "3")
    ask = flow.last(anna)
    assert ask.message_id == survey.message_id  # the question becomes the 'why?' in place
    assert ask.text == en("nps-your-score", score=3) + "\n\n" + en("nps-ask-detractor", score=3)
    assert ask.buttons == [en("nps-skip")]

    await flow.send(anna, "Delivery was late twice")
    offer = flow.last(anna)
    assert offer.text == en("nps-thanks-detractor")
    assert offer.buttons == [en("nps-talk"), en("nps-no-thanks")]
    assert flow.message(anna, ask.message_id).buttons == []  # no 'Skip' once they wrote

    # The alert was queued for staff; the staff-group sender posts it into her topic.
    await flow.drain_staff()
    [thread] = flow.topics()
    [alert] = [x for x in flow.texts(flow.staff_group, thread) if "NPS detractor" in x]
    assert alert.startswith(f"⚠️ NPS detractor: 3/10 ({en('nps-trigger-menu')})")
    assert "💬 Delivery was late twice" in alert and "Anna" in alert

    await flow.press(anna, en("nps-talk"))
    assert flow.last(anna).text == en("nps-handoff")
    await flow.drain_staff()
    assert any(
        en("card-case", number=1, origin=en("origin-detractor")) in x
        for x in flow.texts(flow.staff_group, thread)
    )


async def test_detractor_declines_a_person(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await open_survey(flow, anna)
    await flow.press(anna, "0")
    await flow.press(anna, en("nps-skip"))
    await flow.press(anna, en("nps-no-thanks"))
    assert flow.last(anna).text == en("nps-declined")


async def test_promoter_gets_the_referral_link_and_cannot_rate_twice(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await open_survey(flow, anna)
    survey = flow.last(anna)
    await flow.press(anna, "10")
    assert flow.last(anna).text == en("nps-your-score", score=10) + "\n\n" + en("nps-ask-promoter", score=10)
    await flow.press(anna, en("nps-skip"))
    assert flow.message(anna, survey.message_id).text == en("nps-your-score", score=10)  # no 0-10 left
    assert flow.message(anna, survey.message_id).buttons == []
    thanks = flow.last(anna)
    link = thanks.text.splitlines()[-1]
    assert link.startswith("https://t.me/sandbox_support_bot?start=ref_")  # the name getMe gave
    assert thanks.text == en(
        "nps-thanks-promoter", referred=en("points-n", n=100), referrer=en("points-n", n=200), link=link
    )
    assert thanks.buttons == [en("referral-share")]

    # Rating again from the menu right away does not count twice.
    await flow.send(anna, "/menu")
    await flow.press(anna, en("menu-feedback"))
    await flow.press(anna, en("feedback-rate"))
    today = format_date(flow.clock.now().date(), format="long", locale="en")
    assert flow.last(anna).text == en("nps-rated-recently", score=10, date=today)
    assert flow.last(anna).buttons == [en("menu-back")]


async def test_passive_in_russian(flow: Flow, ivan: Person) -> None:
    ru = flow.t("ru")
    await open_survey(flow, ivan)
    await flow.press(ivan, "8")
    await flow.send(ivan, "Дороговато")
    assert flow.last(ivan).text == ru("nps-thanks-passive")
