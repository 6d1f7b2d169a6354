"""The main menu is a list the composition root builds (no import-time registry)."""

import pytest

from dialogs.menu import MainMenu, MenuItem
from supportbot.runtime import main_menu


def test_root_lists_every_flow_item_in_order() -> None:
    assert [i.action for i in main_menu().items] == [
        "faq",
        "human",
        "balance",
        "feedback",
        "language",
        "notifications",
        "privacy",
        "help",
    ]


def test_menu_is_what_it_is_given() -> None:
    menu = MainMenu([MenuItem("b", 20, lambda t, _c: "B"), MenuItem("a", 10, lambda t, _c: "A")])
    assert [i.action for i in menu.items] == ["a", "b"]
    with pytest.raises(ValueError, match="unique"):
        MainMenu([MenuItem("a", 10, lambda t, _c: "A"), MenuItem("a", 20, lambda t, _c: "A")])
