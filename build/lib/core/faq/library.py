"""The live FAQ for every language: load, reload, replace (API PUT), export (API GET), browse, search.

Readers never lock: the whole state is one immutable mapping swapped in a single assignment, so
a reader sees either the old content or the new, never a mix. Writers (reload, replace) take a lock
so two of them cannot interleave.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from core.errors import Conflict, NotFound
from core.faq.model import (
    LANGUAGE_RE,
    FaqCategory,
    FaqDocument,
    FaqEntry,
    FaqError,
    FaqProblem,
    load_document,
)
from core.faq.search import DEFAULT_CONFIG, DEFAULT_OPTIONS, FaqIndex, FaqMatch, IndexOptions, MatchConfig
from core.faq.text import normalize

T = TypeVar("T")

SUFFIXES = (".yaml", ".yml")
MAX_QUERY_CHARS = 1000  # a pasted essay is cut here before matching


class FaqVersionMismatch(Conflict):
    """`replace(..., if_match=...)` was given a version that is no longer the live one."""

    status = 412
    code = "faq_version_mismatch"


@dataclass(frozen=True, slots=True)
class FaqPage(Generic[T]):
    """One page of a list; `page` is zero-based and clamped into range."""

    items: tuple[T, ...]
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return self.page + 1 < self.pages


def paginate(items: Sequence[T], page: int, per_page: int) -> FaqPage[T]:
    """Slice `items` into pages. A page number out of range (a stale button after the FAQ changed)
    is clamped to the nearest existing page instead of failing."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    pages = max(1, -(-len(items) // per_page))
    page = min(max(page, 0), pages - 1)
    start = page * per_page
    return FaqPage(tuple(items[start : start + per_page]), page, pages, len(items))


