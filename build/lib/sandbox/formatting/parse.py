"""The public side: parse a text (explicit entities first), strip it as Telegram does, and the
entities Telegram adds by itself (commands, mentions, hashtags, URLs)."""

from __future__ import annotations

import re
from typing import Any

from .common import normalize_parse_mode, utf16_len
from .html_mode import _parse_html
from .markdown import _parse_markdown
from .markdown_v2 import _parse_markdown_v2


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strips leading/trailing whitespace like Telegram does, adjusting entity offsets."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    if not stripped:
        return "", []
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    new_len = utf16_len(stripped)
    result = []
    for e in entities:
        start = max(e["offset"] - lead, 0)
        end = min(e["offset"] + e["length"] - lead, new_len)
        if end > start:
            ne = dict(e)
            ne["offset"] = start
            ne["length"] = end - start
            result.append(ne)
    return stripped, result


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Returns (plain_text, entities) as Telegram would store them.

    Explicit ``entities`` take precedence over ``parse_mode`` (as in the Bot API).
    Raises EntityParseError for malformed markup, ValueError for an unsupported parse mode.
    """
    if entities:
        return strip_text(text, [dict(e) for e in entities])
    mode = normalize_parse_mode(parse_mode)
    if mode is None:
        return strip_text(text, [])
    if mode == "HTML":
        plain, ents = _parse_html(text)
    elif mode == "MarkdownV2":
        plain, ents = _parse_markdown_v2(text)
    else:
        plain, ents = _parse_markdown(text)
    return strip_text(plain, ents)


_AUTO_RE = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)(?![\w/])"
    r"|(?P<mention>(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31})(?!\w)"
    r"|(?P<hashtag>(?<![\w#])#[^\W\d][\w]{0,255})"
    r"|(?P<url>\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]'])",
)


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram adds automatically to messages (commands, mentions, hashtags, URLs)."""
    if not text or not any(ch in text for ch in "/@#:"):
        return []
    result = []
    ascii_ = text.isascii()
    for m in _AUTO_RE.finditer(text):
        kind = m.lastgroup
        start, end = m.span()
        if ascii_:
            off, ln = start, end - start
        else:
            off, ln = utf16_len(text[:start]), utf16_len(text[start:end])
        result.append({"type": kind, "offset": off, "length": ln})
    return result
