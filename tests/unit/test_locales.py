"""Every locale has the same keys, and every key a handler uses exists."""

import re
from pathlib import Path

from dialogs.i18n import LANGUAGES, I18n

ROOT = Path(__file__).resolve().parents[2]


def test_same_keys_in_every_locale() -> None:
    i18n = I18n()
    en = i18n.keys["en"]
    assert en, "no English texts loaded"
    for lang in LANGUAGES:
        assert i18n.keys[lang] == en, f"{lang}: missing {en - i18n.keys[lang]}, extra {i18n.keys[lang] - en}"


def test_keys_used_in_code_exist() -> None:
    i18n = I18n()
    used: set[str] = set()
    for path in list((ROOT / "dialogs").rglob("*.py")) + list((ROOT / "bot").rglob("*.py")):
        used |= set(re.findall(r"\bt\(\s*\"([a-z0-9-]+)\"", path.read_text()))
    assert used, "found no translation calls"
    assert used <= i18n.keys["en"], used - i18n.keys["en"]


def test_russian_plurals() -> None:
    from fluent.runtime import FluentBundle, FluentResource

    bundle = FluentBundle(["ru"], use_isolating=False)
    bundle.add_resource(
        FluentResource(
            "pts = { $n ->\n    [one] { $n } балл\n    [few] { $n } балла\n   *[many] { $n } баллов\n}\n"
        )
    )
    fmt = lambda n: bundle.format_pattern(bundle.get_message("pts").value, {"n": n})[0]  # noqa: E731
    assert [fmt(n) for n in (1, 2, 5, 21, 112)] == ["1 балл", "2 балла", "5 баллов", "21 балл", "112 баллов"]
