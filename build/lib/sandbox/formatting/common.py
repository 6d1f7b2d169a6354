"""What every parse mode shares: the error, UTF-16 lengths, the parse mode's name, the text builder."""

from __future__ import annotations


class EntityParseError(ValueError):
    """Raised when a text can't be parsed with the given parse_mode."""


def utf16_len(s: str) -> int:
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def _byte_offset(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8"))


def normalize_parse_mode(parse_mode: str | None) -> str | None:
    """Returns canonical parse mode or None (no parsing). Raises ValueError if unsupported."""
    if parse_mode is None or parse_mode == "":
        return None
    low = parse_mode.lower()
    if low == "html":
        return "HTML"
    if low == "markdown":
        return "Markdown"
    if low == "markdownv2":
        return "MarkdownV2"
    raise ValueError(parse_mode)


class _Builder:
    """Accumulates plain text and tracks the current UTF-16 offset."""

    __slots__ = ("parts", "offset")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0

    def add(self, s: str) -> None:
        if s:
            self.parts.append(s)
            self.offset += utf16_len(s)

    def text(self) -> str:
        return "".join(self.parts)
