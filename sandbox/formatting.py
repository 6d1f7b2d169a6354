"""Telegram text formatting: parse_mode parsing (HTML, Markdown, MarkdownV2) into
plain text + MessageEntity list, UTF-16 length accounting, and the automatic entity
detection Telegram applies to user messages (bot commands, mentions, hashtags, URLs).

Error messages mirror Telegram's ("Can't find end tag corresponding to start tag ...").
Offsets/lengths of entities are in UTF-16 code units, as on the wire.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = [
    "EntityParseError",
    "utf16_len",
    "parse_text",
    "detect_entities",
    "normalize_parse_mode",
    "strip_text",
]


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


# ----------------------------------------------------------------------------- HTML

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\xa0"}


def _decode_html_entity(text: str, i: int) -> tuple[str, int] | None:
    """text[i] == '&'. Returns (char, new_index) or None if not a recognised entity."""
    n = len(text)
    j = i + 1
    if j < n and text[j] == "#":
        j += 1
        base = 10
        if j < n and text[j] in "xX":
            base = 16
            j += 1
        start = j
        digits = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
        while j < n and text[j] in digits and j - start < 10:
            j += 1
        if j == start or j >= n or text[j] != ";":
            return None
        code = int(text[start:j], base)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), j + 1
    start = j
    while j < n and text[j].isalpha() and j - start < 10:
        j += 1
    if j >= n or text[j] != ";":
        return None
    ch = _NAMED_ENTITIES.get(text[start:j])
    if ch is None:
        return None
    return ch, j + 1


def _parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    entities: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []  # {"tag", "type", "offset", "attrs"}
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            dec = _decode_html_entity(text, i)
            if dec is not None:
                out.add(dec[0])
                i = dec[1]
                continue
            out.add("&")
            i += 1
            continue
        if c != "<":
            j = i
            while j < n and text[j] not in "<&":
                j += 1
            out.add(text[i:j])
            i = j
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            # closing tag
            i += 1
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            start = i
            while i < n and not text[i].isspace() and text[i] != ">":
                i += 1
            name = text[start:i].lower()
            while i < n and text[i].isspace():
                i += 1
            if i >= n or text[i] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
            i += 1
            top = stack.pop()
            if name != top["tag"]:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{top["tag"]}>", found "</{name}>"'
                )
            length = out.offset - top["offset"]
            if length > 0:
                ent = _html_entity(top, length, entities)
                if ent is not None:
                    entities.append(ent)
            continue
        # opening tag
        start = i
        while i < n and not text[i].isspace() and text[i] != ">":
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        name = text[start:i].lower()
        if not name:
            raise EntityParseError(f"Empty tag name at byte offset {_byte_offset(text, begin)}")
        if name not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}'
            )
        attrs: dict[str, str] = {}
        while True:
            while i < n and text[i].isspace():
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            if text[i] == ">":
                i += 1
                break
            if text[i] == "/" and i + 1 < n and text[i + 1] == ">":
                raise EntityParseError(
                    f'Unsupported start tag "{name}/" at byte offset {_byte_offset(text, begin)}'
                )
            astart = i
            while i < n and (text[i].isalnum() or text[i] in "-_"):
                i += 1
            aname = text[astart:i].lower()
            if not aname:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {_byte_offset(text, begin)}'
                )
            while i < n and text[i].isspace():
                i += 1
            if i < n and text[i] == "=":
                i += 1
                while i < n and text[i].isspace():
                    i += 1
                if i >= n:
                    raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                q = text[i]
                if q in "\"'":
                    end = text.find(q, i + 1)
                    if end < 0:
                        raise EntityParseError(
                            f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                        )
                    raw = text[i + 1 : end]
                    i = end + 1
                else:
                    vstart = i
                    while i < n and not text[i].isspace() and text[i] != ">":
                        i += 1
                    raw = text[vstart:i]
                attrs[aname] = html.unescape(raw)
            else:
                attrs[aname] = ""
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, begin)}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise EntityParseError(
                f"Invalid custom emoji identifier specified at byte offset {_byte_offset(text, begin)}"
            )
        stack.append({"tag": name, "type": _HTML_TAGS[name], "offset": out.offset, "attrs": attrs})
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return out.text(), entities


def _html_entity(top: dict[str, Any], length: int, entities: list[dict[str, Any]]) -> dict[str, Any] | None:
    etype = top["type"]
    attrs = top["attrs"]
    ent: dict[str, Any] = {"type": etype, "offset": top["offset"], "length": length}
    if etype == "text_link":
        href = attrs.get("href", "")
        m = re.match(r"^tg://user\?id=(\d+)$", href)
        if m:
            return {
                "type": "text_mention",
                "offset": top["offset"],
                "length": length,
                "user": {"id": int(m.group(1)), "is_bot": False, "first_name": ""},
            }
        if not href:
            return None
        ent["url"] = href
    elif etype == "custom_emoji":
        ent["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif etype == "blockquote":
        if "expandable" in attrs:
            ent["type"] = "expandable_blockquote"
    elif etype == "pre":
        # <pre><code class="language-x">...</code></pre>: merge the inner code entity
        for k in range(len(entities) - 1, -1, -1):
            inner = entities[k]
            if inner["type"] == "code" and inner["offset"] == top["offset"] and inner["length"] == length:
                lang = inner.pop("_language", None)
                entities.pop(k)
                if lang:
                    ent["language"] = lang
                break
    elif etype == "code":
        cls = attrs.get("class", "")
        if cls.startswith("language-") and len(cls) > 9:
            ent["_language"] = cls[9:]
    elif etype == "date_time":
        if not attrs.get("unix", "").lstrip("-").isdigit():
            return None
        ent["unix_time"] = int(attrs["unix"])
    return ent


# ----------------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    entities: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    line_start = True
    quote: dict[str, Any] | None = None  # active blockquote
    while i < n:
        c = text[i]
        top = stack[-1]["type"] if stack else None
        if line_start and top not in ("code", "pre"):
            # blockquote handling at the beginning of a line
            if c == ">" or (c == "*" and text.startswith("**>", i)):
                if quote is None:
                    quote = {"offset": out.offset, "expandable": False}
                i += 3 if c == "*" else 1
                if c == "*":
                    quote["expandable"] = True
                line_start = False
                continue
            if quote is not None:
                _close_quote(quote, out, entities)
                quote = None
        line_start = False
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        if c == "\n":
            out.add(c)
            i += 1
            line_start = True
            continue
        if top in ("code", "pre"):
            if top == "code" and c == "`":
                _close(stack, out, entities)
                i += 1
                continue
            if top == "pre" and text.startswith("```", i):
                _close(stack, out, entities)
                i += 3
                continue
            out.add(c)
            i += 1
            continue
        if c not in _MDV2_RESERVED:
            j = i + 1
            while j < n and text[j] not in _MDV2_RESERVED and text[j] not in "\\\n":
                j += 1
            out.add(text[i:j])
            i = j
            continue
        # closing markers
        if stack:
            t = stack[-1]["type"]
            closes = (
                (t == "bold" and c == "*")
                or (t == "italic" and c == "_" and not text.startswith("__", i))
                or (t == "underline" and text.startswith("__", i))
                or (t == "strikethrough" and c == "~")
                or (t == "spoiler" and text.startswith("||", i))
                or (t in ("text_link", "custom_emoji") and c == "]")
            )
            if closes:
                ent = stack[-1]
                if t in ("text_link", "custom_emoji"):
                    i += 1
                    url = ""
                    if i < n and text[i] == "(":
                        j = i + 1
                        buf = []
                        while j < n and text[j] != ")":
                            if text[j] == "\\" and j + 1 < n:
                                buf.append(text[j + 1])
                                j += 2
                                continue
                            buf.append(text[j])
                            j += 1
                        if j >= n:
                            raise EntityParseError(
                                f"Can't find end of a url at byte offset {_byte_offset(text, i)}"
                            )
                        url = "".join(buf)
                        i = j + 1
                    if t == "custom_emoji":
                        m = re.match(r"^tg://emoji\?id=(\d+)$", url)
                        if not m:
                            raise EntityParseError(
                                "Custom emoji entity must contain a tg://emoji URL "
                                f"at byte offset {ent['byte_offset']}"
                            )
                        ent["extra"] = {"custom_emoji_id": m.group(1)}
                    else:
                        if not url:
                            url = text_slice_plain(out, ent["offset"])
                        m = re.match(r"^tg://user\?id=(\d+)$", url)
                        if m:
                            ent["type"] = "text_mention"
                            ent["extra"] = {
                                "user": {"id": int(m.group(1)), "is_bot": False, "first_name": ""}
                            }
                        else:
                            ent["extra"] = {"url": url}
                    _close(stack, out, entities)
                    continue
                i += 2 if t in ("underline", "spoiler") else 1
                _close(stack, out, entities)
                continue
        # opening markers
        bo = _byte_offset(text, i)
        if c == "_":
            if text.startswith("__", i):
                stack.append({"type": "underline", "offset": out.offset, "byte_offset": bo})
                i += 2
            else:
                stack.append({"type": "italic", "offset": out.offset, "byte_offset": bo})
                i += 1
        elif c == "*":
            stack.append({"type": "bold", "offset": out.offset, "byte_offset": bo})
            i += 1
        elif c == "~":
            stack.append({"type": "strikethrough", "offset": out.offset, "byte_offset": bo})
            i += 1
        elif c == "|" and text.startswith("||", i):
            if quote is not None and quote.get("expandable") and (i + 2 >= n or text[i + 2] == "\n"):
                i += 2  # end marker of an expandable blockquote
                continue
            stack.append({"type": "spoiler", "offset": out.offset, "byte_offset": bo})
            i += 2
        elif c == "[":
            stack.append({"type": "text_link", "offset": out.offset, "byte_offset": bo})
            i += 1
        elif c == "!" and text.startswith("![", i):
            stack.append({"type": "custom_emoji", "offset": out.offset, "byte_offset": bo})
            i += 2
        elif c == "`":
            if text.startswith("```", i):
                i += 3
                j = i
                while j < n and text[j] not in "\n`" and not text[j].isspace():
                    j += 1
                lang = ""
                if j < n and text[j] == "\n":
                    lang = text[i:j]
                    i = j + 1
                ent = {"type": "pre", "offset": out.offset, "byte_offset": bo}
                if lang:
                    ent["extra"] = {"language": lang}
                stack.append(ent)
            else:
                stack.append({"type": "code", "offset": out.offset, "byte_offset": bo})
                i += 1
        else:
            raise EntityParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
    if stack:
        ent = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_TYPE_NAMES.get(ent['type'], ent['type'])} entity "
            f"at byte offset {ent['byte_offset']}"
        )
    if quote is not None:
        _close_quote(quote, out, entities)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return out.text(), entities


def text_slice_plain(out: _Builder, offset16: int) -> str:
    full = out.text()
    enc = full.encode("utf-16-le")
    return enc[offset16 * 2 :].decode("utf-16-le")


def _close(stack: list[dict[str, Any]], out: _Builder, entities: list[dict[str, Any]]) -> None:
    ent = stack.pop()
    length = out.offset - ent["offset"]
    if length <= 0:
        return
    e = {"type": ent["type"], "offset": ent["offset"], "length": length}
    e.update(ent.get("extra", {}))
    entities.append(e)


def _close_quote(quote: dict[str, Any], out: _Builder, entities: list[dict[str, Any]]) -> None:
    end = out.offset
    # do not include the trailing newline
    txt = out.text()
    if txt.endswith("\n"):
        end -= 1
    length = end - quote["offset"]
    if length > 0:
        entities.append(
            {
                "type": "expandable_blockquote" if quote.get("expandable") else "blockquote",
                "offset": quote["offset"],
                "length": length,
            }
        )


# ----------------------------------------------------------------------------- legacy Markdown


def _parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            j = i + 1
            while j < n and text[j] not in "_*`[\\":
                j += 1
            out.add(text[i:j])
            i = j
            continue
        bo = _byte_offset(text, i)
        if c == "[":
            end = text.find("]", i + 1)
            if end < 0:
                raise EntityParseError(f"Can't find end of the entity starting at byte offset {bo}")
            label = text[i + 1 : end]
            if end + 1 < n and text[end + 1] == "(":
                close = text.find(")", end + 2)
                if close < 0:
                    raise EntityParseError(f"Can't find end of the entity starting at byte offset {bo}")
                url = text[end + 2 : close]
                start = out.offset
                out.add(label)
                if label and url:
                    m = re.match(r"^tg://user\?id=(\d+)$", url)
                    if m:
                        entities.append(
                            {
                                "type": "text_mention",
                                "offset": start,
                                "length": utf16_len(label),
                                "user": {"id": int(m.group(1)), "is_bot": False, "first_name": ""},
                            }
                        )
                    else:
                        entities.append(
                            {"type": "text_link", "offset": start, "length": utf16_len(label), "url": url}
                        )
                i = close + 1
            else:
                out.add(label)
                i = end + 1
            continue
        if c == "`" and text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise EntityParseError(f"Can't find end of the entity starting at byte offset {bo}")
            body = text[i + 3 : end]
            lang = ""
            nl = body.find("\n")
            if nl > 0 and " " not in body[:nl]:
                lang, body = body[:nl], body[nl + 1 :]
            start = out.offset
            out.add(body)
            if body:
                ent = {"type": "pre", "offset": start, "length": utf16_len(body)}
                if lang:
                    ent["language"] = lang
                entities.append(ent)
            i = end + 3
            continue
        end = text.find(c, i + 1)
        if end < 0:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {bo}")
        body = text[i + 1 : end]
        start = out.offset
        out.add(body)
        if body:
            etype = {"*": "bold", "_": "italic", "`": "code"}[c]
            entities.append({"type": etype, "offset": start, "length": utf16_len(body)})
        i = end + 1
    return out.text(), entities


# ----------------------------------------------------------------------------- public API


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
