"""FAQ content: loading, validation messages, reload and replace, browsing accessors, search basics."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import Invalid, NotFound
from core.faq import (
    FaqError,
    FaqLibrary,
    FaqVersionMismatch,
    MatchConfig,
    load_document,
    normalize,
    paginate,
)
from core.faq.model import MAX_ANSWER

ROOT = Path(__file__).resolve().parents[2]
FAQ_DIR = ROOT / "faq"
CATEGORIES = ["delivery", "returns", "payment", "loyalty", "account", "subscription"]


def doc(**overrides: Any) -> dict[str, Any]:
    """A small valid document; `entries`/`categories` overrides replace the lists."""
    data: dict[str, Any] = {
        "language": "en",
        "categories": [
            {"id": "delivery", "title": "Delivery", "emoji": "🚚"},
            {"id": "returns", "title": "Returns"},
        ],
        "entries": [
            {
                "id": "delivery-time",
                "category": "delivery",
                "question": "How long does delivery take?",
                "answer": "Two to five days.",
                "keywords": ["shipping time"],
                "buttons": [{"text": "Track", "url": "https://shop.example.com/track"}],
            },
            {
                "id": "returns-how",
                "category": "returns",
                "question": "How do I return an item?",
                "answer": "In My orders.",
            },
        ],
    }
    data.update(overrides)
    return data


def entry(**fields: Any) -> dict[str, Any]:
    base = {"id": "e", "category": "delivery", "question": "Q?", "answer": "A."}
    base.update(fields)
    return base


def problems(content: Any, language: str | None = None) -> list[str]:
    with pytest.raises(FaqError) as info:
        load_document(content, language=language)
    return info.value.messages


@pytest.fixture
def faq_dir(tmp_path: Path) -> Path:
    target = tmp_path / "faq"
    shutil.copytree(FAQ_DIR, target)
    return target


# --- the shipped example content ------------------------------------------------------------------


def test_example_content_is_complete_and_parallel() -> None:
    library = FaqLibrary.from_dir(FAQ_DIR)
    assert library.languages() == ["en", "ru"]
    ids = {}
    for lang in ("en", "ru"):
        entries = library.entries(lang)
        assert len(entries) >= 20
        assert [c.id for c in library.categories(lang)] == CATEGORIES
        for e in entries:
            assert len(e.answer) <= MAX_ANSWER
            assert len(f"faq:e:{e.id}".encode()) <= 64  # fits callback_data with a prefix
            assert e.keywords, e.id
        ids[lang] = [e.id for e in entries]
    assert ids["en"] == ids["ru"], "translated entries share their ids"


def test_example_file_round_trips_through_export() -> None:
    library = FaqLibrary.from_dir(FAQ_DIR)
    for lang in library.languages():
        again = load_document(library.export(lang), language=lang)
        assert again == library.document(lang)
        assert "#" in library.export_yaml(lang)  # the file as written, comments included


# --- validation -----------------------------------------------------------------------------------


def test_valid_document_loads_with_defaults() -> None:
    d = load_document(doc(entries=[entry(question="  Spaces trimmed?  ", answer="Yes.\n")]))
    (e,) = d.entries
    assert (e.question, e.answer, e.keywords, e.buttons) == ("Spaces trimmed?", "Yes.", (), ())
    assert d.category("delivery").label == "🚚 Delivery"
    assert d.entries_in("returns") == ()  # a category without entries is fine


def test_unknown_category() -> None:
    entries = [entry(id=f"e{i}") for i in range(3)] + [entry(id="e3", category="shiping")]
    assert problems(doc(entries=entries)) == ["entries[3].category: unknown category 'shiping'"]


def test_duplicate_ids() -> None:
    assert problems(
        doc(
            categories=[{"id": "delivery", "title": "A"}, {"id": "delivery", "title": "B"}],
            entries=[entry(id="same"), entry(id="other"), entry(id="same")],
        )
    ) == [
        "categories[1].id: duplicate category id 'delivery' (first used in categories[0])",
        "entries[2].id: duplicate entry id 'same' (first used in entries[0])",
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"answer": ""}, "entries[0].answer: must not be empty"),
        ({"answer": "   \n "}, "entries[0].answer: must not be empty"),
        (
            {"answer": "x" * (MAX_ANSWER + 1)},
            "entries[0].answer: is too long (3501 UTF-16 units, at most 3500)",
        ),
        ({"answer": 42}, "entries[0].answer: must be a string, got number"),
        ({"question": None}, "entries[0].question: is required"),
        ({"question": "two\nlines"}, "entries[0].question: must be a single line"),
        (
            {"id": "Delivery Time"},
            "entries[0].id: invalid id 'Delivery Time': use 1-40 characters a-z, 0-9 and '-'",
        ),
        ({"id": "a" * 41}, f"entries[0].id: invalid id '{'a' * 41}': use 1-40 characters a-z, 0-9 and '-'"),
        ({"id": "faq_1"}, "entries[0].id: invalid id 'faq_1': use 1-40 characters a-z, 0-9 and '-'"),
        ({"keywords": "shipping"}, "entries[0].keywords: must be a list, got string"),
        ({"keywords": ["ok", ""]}, "entries[0].keywords[1]: must not be empty"),
        (
            {"buttons": [{"text": "Go", "url": "ftp://shop.example.com"}]},
            "entries[0].buttons[0].url: URL must start with http:// or https://, got 'ftp://shop.example.com'",
        ),
        (
            {"buttons": [{"text": "Go", "url": "javascript:alert(1)"}]},
            "entries[0].buttons[0].url: URL must start with http:// or https://, got 'javascript:alert(1)'",
        ),
        (
            {"buttons": [{"text": "Go", "url": "https://"}]},
            "entries[0].buttons[0].url: invalid URL 'https://'",
        ),
        (
            {"buttons": [{"text": "x" * 65, "url": "https://a.example"}]},
            "entries[0].buttons[0].text: is too long (65 UTF-16 units, at most 64)",
        ),
        ({"buttons": [{"url": "https://a.example"}]}, "entries[0].buttons[0].text: is required"),
        (
            {"buttons": [{"text": "Go", "url": "https://a.example", "color": "red"}]},
            "entries[0].buttons[0].color: unknown field (expected one of: text, url)",
        ),
        (
            {"anwser": "typo"},
            "entries[0].anwser: unknown field "
            "(expected one of: id, category, question, answer, keywords, synonyms, buttons)",
        ),
    ],
)
def test_entry_problems(fields: dict[str, Any], message: str) -> None:
    assert problems(doc(entries=[entry(**fields)])) == [message]


def test_document_level_problems() -> None:
    assert problems(None) == ["the FAQ is empty (expected a mapping with language, categories and entries)"]
    assert problems([1, 2]) == ["must be a mapping, got list"]
    assert problems(doc(language="english")) == [
        "language: invalid language code 'english' (expected e.g. 'en', 'ru', 'pt-br')"
    ]
    assert problems(doc(language="ru"), language="en") == ["language: is 'ru' but this content is for 'en'"]
    assert problems(doc(entries={"a": 1})) == ["entries: must be a list, got mapping"]
    assert problems(doc(categories=[{"id": "delivery"}], entries=[])) == ["categories[0].title: is required"]
    assert problems({**doc(), "version": 2}) == [
        "version: unknown field (expected one of: language, categories, entries)"
    ]
    no_language = doc()
    del no_language["language"]
    assert load_document(no_language, language="en").language == "en"  # taken from the file name / URL
    assert problems(no_language) == ["language: is required"]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(FaqError) as info:
        load_document(doc(entries=[entry(id="A", answer=""), entry(id="b", category="nope", question="")]))
    error = info.value
    assert error.messages == [
        "entries[0].id: invalid id 'A': use 1-40 characters a-z, 0-9 and '-'",
        "entries[0].answer: must not be empty",
        "entries[1].category: unknown category 'nope'",
        "entries[1].question: must not be empty",
    ]
    assert isinstance(error, Invalid) and error.status == 422 and error.code == "faq_invalid"
    assert error.message.startswith("4 problems in the FAQ: entries[0].id: invalid id 'A'")
    assert error.details[2] == {
        "field": "entries[1].category",
        "message": "unknown category 'nope'",
        "type": "faq_invalid",
    }


def test_yaml_errors_name_the_line() -> None:
    assert problems("language: en\ncategories: [\n") == [
        "line 3, column 1: invalid YAML: while parsing a flow node: "
        "expected the node content, but found '<stream end>'"
    ]
    text = "language: en\ncategories: []\nentries:\n  - id: a\n    answer: x\n    answer: y\n"
    assert problems(text) == ["line 6, column 5: invalid YAML: duplicate key 'answer'"]
    # `answer: no` is a boolean in YAML: say so instead of storing "False"
    text = (
        "language: en\ncategories: [{id: c, title: C}]\n"
        "entries: [{id: a, category: c, question: Q, answer: no}]"
    )
    assert problems(text) == ["entries[0].answer: must be a string, got boolean"]
    text = (
        "language: en\ncategories: [{id: c, title: C}]\n"
        "entries: [{id: a, category: c, question: Q, answer: yes}]"
    )
    assert problems(text) == ["entries[0].answer: must be a string, got boolean"]


# --- loading, reload, replace ---------------------------------------------------------------------


def test_load_dir_reports_every_bad_file_and_loads_nothing(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text(yaml.safe_dump(doc()))
    (tmp_path / "ru.yaml").write_text(yaml.safe_dump(doc(language="ru", entries=[entry(category="x")])))
    (tmp_path / "notes.yaml").write_text("a: 1")
    (tmp_path / "README.md").write_text("ignored")
    library = FaqLibrary()
    with pytest.raises(FaqError) as info:
        library.load_dir(tmp_path)
    assert info.value.messages == [
        "notes.yaml: the file name must be a language code, e.g. en.yaml",
        "ru.yaml: entries[0].category: unknown category 'x'",
    ]
    assert library.languages() == []
    with pytest.raises(FaqError, match="FAQ directory does not exist"):
        library.load_dir(tmp_path / "missing")


def test_reload_keeps_old_content_when_any_file_is_bad(faq_dir: Path) -> None:
    library = FaqLibrary.from_dir(faq_dir)
    before = library.versions()
    en = faq_dir / "en.yaml"
    original = en.read_text()
    # a valid change to ru and a broken en: neither may go live
    ru = faq_dir / "ru.yaml"
    ru.write_text(ru.read_text().replace("Сколько идёт доставка?", "Как долго идёт доставка?"))
    en.write_text(original.replace("category: returns", "category: retruns", 1))
    with pytest.raises(FaqError) as info:
        library.reload()
    assert info.value.messages == ["en.yaml: entries[7].category: unknown category 'retruns'"]
    assert library.versions() == before
    assert library.entry("ru", "delivery-time").question == "Сколько идёт доставка?"
    assert library.entry("en", "returns-how").category == "returns"

    en.write_text("language: en\nentries: [\n")
    with pytest.raises(FaqError, match=r"en\.yaml: line 3, column 1: invalid YAML"):
        library.reload()
    assert library.versions() == before

    en.write_text(original.replace("How long does delivery take?", "When will my order arrive?"))
    after = library.reload()
    assert after["en"] != before["en"] and after["ru"] != before["ru"]
    assert library.entry("en", "delivery-time").question == "When will my order arrive?"
    assert library.entry("ru", "delivery-time").question == "Как долго идёт доставка?"
    assert library.search("en", "when will my order arrive").best.id == "delivery-time"


def test_reload_needs_a_directory() -> None:
    with pytest.raises(FaqError, match="no FAQ directory was loaded"):
        FaqLibrary().reload()


def test_replace_with_yaml_text_writes_the_file_as_given(faq_dir: Path) -> None:
    library = FaqLibrary.from_dir(faq_dir)
    old_version = library.version("en")
    text = "# edited through the API\n" + yaml.safe_dump(doc(), allow_unicode=True)
    document = library.replace("en", text)
    assert (faq_dir / "en.yaml").read_text() == text
    assert library.version("en") != old_version
    assert library.document("en") == document
    assert [e.id for e in library.entries("en")] == ["delivery-time", "returns-how"]
    assert library.search("en", "shipping time").best.id == "delivery-time"
    assert library.export_yaml("en") == text
    assert sorted(p.name for p in faq_dir.iterdir()) == ["en.yaml", "ru.yaml"]  # no temp files left
    # what was written is what a restart loads
    assert FaqLibrary.from_dir(faq_dir).versions() == library.versions()


def test_replace_with_a_mapping_writes_tidy_yaml(faq_dir: Path) -> None:
    library = FaqLibrary.from_dir(faq_dir)
    data = library.export("ru")
    data["entries"][0]["answer"] = "Первая строка.\nВторая строка."
    library.replace("ru", data)
    written = (faq_dir / "ru.yaml").read_text()
    assert "answer: |-\n      Первая строка.\n      Вторая строка." in written
    assert "Доставка" in written  # unicode kept readable
    assert FaqLibrary.from_dir(faq_dir).export("ru") == library.export("ru")
    # GET -> PUT unchanged is a no-op for the version
    version = library.version("ru")
    library.replace("ru", library.export("ru"))
    assert library.version("ru") == version


def test_replace_refuses_bad_content_and_keeps_everything(faq_dir: Path) -> None:
    library = FaqLibrary.from_dir(faq_dir)
    before = (faq_dir / "en.yaml").read_bytes()
    version = library.version("en")
    bad = doc(entries=[entry(category="shiping"), entry(id="e", answer="")])
    with pytest.raises(FaqError) as info:
        library.replace("en", bad)
    assert info.value.messages == [
        "entries[0].category: unknown category 'shiping'",
        "entries[1].id: duplicate entry id 'e' (first used in entries[0])",
        "entries[1].answer: must not be empty",
    ]
    with pytest.raises(FaqError, match="language: is 'ru' but this content is for 'en'"):
        library.replace("en", doc(language="ru"))
    with pytest.raises(FaqError, match="not valid UTF-8"):
        library.replace("en", b"language: en\n\xff")
    with pytest.raises(FaqError, match="invalid language code"):
        library.replace("../etc", doc())
    assert (faq_dir / "en.yaml").read_bytes() == before
    assert library.version("en") == version
    assert sorted(p.name for p in faq_dir.iterdir()) == ["en.yaml", "ru.yaml"]


def test_replace_is_atomic_when_the_write_fails(faq_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = FaqLibrary.from_dir(faq_dir)
    before = (faq_dir / "en.yaml").read_bytes()
    version = library.version("en")
    calls = []

    def failing_replace(src: str, dst: str) -> None:
        calls.append((Path(src), Path(dst)))
        assert Path(src).parent == faq_dir and Path(src).read_text() == yaml.safe_dump(doc())  # fully written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        library.replace("en", yaml.safe_dump(doc()))
    assert calls and calls[0][1] == faq_dir / "en.yaml"
    assert (faq_dir / "en.yaml").read_bytes() == before
    assert library.version("en") == version
    assert sorted(p.name for p in faq_dir.iterdir()) == ["en.yaml", "ru.yaml"]  # temp file removed


def test_replace_checks_the_version_it_was_given(faq_dir: Path) -> None:
    library = FaqLibrary.from_dir(faq_dir)
    version = library.version("en")
    library.replace("en", doc(), if_match=f'"{version}"')  # an ETag as sent, quotes and all
    with pytest.raises(FaqVersionMismatch) as info:
        library.replace("en", doc(entries=[]), if_match=version)
    assert info.value.status == 412 and info.value.details["version"] == library.version("en")
    assert len(library.entries("en")) == 2
    library.replace("en", doc(), if_match=f'W/"{library.version("en")}"')
    library.replace("en", doc(), if_match="*")
    with pytest.raises(FaqVersionMismatch):
        library.replace("fr", doc(language="fr"), if_match="*")  # nothing there yet


def test_replace_adds_a_language_and_works_without_a_directory(faq_dir: Path) -> None:
    library = FaqLibrary.from_dir(faq_dir)
    library.replace("de", doc(language="de"))
    assert (faq_dir / "de.yaml").exists() and library.languages() == ["de", "en", "ru"]
    memory = FaqLibrary()
    memory.replace("en", doc())
    assert memory.entry("en", "returns-how") is not None and memory.directory is None


# --- browsing -------------------------------------------------------------------------------------


def test_browsing_accessors() -> None:
    library = FaqLibrary()
    library.replace("en", doc(categories=[*doc()["categories"], {"id": "empty", "title": "Nothing yet"}]))
    assert [c.id for c in library.categories("en")] == ["delivery", "returns"]
    assert [c.id for c in library.categories("en", include_empty=True)] == ["delivery", "returns", "empty"]
    assert library.category("en", "delivery").title == "Delivery"
    assert [e.id for e in library.entries("en", "delivery")] == ["delivery-time"]
    assert [e.id for e in library.entries("en")] == ["delivery-time", "returns-how"]
    assert library.entries("en", "nope") == []
    e = library.entry("en", "delivery-time")
    assert e.buttons[0].url == "https://shop.example.com/track" and e.keywords == ("shipping time",)
    assert library.entry("en", "gone-after-an-edit") is None
    # a language without FAQ: browsing is empty, the API-facing calls say 404
    assert library.categories("fr") == [] and library.entries("fr", "delivery") == []
    assert library.entry("fr", "delivery-time") is None and library.category("fr", "delivery") is None
    for call in (library.document, library.export, library.export_yaml, library.version, library.index):
        with pytest.raises(NotFound):
            call("fr")


def test_paging() -> None:
    items = list(range(17))
    first = paginate(items, 0, 6)
    assert (first.items, first.page, first.pages, first.total) == ((0, 1, 2, 3, 4, 5), 0, 3, 17)
    assert not first.has_prev and first.has_next
    last = paginate(items, 2, 6)
    assert last.items == (12, 13, 14, 15, 16) and last.has_prev and not last.has_next
    assert paginate(items, 99, 6).page == 2  # a stale "next" button after the FAQ shrank
    assert paginate(items, -1, 6).page == 0
    empty = paginate([], 0, 6)
    assert (empty.items, empty.page, empty.pages, empty.has_next) == ((), 0, 1, False)
    with pytest.raises(ValueError):
        paginate(items, 0, 0)
    library = FaqLibrary.from_dir(FAQ_DIR)
    page = library.categories_page("ru", 1, per_page=4)
    assert [c.id for c in page.items] == ["account", "subscription"] and page.pages == 2
    entries = library.entries_page("en", "loyalty", 1, per_page=5)
    assert [e.id for e in entries.items] == ["loyalty-birthday", "loyalty-balance", "loyalty-missing-points"]
    assert entries.total == 8 and entries.pages == 2


# --- search basics --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> FaqLibrary:
    return FaqLibrary.from_dir(FAQ_DIR)


def test_normalize() -> None:
    assert normalize("  Ёлка,  E-MAIL!!! 🙂 don't\tЗаКаЗ №5  ") == "елка email dont заказ 5"
    assert normalize("🙂🙂 ?!") == ""


@pytest.mark.parametrize(
    ("lang", "text", "entry_id"),
    [
        ("ru", "Сколько стоит доставка?", "delivery-cost"),
        ("ru", "скока идет доставка", "delivery-time"),
        ("ru", "как отменить подписку", "subscription-cancel"),
        ("ru", "ghjvjrjl", "payment-promo-code"),  # "промокод" typed with the English layout
        ("en", "How do I cancel my subscription?", "subscription-cancel"),
        ("en", "my card was declined", "payment-failed"),
    ],
)
def test_confident_answers(shipped: FaqLibrary, lang: str, text: str, entry_id: str) -> None:
    match = shipped.search(lang, text)
    assert (match.kind, match.best.id) == ("answer", entry_id), match
    assert match.candidates[0].entry.id == entry_id and match.score == match.candidates[0].score


def test_unsure_offers_up_to_three(shipped: FaqLibrary) -> None:
    match = shipped.search("ru", "доставка")
    assert match.kind == "suggest" and 2 <= len(match.candidates) <= 3
    assert all(c.entry.category == "delivery" for c in match.candidates)
    scores = [c.score for c in match.candidates]
    assert scores == sorted(scores, reverse=True)
    assert match.best == match.candidates[0].entry


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "can I bring my dog to the office"), ("ru", "какая погода завтра"), ("ru", ""), ("en", "🙂 ?!")],
)
def test_no_match(shipped: FaqLibrary, lang: str, text: str) -> None:
    match = shipped.search(lang, text)
    assert match.kind == "none" and match.best is None


def test_search_stays_in_the_customers_language(shipped: FaqLibrary) -> None:
    assert shipped.search("en", "сколько стоит доставка").kind == "none"  # ru text, en customer
    assert shipped.search("ru", "how much does delivery cost").kind == "none"
    assert shipped.search("de", "Lieferung").kind == "none"  # no FAQ in that language


def test_thresholds_are_parameters(shipped: FaqLibrary) -> None:
    text = "Сколько стоит доставка?"
    assert shipped.search("ru", text).kind == "answer"
    assert shipped.search("ru", text, config=MatchConfig(answer_threshold=101)).kind == "suggest"
    strict = MatchConfig(answer_threshold=101, suggest_threshold=101)
    assert shipped.search("ru", text, config=strict).kind == "none"
    library = FaqLibrary.from_dir(FAQ_DIR, config=strict)
    assert library.search("ru", text).kind == "none"


def test_long_messages_are_cut_before_matching(shipped: FaqLibrary) -> None:
    """A pasted essay is matched on its first MAX_QUERY_CHARS only, so its cost is bounded (the
    speed itself is measured in bench/faq_match.py, not timed here)."""
    from core.faq.library import MAX_QUERY_CHARS

    noise = " ".join(f"слово{i} абракадабра{i}" for i in range(300))
    question = "сколько идёт доставка"
    assert len(noise) > MAX_QUERY_CHARS
    assert shipped.search("ru", question).kind == "answer"
    assert shipped.search("ru", question + " " + noise).kind == "answer"  # within the cut
    assert shipped.search("ru", noise + " " + question).kind == "none"  # past the cut: not read


def test_core_faq_imports_no_bot_or_web_framework() -> None:
    code = "import sys, core.faq; bad = {'aiogram', 'fastapi'} & set(sys.modules); assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
