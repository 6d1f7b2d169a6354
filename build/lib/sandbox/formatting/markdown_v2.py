"""parse_mode MarkdownV2: reserved characters, nested entities, block quotes."""

from __future__ import annotations

import re
from typing import Any

from .common import EntityParseError, _Builder, _byte_offset

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
