"""Issue 13 pieces of the FAQ: synonyms, transliteration, message parts, learned phrasings, gap
clusters, the staff keyboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.faq import FaqError, FaqLibrary, load_document
from core.faq.gaps import GapQuestion, cluster_gaps
from core.faq.text import clauses, latin_to_cyrillic
from dialogs.faq.staff import StaffFaqCb, suggestion_keyboard
from dialogs.i18n import I18n

FAQ_DIR = Path(__file__).resolve().parents[2] / "faq"


@pytest.fixture(scope="module")
def shipped() -> FaqLibrary:
    return FaqLibrary.from_dir(FAQ_DIR)


def _doc(**entry: object) -> dict[str, object]:
    base = {"id": "a", "category": "c", "question": "Q?", "answer": "A."}
    return {"language": "en", "categories": [{"id": "c", "title": "C"}], "entries": [{**base, **entry}]}


def test_synonyms_are_validated_and_round_trip() -> None:
    doc = load_document(_doc(synonyms=["cracked", 2024]))
    assert doc.entries[0].synonyms == ("cracked", "2024")
    assert doc.as_dict()["entries"][0]["synonyms"] == ["cracked", "2024"]
    with pytest.raises(FaqError) as exc:
        load_document(_doc(synonyms="cracked"))
    assert exc.value.messages == ["entries[0].synonyms: must be a list, got string"]
    with pytest.raises(FaqError) as exc:
        load_document(_doc(synonyms=["ok", "x" * 101]))
    assert "entries[0].synonyms[1]: is too long" in exc.value.messages[0]


def test_every_shipped_entry_has_synonyms(shipped: FaqLibrary) -> None:
    for lang in ("en", "ru"):
        assert all(e.synonyms for e in shipped.entries(lang)), lang


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("gde moy zakaz", "где мой заказ"),
        ("spisali dvazhdy", "списали дважды"),
        ("kak poluchit bally", "как получит баллы"),
        ("tsena dostavki", "цена доставки"),
        ("apple pay работает", "аппле пай работает"),
    ],
)
def test_latin_typed_russian(latin: str, cyrillic: str) -> None:
    assert latin_to_cyrillic(latin, "ru") == cyrillic


def test_transliteration_only_for_russian_latin_text() -> None:
    assert latin_to_cyrillic("where is my order", "en") is None
    assert latin_to_cyrillic("где мой заказ", "ru") is None


def test_clauses() -> None:
    assert clauses("how long is shipping and how much is it?", "en") == [
        "how long is shipping",
        "how much is it",
    ]
    assert clauses("где посылка? и можно ли поменять адрес", "ru") == [
        "где посылка",
        "можно ли поменять адрес",
    ]
    assert clauses("where is my order", "en") == []


@pytest.mark.parametrize(
    ("lang", "text", "entry_id"),
    [
        ("ru", "gde moy zakaz", "delivery-tracking"),
        ("ru", "скидон не применяется", "payment-promo-code"),
        ("en", "the plate arrived cracked", "returns-damaged"),
        ("en", "ok so its been like 10 days and nothing arrived, whats going on", "delivery-late"),
    ],
)
def test_the_issues_examples(shipped: FaqLibrary, lang: str, text: str, entry_id: str) -> None:
    match = shipped.search(lang, text)
    assert match.kind != "none" and match.best is not None and match.best.id == entry_id


def test_learned_phrasings_change_matching_at_once_and_survive_a_replace() -> None:
    library = FaqLibrary()  # memory only: replace() below must not write the shipped files
    for lang in ("en", "ru"):
        library.replace(lang, (FAQ_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    odd = "the thingamajig with my parcel number"
    assert library.search("en", odd).best is None or library.search("en", odd).best.id != "delivery-tracking"
    version = library.version("en")
    library.set_learned({"en": {"delivery-tracking": [odd]}})
    match = library.search("en", odd)
    assert match.kind == "answer" and match.best is not None and match.best.id == "delivery-tracking"
    assert library.version("en") == version and library.learned("en") == {"delivery-tracking": (odd,)}
    library.replace("en", library.export("en"))  # new content keeps the learned phrasings
    assert library.search("en", odd).best.id == "delivery-tracking"  # type: ignore[union-attr]
    library.set_learned({})
    assert library.learned("en") == {}
    again = library.search("en", odd)
    assert again.kind != "answer" or again.best is None or again.best.id != "delivery-tracking"


def test_suggestions_for_staff(shipped: FaqLibrary) -> None:
    assert shipped.suggestions("en", "my parcel never came, it is 2 weeks late")[0] == "delivery-late"
    assert len(shipped.suggestions("en", "where is my order and can I change the address")) <= 3
    assert shipped.suggestions("en", "") == [] and shipped.suggestions("xx", "hello") == []


def test_gap_clusters_group_phrasings_across_spellings() -> None:
    questions = [
        GapQuestion("можно отменить заказ", "ru", 3, unanswered=3),
        GapQuestion("kak otmenit zakaz", "ru", 1, unanswered=1),
        GapQuestion("отмена заказа", "ru", 1, unhelpful=1),
        GapQuestion("есть вакансии", "ru", 2, unanswered=2),
        GapQuestion("do you gift wrap", "en", 1),
    ]
    clusters = cluster_gaps(questions)
    first = clusters[0]
    assert (first.title, first.count, first.phrasings, first.unanswered, first.unhelpful) == (
        "можно отменить заказ",
        5,
        3,
        4,
        1,
    )
    assert set(first.terms) >= {"заказ"} and len(first.examples) == 3
    assert [(c.title, c.count) for c in clusters[1:]] == [("есть вакансии", 2), ("do you gift wrap", 1)]
    assert cluster_gaps([]) == []


def test_staff_keyboard_from_plain_data() -> None:
    t = I18n()("en")
    markup = suggestion_keyboard({"ids": ["delivery-late", "delivery-tracking"], "lang": "ru"}, 12345678, t)
    assert markup is not None
    rows = markup.inline_keyboard
    assert [[b.text for b in row] for row in rows] == [
        ["📤 delivery-late", "🎓 teach"],
        ["📤 delivery-tracking", "🎓 teach"],
    ]
    assert StaffFaqCb.unpack(rows[0][0].callback_data) == StaffFaqCb(a="s", e="delivery-late", m=12345678)
    longest = StaffFaqCb(a="t", e="x" * 40, m=2**53).pack()
    assert len(longest.encode()) <= 64
    assert suggestion_keyboard(None, 1, t) is None and suggestion_keyboard({"ids": []}, 1, t) is None
    assert suggestion_keyboard({"ids": ["a"]}, None, t) is None
