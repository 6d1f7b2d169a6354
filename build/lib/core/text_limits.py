"""Telegram's length limits, counted as Telegram counts them: in UTF-16 code units.

A message text may hold 4,096 units and a caption 1,024, measured after entity parsing (so an
HTML tag costs nothing, `&amp;` costs one). Python's `len()` counts code points: an emoji
outside the Basic Multilingual Plane is one code point but two UTF-16 units, so a text of
2,100 emoji passes `len(text) <= 4096` and is refused by Telegram with 400.

Too long is split, never dropped: `split_text` cuts at a paragraph break, else a line break,
else a space, else anywhere (never inside a surrogate pair).
"""

from __future__ import annotations

import html
import re

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_BYTES = 64

_TAG = re.compile(r"<[^>]*>")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (what Telegram counts)."""
    # Every code point above U+FFFF takes a surrogate pair: two units.
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def visible_html_len(text: str) -> int:
    """UTF-16 length of an HTML-formatted text after Telegram's parsing (tags dropped,
    entities decoded)."""
    return utf16_len(html.unescape(_TAG.sub("", text)))


def _prefix_within(text: str, limit: int) -> int:
    """The largest index i such that text[:i] fits in `limit` UTF-16 units."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def fits(text: str, limit: int = TEXT_LIMIT) -> bool:
    return utf16_len(text) <= limit


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut a plain text into parts of at most `limit` UTF-16 units each, preferring to cut
    at a blank line, then a line break, then a space. Nothing is lost: joining the parts with
    the separators they were cut at gives the text back (whitespace at a cut is dropped)."""
    if limit < 2:
        raise ValueError("limit must be at least 2 UTF-16 units")
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        cut = _prefix_within(rest, limit)
        head = rest[:cut]
        at = -1
        for sep in ("\n\n", "\n", " "):
            at = head.rfind(sep)
            if at > cut // 2:  # do not leave a tiny first part for a separator near the start
                break
            at = -1
        if at <= 0:
            parts.append(head)
            rest = rest[cut:]
        else:
            parts.append(head[:at].rstrip())
            rest = rest[at:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Shorten to `limit` UTF-16 units with an ellipsis (for titles and labels, never for
    a message a person wrote: those are split)."""
    if utf16_len(text) <= limit:
        return text
    return text[: _prefix_within(text, limit - utf16_len(ellipsis))] + ellipsis
