"""Fluent translations: every user-facing string lives in dialogs/locales/<lang>/*.ftl."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fluent.runtime import FluentBundle, FluentResource
from fluent.syntax.ast import Message as FluentMessage

log = logging.getLogger(__name__)
LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("en", "ru")


class Translator:
    """Texts of one language; falls back to English for a missing key, and to the key itself."""

    def __init__(self, lang: str, bundle: FluentBundle, fallback: FluentBundle | None) -> None:
        self.lang = lang
        self._bundle = bundle
        self._fallback = fallback

    def __call__(self, key: str, **args: Any) -> str:
        for bundle in (self._bundle, self._fallback):
            if bundle is not None and bundle.has_message(key):
                message = bundle.get_message(key)
                if message.value is None:
                    continue
                text, errors = bundle.format_pattern(message.value, args)
                if errors:
                    log.warning("i18n %s/%s: %s", self.lang, key, errors)
                return text if isinstance(text, str) else key  # FluentNone: unresolvable, as if missing
        log.error("i18n: missing key %s", key)
        return key


class I18n:
    def __init__(self, locales_dir: Path = LOCALES_DIR, languages: tuple[str, ...] = LANGUAGES):
        self.languages = languages
        self._bundles: dict[str, FluentBundle] = {}
        self.keys: dict[str, set[str]] = {}
        for lang in languages:
            bundle = FluentBundle([lang], use_isolating=False)
            keys: set[str] = set()
            for path in sorted((locales_dir / lang).glob("*.ftl")):
                text = path.read_text(encoding="utf-8")
                resource = FluentResource(text)
                bundle.add_resource(resource)
                keys.update(entry.id.name for entry in resource.body if isinstance(entry, FluentMessage))
            self._bundles[lang] = bundle
            self.keys[lang] = keys
        self._translators = {
            lang: Translator(lang, b, self._bundles.get("en") if lang != "en" else None)
            for lang, b in self._bundles.items()
        }

    def __call__(self, lang: str | None) -> Translator:
        return self._translators.get(lang or "en", self._translators["en"])

    def all(self, key: str, **args: Any) -> Mapping[str, str]:
        """The same text in every language (for matching reply-keyboard labels)."""
        return {lang: t(key, **args) for lang, t in self._translators.items()}
