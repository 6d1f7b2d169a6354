"""Telegram text formatting: parse_mode parsing (HTML, Markdown, MarkdownV2) into
plain text + MessageEntity list, UTF-16 length accounting, and the automatic entity
detection Telegram applies to user messages (bot commands, mentions, hashtags, URLs).

Error messages mirror Telegram's ("Can't find end tag corresponding to start tag ...").
Offsets/lengths of entities are in UTF-16 code units, as on the wire.

- ``common``: the error, UTF-16 lengths, the parse mode's name, the text builder;
- ``html_mode``, ``markdown_v2``, ``markdown``: one parser per parse mode;
- ``parse``: ``parse_text``, ``strip_text``, ``detect_entities``.
"""

from __future__ import annotations

from .common import EntityParseError, normalize_parse_mode, utf16_len
from .parse import detect_entities, parse_text, strip_text

__all__ = [
    "EntityParseError",
    "utf16_len",
    "parse_text",
    "detect_entities",
    "normalize_parse_mode",
    "strip_text",
]
