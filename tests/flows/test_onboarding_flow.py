"""Onboarding in-process: /start with the menu, the language switch, /stop, /start, /forget,
/help; bad input (unknown command, a sticker, a huge text) gets the friendly answer."""

from __future__ import annotations

from core.customers import by_telegram_id
from tests.flows.harness import Flow, Person
from tests.flows.screens import menu_buttons, welcome


async def test_start_shows_welcome_and_main_menu(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await flow.send(anna, "/start")
    shown = flow.last(anna)
    assert shown.text == welcome(en, "Anna")
    assert shown.buttons == menu_buttons(en)
    assert len(flow.messages(anna)) == 1


async def test_russian_customer_gets_russian_welcome(flow: Flow, ivan: Person) -> None:
    ru = flow.t("ru")
    await flow.send(ivan, "/start")
    assert flow.last(ivan).text == welcome(ru, "Иван")
    assert flow.last(ivan).buttons == menu_buttons(ru)


async def test_language_switch_redraws_the_menu_in_place(flow: Flow, ivan: Person) -> None:
    ru, en = flow.t("ru"), flow.t("en")
    await flow.send(ivan, "/start")
    await flow.press(ivan, ru("menu-language"))
    prompt = flow.last(ivan)
    assert prompt.text == ru("language-prompt")
    assert prompt.buttons == ["🇬🇧 English", "🇷🇺 Русский", ru("menu-back")]
    await flow.press(ivan, "🇬🇧 English")
    menu = flow.last(ivan)
    assert menu.message_id == prompt.message_id  # edited in place, no new message
    assert menu.text == en("language-set") + "\n\n" + en("menu-title")
    assert menu.buttons == menu_buttons(en)
    # From now on in English, whatever Telegram's language says.
    await flow.send(ivan, "/help")
    assert flow.last(ivan).text == en("help")

    # And back with /language.
    await flow.send(ivan, "/language")
    await flow.press(ivan, "🇷🇺 Русский")
    assert flow.last(ivan).text == ru("language-set") + "\n\n" + ru("menu-title")
    assert flow.last(ivan).buttons == menu_buttons(ru)


async def test_stop_then_start_then_forget(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await flow.send(anna, "/start")
    await flow.send(anna, "/stop")
    assert flow.last(anna).text == en("stop-done")
    await flow.send(anna, "/stop")
    assert flow.last(anna).text == en("stop-already")
    await flow.send(anna, "/menu")
    assert flow.last(anna).buttons == menu_buttons(en, notifications=False)

    await flow.send(anna, "/start")
    back = flow.last(anna)
    assert back.text == en("welcome-back", name="Anna")
    assert back.buttons == menu_buttons(en)  # notifications on again

    await flow.send(anna, "/forget")
    confirm = flow.last(anna)
    assert confirm.text == en("forget-confirm")
    assert confirm.buttons == [en("forget-yes"), en("forget-no")]
    await flow.press(anna, en("forget-yes"))
    assert flow.last(anna).text == en("forget-done")
    async with flow.db() as session:
        assert await by_telegram_id(session, anna.id) is None


async def test_forget_cancelled_keeps_the_data(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await flow.send(anna, "/forget")
    await flow.press(anna, en("forget-no"))
    assert flow.last(anna).text == en("forget-cancelled")
    async with flow.db() as session:
        assert await by_telegram_id(session, anna.id) is not None


async def test_unknown_command_gets_the_menu(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await flow.send(anna, "/nonsense")
    shown = flow.last(anna)
    assert shown.text == en("unknown-command", command="/nonsense")
    assert shown.buttons == menu_buttons(en)


async def test_sticker_is_answered_with_what_the_bot_reads(flow: Flow, anna: Person) -> None:
    await flow.send_media(anna, "sticker")
    assert flow.last(anna).text == flow.t("en")("unsupported-content")


async def test_huge_text_is_refused_politely(flow: Flow, ivan: Person) -> None:
    await flow.send(ivan, "ы" * 4096)
    text = flow.last(ivan).text
    assert text.startswith(flow.t("ru")("text-too-long", limit=0).split("0")[0])
    assert len(flow.messages(ivan)) == 1  # no FAQ search, no request opened


async def test_odd_inputs_in_a_row_each_get_one_answer(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    for act, expected in [
        (lambda: flow.send(anna, "/whatever"), en("unknown-command", command="/whatever")),
        (lambda: flow.send_media(anna, "sticker"), en("unsupported-content")),
        (lambda: flow.send(anna, "hello?"), en("faq-none")),
    ]:
        before = len(flow.messages(anna))
        await act()
        assert flow.messages(anna)[before].text == expected