def content_version(document: FaqDocument) -> str:
    """A short hash of the content (not of the file: comments and formatting do not count)."""
    canonical = json.dumps(document.as_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # list items indented under their key, as people write them


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def to_yaml(document: FaqDocument) -> str:
    """The document as a readable YAML file (empty optional fields left out, answers as blocks)."""
    data: dict[str, Any] = {"language": document.language, "categories": [], "entries": []}
    for c in document.categories:
        data["categories"].append({"id": c.id, "title": c.title, **({"emoji": c.emoji} if c.emoji else {})})
    for e in document.entries:
        item: dict[str, Any] = {
            "id": e.id,
            "category": e.category,
            "question": e.question,
            "answer": e.answer,
        }
        if e.keywords:
            item["keywords"] = list(e.keywords)
        if e.synonyms:
            item["synonyms"] = list(e.synonyms)
        if e.buttons:
            item["buttons"] = [b.as_dict() for b in e.buttons]
        data["entries"].append(item)
    text: str = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    return text


@dataclass(frozen=True, slots=True)
class _Live:
    document: FaqDocument
    index: FaqIndex
    version: str
    source: str  # the YAML text as loaded or written
    path: Path | None


Learned = Mapping[str, tuple[str, ...]]  # entry id -> approved customer phrasings


def _build(
    document: FaqDocument,
    source: str,
    path: Path | None,
    options: IndexOptions,
    learned: Learned | None = None,
) -> _Live:
    index = FaqIndex(document, options, learned=dict(learned or {}))
    return _Live(document, index, content_version(document), source, path)


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and os.replace(): a reader (or a crash)
    sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable; not every platform allows opening a directory
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _read_dir(directory: Path, options: IndexOptions, learned: Mapping[str, Learned]) -> dict[str, _Live]:
    """Every `<language>.yaml` in the directory, all valid, or FaqError listing every problem."""
    if not directory.is_dir():
        raise FaqError([FaqProblem(str(directory), "FAQ directory does not exist")])
    problems: list[FaqProblem] = []
    loaded: dict[str, _Live] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and not p.name.startswith(".")):
        language = path.stem
        if not LANGUAGE_RE.match(language):
            problems.append(FaqProblem(path.name, "the file name must be a language code, e.g. en.yaml"))
            continue
        if language in loaded:
            problems.append(FaqProblem(path.name, f"a second file for language {language!r}"))
            continue
        try:
            source = path.read_text(encoding="utf-8")
            document = load_document(source, language=language)
        except UnicodeDecodeError as exc:
            problems.append(FaqProblem(path.name, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"))
            continue
        except OSError as exc:
            problems.append(FaqProblem(path.name, f"cannot read the file: {exc.strerror or exc}"))
            continue
        except FaqError as exc:
            problems.extend(
                FaqProblem(f"{path.name}: {p.path}" if p.path else path.name, p.message) for p in exc.problems
            )
            continue
        loaded[language] = _build(document, source, path, options, learned.get(language))
    if problems:
        raise FaqError(problems)
    return loaded


class FaqLibrary:
    """The FAQ content of all languages, ready to browse and search.

    Start-up: ``library = FaqLibrary.from_dir("faq")`` (or ``FaqLibrary().load_dir(...)``).
    Browsing (bot menus): `categories`, `entries`, `entry`, `categories_page`, `entries_page`.
    Free text: `search`. API: `export` / `export_yaml` (GET), `replace` (PUT), `version` (ETag).

    Read accessors are lenient about a language without FAQ (empty lists, None, a "none" match),
    so the bot never fails on it; `document`, `export`, `export_yaml` and `version` raise NotFound.
    """

    def __init__(
        self, *, config: MatchConfig = DEFAULT_CONFIG, options: IndexOptions = DEFAULT_OPTIONS
    ) -> None:
        self.config = config  # thresholds and weights; may be replaced at any time
        self.options = options  # how texts become terms; used when content is (re)loaded
        self._directory: Path | None = None
        self._defaults: Path | None = None  # shipped, read-only files (load_layers)
        self._live: Mapping[str, _Live] = {}
        self._learned: dict[str, Learned] = {}  # language -> approved phrasings (from the database)
        self._write_lock = threading.Lock()

    @classmethod
    def from_dir(
        cls,
        directory: str | os.PathLike[str],
        *,
        config: MatchConfig = DEFAULT_CONFIG,
        options: IndexOptions = DEFAULT_OPTIONS,
    ) -> FaqLibrary:
        library = cls(config=config, options=options)
        library.load_dir(directory)
        return library

    # --- loading ----------------------------------------------------------------------------------

    @property
    def directory(self) -> Path | None:
        return self._directory

    def load_dir(self, directory: str | os.PathLike[str]) -> dict[str, str]:
        """Load every `<language>.yaml` from the directory (and remember it for reload/replace).
        All files must be valid, else FaqError lists every problem and nothing changes.
        Returns {language: version}."""
        path = Path(directory)
        with self._write_lock:
            live = _read_dir(path, self.options, self._learned)
            self._directory = path
            self._live = live
        return self.versions()

    def load_layers(
        self, defaults: str | os.PathLike[str] | None, data: str | os.PathLike[str]
    ) -> dict[str, str]:
        """Shipped defaults (read-only) overlaid per language by the operator's files in `data`.

        `replace` writes to `data` only (created when first needed), never to `defaults`: the
        files installed with the code stay as shipped. All files must be valid, else FaqError
        lists every problem and nothing changes. Returns {language: version}."""
        shipped = Path(defaults) if defaults is not None else None
        own = Path(data)
        with self._write_lock:
            live: dict[str, _Live] = {}
            if shipped is not None and shipped.is_dir():
                live.update(_read_dir(shipped, self.options, self._learned))
            if own.is_dir():
                live.update(_read_dir(own, self.options, self._learned))
            self._directory, self._defaults = own, shipped
            self._live = live
        return self.versions()

    def reload(self) -> dict[str, str]:
        """Re-read the directory; swap in the new content only if every file is valid.
        On error raises FaqError listing every problem and the old content stays live."""
        if self._directory is None:
            raise FaqError([FaqProblem("", "no FAQ directory was loaded, nothing to reload")])
        if self._defaults is not None:
            return self.load_layers(self._defaults, self._directory)
        return self.load_dir(self._directory)

    def validate(self, language: str, content: str | bytes | Mapping[str, Any]) -> FaqDocument:
        """Check content for a language without changing anything (FaqError when invalid)."""
        if not LANGUAGE_RE.match(language or ""):
            raise FaqError([FaqProblem("language", f"invalid language code {language!r}")])
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FaqError(
                    [FaqProblem("", f"not valid UTF-8 ({exc.reason} at byte {exc.start})")]
                ) from None
        return load_document(content, language=language)

    def replace(
        self,
        language: str,
        content: str | bytes | Mapping[str, Any],
        *,
        if_match: str | None = None,
    ) -> FaqDocument:
        """Validate and make `content` (YAML text or a parsed mapping) the live FAQ for `language`.

        The file `<dir>/<language>.yaml` is written first (atomically) and then the content is
        swapped in; on any error nothing changes. YAML text is stored as given (comments kept);
        a mapping is stored as tidy YAML. `if_match`: the version the caller last read (an ETag,
        quoted or not; "*" = any existing content); a different live version raises
        FaqVersionMismatch (412). Works without a directory (memory only).
        """
        document = self.validate(language, content)
        source = content.decode("utf-8") if isinstance(content, bytes) else content
        text = source if isinstance(source, str) else to_yaml(document)
        with self._write_lock:
            current = self._live.get(language)
            wanted = if_match.strip().removeprefix("W/").strip('"') if if_match is not None else None
            if wanted is not None and (current is None or wanted not in ("*", current.version)):
                raise FaqVersionMismatch(
                    f"the FAQ for {language!r} has changed (live version "
                    f"{current.version if current else 'none'}, expected {if_match})",
                    details={"language": language, "version": current.version if current else None},
                )
            path = current.path if current and current.path else None
            if self._defaults is not None and self._directory is not None:
                path = self._directory / f"{language}.yaml"  # never the shipped file
                path.parent.mkdir(parents=True, exist_ok=True)
            elif path is None and self._directory is not None:
                path = self._directory / f"{language}.yaml"
            live = _build(document, text, path, self.options, self._learned.get(language))
            if path is not None:
                _atomic_write(path, text)
            self._live = {**self._live, language: live}
        return document

    def set_learned(self, learned: Mapping[str, Mapping[str, Sequence[str]]]) -> None:
        """Make these approved customer phrasings ({language: {entry id: [phrasing]}}) part of
        matching, at once (the indexes of changed languages are rebuilt; no restart). Phrasings of
        entries that no longer exist are kept but ignored. The content version does not change:
        learned phrasings live in the database, not in the FAQ files."""
        new = {
            lang: {eid: tuple(dict.fromkeys(p)) for eid, p in sorted(entries.items()) if p}
            for lang, entries in learned.items()
        }
        with self._write_lock:
            live = dict(self._live)
            for lang in set(new) | set(self._learned):
                if new.get(lang, {}) == dict(self._learned.get(lang, {})) or lang not in live:
                    continue
                old = live[lang]
                live[lang] = _build(old.document, old.source, old.path, self.options, new.get(lang))
            self._learned = {lang: entries for lang, entries in new.items() if entries}
            self._live = live

    def learned(self, language: str) -> Learned:
        """The approved phrasings matched for a language (entry id -> phrasings)."""
        return self._learned.get(language, {})

    def suggestions(self, language: str, text: str, *, limit: int = 3) -> list[str]:
        """Ids of the entries most likely to answer `text` (for staff: "send this entry"), best
        first; entries scoring below the candidate threshold are left out."""
        live = self._live.get(language)
        if live is None or not text.strip():
            return []
        _, ranked = live.index.rank(text[:MAX_QUERY_CHARS], self.config)
        return [r.entry.id for r in ranked[:limit] if r.score >= self.config.candidate_threshold]

    # --- reading ----------------------------------------------------------------------------------

    def languages(self) -> list[str]:
        return sorted(self._live)

    def has_language(self, language: str) -> bool:
        return language in self._live

    def _get(self, language: str) -> _Live:
        live = self._live.get(language)
        if live is None:
            raise NotFound(f"no FAQ for language {language!r}", code="faq_language_not_found")
        return live

    def index(self, language: str) -> FaqIndex:
        """The search index of a language (for scoring every entry, e.g. in quality reports)."""
        return self._get(language).index

    def document(self, language: str) -> FaqDocument:
        return self._get(language).document

    def version(self, language: str) -> str:
        """A hash of the language's content: use it as the ETag (changes with every edit)."""
        return self._get(language).version

    def versions(self) -> dict[str, str]:
        return {lang: live.version for lang, live in sorted(self._live.items())}

    def export(self, language: str) -> dict[str, Any]:
        """The content as plain data (for GET as JSON); `replace` accepts it back unchanged."""
        return self._get(language).document.as_dict()

    def export_yaml(self, language: str) -> str:
        """The content as YAML text, as it is on disk (comments included)."""
        return self._get(language).source

    def categories(self, language: str, *, include_empty: bool = False) -> list[FaqCategory]:
        """Categories in file order; by default only those with at least one entry (for menus)."""
        live = self._live.get(language)
        if live is None:
            return []
        doc = live.document
        return [c for c in doc.categories if include_empty or doc.entries_in(c.id)]

    def category(self, language: str, category_id: str) -> FaqCategory | None:
        live = self._live.get(language)
        return live.document.category(category_id) if live else None

    def entries(self, language: str, category_id: str | None = None) -> list[FaqEntry]:
        """Entries of a category in file order (all entries when category_id is None)."""
        live = self._live.get(language)
        if live is None:
            return []
        if category_id is None:
            return list(live.document.entries)
        return list(live.document.entries_in(category_id))

    def entry(self, language: str, entry_id: str) -> FaqEntry | None:
        """The entry, or None (also for a stale id from an old button after the FAQ changed)."""
        live = self._live.get(language)
        return live.document.entry(entry_id) if live else None

    def categories_page(self, language: str, page: int = 0, per_page: int = 8) -> FaqPage[FaqCategory]:
        return paginate(self.categories(language), page, per_page)

    def entries_page(
        self, language: str, category_id: str, page: int = 0, per_page: int = 6
    ) -> FaqPage[FaqEntry]:
        return paginate(self.entries(language, category_id), page, per_page)

    # --- free text --------------------------------------------------------------------------------

    def search(self, language: str, text: str, *, config: MatchConfig | None = None) -> FaqMatch:
        """Match a customer's message against the FAQ of their language only (never another
        language: the answer must be one they can read)."""
        live = self._live.get(language)
        if live is None:
            return FaqMatch("none", language, normalize(text[:MAX_QUERY_CHARS]))
        return live.index.search(text[:MAX_QUERY_CHARS], config or self.config)
