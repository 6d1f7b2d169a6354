"""parse_mode HTML: tags and character references to plain text and entities."""

from __future__ import annotations

import html
import re
from typing import Any

from .common import EntityParseError, _Builder, _byte_offset

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
