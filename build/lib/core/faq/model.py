"""The FAQ content model and its validation (YAML or JSON-like dict -> FaqDocument).

Every problem is collected, not just the first, and reported as ``path: problem`` with the path
written the way a person reads the file: ``entries[3].category: unknown category 'shiping'``.
Indexes are zero-based, as in the API's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from core.errors import Invalid
from core.text_limits import utf16_len

ID_RE = re.compile(r"^[a-z0-9-]{1,40}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")

MAX_ANSWER = 3500  # a Telegram message holds 4096; leave room for a header and buttons
MAX_QUESTION = 300
MAX_TITLE = 64
MAX_EMOJI = 16
MAX_KEYWORD = 100
MAX_KEYWORDS = 50
MAX_BUTTONS = 8
MAX_BUTTON_TEXT = 64
MAX_URL = 2048
MAX_CATEGORIES = 100
MAX_ENTRIES = 1000

_DOC_FIELDS = ("language", "categories", "entries")
_CATEGORY_FIELDS = ("id", "title", "emoji")
_ENTRY_FIELDS = ("id", "category", "question", "answer", "keywords", "synonyms", "buttons")
_BUTTON_FIELDS = ("text", "url")


@dataclass(frozen=True, slots=True)
class FaqButton:
    text: str
    url: str

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, "url": self.url}


@dataclass(frozen=True, slots=True)
class FaqCategory:
    id: str
    title: str
    emoji: str | None = None

    @property
    def label(self) -> str:
        """Title with the emoji in front, ready for a button."""
        return f"{self.emoji} {self.title}" if self.emoji else self.title

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "emoji": self.emoji}


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    category: str
    question: str
    answer: str
    keywords: tuple[str, ...] = ()
    buttons: tuple[FaqButton, ...] = ()
    # Everyday words and slang customers use for this entry's words ("cracked", "скидон"):
    # matched like keywords, but never shown.
    synonyms: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "question": self.question,
            "answer": self.answer,
            "keywords": list(self.keywords),
            "synonyms": list(self.synonyms),
            "buttons": [b.as_dict() for b in self.buttons],
        }


@dataclass(frozen=True, slots=True)
class FaqDocument:
    """One language's FAQ. Categories and entries keep the order of the file."""

    language: str
    categories: tuple[FaqCategory, ...] = ()
    entries: tuple[FaqEntry, ...] = ()
    _by_id: dict[str, FaqEntry] = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_category: dict[str, tuple[FaqEntry, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_id.update({e.id: e for e in self.entries})
        grouped: dict[str, list[FaqEntry]] = {c.id: [] for c in self.categories}
        for e in self.entries:
            grouped.setdefault(e.category, []).append(e)
        self._by_category.update({k: tuple(v) for k, v in grouped.items()})

    def entry(self, entry_id: str) -> FaqEntry | None:
        return self._by_id.get(entry_id)

    def category(self, category_id: str) -> FaqCategory | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def entries_in(self, category_id: str) -> tuple[FaqEntry, ...]:
        return self._by_category.get(category_id, ())

    def as_dict(self) -> dict[str, Any]:
        """The canonical form: what GET returns and what PUT accepts back unchanged."""
        return {
            "language": self.language,
            "categories": [c.as_dict() for c in self.categories],
            "entries": [e.as_dict() for e in self.entries],
        }


@dataclass(frozen=True, slots=True)
class FaqProblem:
    path: str  # "entries[3].category"; "" for the document itself
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class FaqError(Invalid):
    """The content was refused. `problems` lists every problem; nothing was changed."""

    code = "faq_invalid"

    def __init__(self, problems: list[FaqProblem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems]
        head = f"{len(lines)} problem{'s' if len(lines) != 1 else ''} in the FAQ"
        super().__init__(
            f"{head}: " + "; ".join(lines),
            details=[{"field": p.path, "message": p.message, "type": "faq_invalid"} for p in problems],
        )

    @property
    def messages(self) -> list[str]:
        return [str(p) for p in self.problems]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # an unhashable key: let the base class report it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def parse_yaml(text: str | bytes) -> Any:
    """YAML text -> plain data, or FaqError with the line and column of a syntax error."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = ": ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise FaqError([FaqProblem(where, f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise FaqError([FaqProblem("", f"invalid YAML: {exc}")]) from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
    }.get(type(value), type(value).__name__)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[FaqProblem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(FaqProblem(path, message))

    def unknown_fields(self, path: str, data: Mapping[Any, Any], allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                self.add(
                    f"{path}.{key}" if path else str(key),
                    f"unknown field (expected one of: {', '.join(allowed)})",
                )

    def text(
        self,
        path: str,
        value: Any,
        *,
        required: bool = True,
        max_len: int | None = None,
        one_line: bool = False,
    ) -> str | None:
        if value is None:
            if required:
                self.add(path, "is required")
            return None
        if not isinstance(value, str):
            # YAML turns `answer: 42` or `title: yes` into numbers and booleans; say so plainly.
            self.add(path, f"must be a string, got {_kind(value)}")
            return None
        text = value.strip()
        if not text:
            self.add(path, "must not be empty")
            return None
        if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
            self.add(path, "must not contain NUL characters or lone UTF-16 surrogates")
            return None
        if one_line and ("\n" in text or "\r" in text):
            self.add(path, "must be a single line")
        if max_len is not None and utf16_len(text) > max_len:  # as Telegram counts (an emoji is 2)
            self.add(path, f"is too long ({utf16_len(text)} UTF-16 units, at most {max_len})")
        return text

    def slug(self, path: str, value: Any) -> str | None:
        text = self.text(path, value)
        if text is not None and not ID_RE.match(text):
            self.add(path, f"invalid id {text!r}: use 1-40 characters a-z, 0-9 and '-'")
            return None
        return text

    def items(self, path: str, value: Any, *, max_items: int) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"must be a list, got {_kind(value)}")
            return []
        if len(value) > max_items:
            self.add(path, f"has too many items ({len(value)}, at most {max_items})")
        return value

    def mapping(self, path: str, value: Any) -> Mapping[Any, Any] | None:
        if not isinstance(value, Mapping):
            self.add(path, f"must be a mapping, got {_kind(value)}")
            return None
        return value


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"invalid URL {url!r}"
    if parts.scheme not in ("http", "https"):
        return f"URL must start with http:// or https://, got {url!r}"
    if not parts.hostname or any(c.isspace() for c in url):
        return f"invalid URL {url!r}"
    return None


def _phrases(check: _Checker, path: str, value: Any) -> list[str]:
    """A list of short one-line phrases (keywords, synonyms)."""
    out: list[str] = []
    for k, kw in enumerate(check.items(path, value, max_items=MAX_KEYWORDS)):
        if isinstance(kw, int | float) and not isinstance(kw, bool):
            kw = str(kw)  # `keywords: [2024]` is harmless
        text = check.text(f"{path}[{k}]", kw, max_len=MAX_KEYWORD, one_line=True)
        if text is not None:
            out.append(text)
    return out


def parse_document(data: Any, *, language: str | None = None) -> FaqDocument:
    """Validate plain data (from YAML or JSON) and build a FaqDocument, or raise FaqError.

    `language`, when given, is the language the content must be for (the file name or the URL);
    a document without a `language` field takes it.
    """
    check = _Checker()
    doc = check.mapping("", data) if data is not None else None
    if data is None:
        check.add("", "the FAQ is empty (expected a mapping with language, categories and entries)")
    if doc is None:
        raise FaqError(check.problems)
    check.unknown_fields("", doc, _DOC_FIELDS)

    lang: str | None
    if doc.get("language") is None and language is not None:
        lang = language
    else:
        lang = check.text("language", doc.get("language"))
        if lang is not None and not LANGUAGE_RE.match(lang):
            check.add("language", f"invalid language code {lang!r} (expected e.g. 'en', 'ru', 'pt-br')")
        elif lang is not None and language is not None and lang != language:
            check.add("language", f"is {lang!r} but this content is for {language!r}")

    categories: list[FaqCategory] = []
    seen_categories: dict[str, int] = {}
    for i, raw in enumerate(check.items("categories", doc.get("categories"), max_items=MAX_CATEGORIES)):
        path = f"categories[{i}]"
        item = check.mapping(path, raw)
        if item is None:
            continue
        check.unknown_fields(path, item, _CATEGORY_FIELDS)
        cid = check.slug(f"{path}.id", item.get("id"))
        title = check.text(f"{path}.title", item.get("title"), max_len=MAX_TITLE, one_line=True)
        emoji = check.text(
            f"{path}.emoji", item.get("emoji"), required=False, max_len=MAX_EMOJI, one_line=True
        )
        if cid is not None:
            if cid in seen_categories:
                check.add(
                    f"{path}.id",
                    f"duplicate category id {cid!r} (first used in categories[{seen_categories[cid]}])",
                )
                continue
            seen_categories[cid] = i
        if cid is not None and title is not None:
            categories.append(FaqCategory(id=cid, title=title, emoji=emoji))

    entries: list[FaqEntry] = []
    seen_entries: dict[str, int] = {}
    for i, raw in enumerate(check.items("entries", doc.get("entries"), max_items=MAX_ENTRIES)):
        path = f"entries[{i}]"
        item = check.mapping(path, raw)
        if item is None:
            continue
        check.unknown_fields(path, item, _ENTRY_FIELDS)
        eid = check.slug(f"{path}.id", item.get("id"))
        if eid is not None:
            if eid in seen_entries:
                check.add(
                    f"{path}.id", f"duplicate entry id {eid!r} (first used in entries[{seen_entries[eid]}])"
                )
            else:
                seen_entries[eid] = i
        category = check.text(f"{path}.category", item.get("category"))
        if category is not None and category not in seen_categories:
            check.add(f"{path}.category", f"unknown category {category!r}")
        question = check.text(f"{path}.question", item.get("question"), max_len=MAX_QUESTION, one_line=True)
        answer = check.text(f"{path}.answer", item.get("answer"), max_len=MAX_ANSWER)

        keywords = _phrases(check, f"{path}.keywords", item.get("keywords"))
        synonyms = _phrases(check, f"{path}.synonyms", item.get("synonyms"))

        buttons: list[FaqButton] = []
        for b, raw_button in enumerate(
            check.items(f"{path}.buttons", item.get("buttons"), max_items=MAX_BUTTONS)
        ):
            bpath = f"{path}.buttons[{b}]"
            button = check.mapping(bpath, raw_button)
            if button is None:
                continue
            check.unknown_fields(bpath, button, _BUTTON_FIELDS)
            text = check.text(f"{bpath}.text", button.get("text"), max_len=MAX_BUTTON_TEXT, one_line=True)
            url = check.text(f"{bpath}.url", button.get("url"), max_len=MAX_URL, one_line=True)
            if url is not None and (problem := _url_problem(url)):
                check.add(f"{bpath}.url", problem)
                url = None
            if text is not None and url is not None:
                buttons.append(FaqButton(text=text, url=url))

        if eid is not None and category is not None and question is not None and answer is not None:
            entries.append(
                FaqEntry(eid, category, question, answer, tuple(keywords), tuple(buttons), tuple(synonyms))
            )

    if check.problems:
        raise FaqError(check.problems)
    assert lang is not None
    return FaqDocument(language=lang, categories=tuple(categories), entries=tuple(entries))


def load_document(content: str | bytes | Mapping[str, Any], *, language: str | None = None) -> FaqDocument:
    """YAML text, or an already parsed mapping (a JSON body), -> FaqDocument or FaqError."""
    data = parse_yaml(content) if isinstance(content, str | bytes) else content
    return parse_document(data, language=language)
