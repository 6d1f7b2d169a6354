"""parse_mode Markdown (the legacy one): bold, italic, code, pre and links, not nested."""

from __future__ import annotations

import re
from typing import Any

from .common import EntityParseError, _Builder, _byte_offset, utf16_len


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
