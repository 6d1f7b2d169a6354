"""What a customer should see, built from the locale files (dialogs/locales), so a test states
the expected screen in the product's own words, independent of the handlers' code."""

from __future__ import annotations

from dialogs.i18n import Translator

# The main menu in order (dialogs.menu orders: FAQ 10, human 20, balance 30, feedback 40,
# language 80, notifications 85, privacy 90, help 95), with each item's feature line.
MENU = [
    ("menu-faq", "feature-faq"),
    ("menu-human", "feature-human"),
    ("menu-balance", "feature-balance"),
    ("menu-feedback", "feature-feedback"),
    ("menu-language", "feature-language"),
    ("menu-notifications-on", "feature-notifications"),
    ("menu-privacy", "feature-privacy"),
    ("menu-help", None),
]


def menu_buttons(t: Translator, *, notifications: bool = True) -> list[str]:
    labels = [t(label) for label, _ in MENU]
    if not notifications:
        labels[5] = t("menu-notifications-off")
    return labels


def welcome(t: Translator, name: str, shop: str = "Demo Shop") -> str:
    features = "\n".join(t("feature-line", text=t(feature)) for _, feature in MENU if feature)
    return t("welcome", name=name, shop=shop, features=features)
