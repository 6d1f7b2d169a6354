"""Semantic checks: what Telegram refuses beyond the types (text limits, entities, markup...)."""

from __future__ import annotations

import re
from typing import Any

from ..formatting import EntityParseError, parse_text, utf16_len
from .model import Violation

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
_BUTTON_BASE_FIELDS = {"text", "icon_custom_emoji_id", "style"}
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
TOPIC_ICON_COLORS = {7322096, 16766590, 13338331, 9367192, 16749490, 16478047}
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def _check_text(
    viols: list[Violation],
    text: Any,
    parse_mode: Any,
    entities: Any,
    path: str,
    *,
    caption: bool,
    allow_empty: bool = False,
) -> None:
    if not isinstance(text, str):
        return
    if parse_mode is not None and not isinstance(parse_mode, str):
        return
    try:
        plain, _ = parse_text(text, parse_mode, entities if isinstance(entities, list) else None)
    except EntityParseError as e:
        viols.append(Violation(path, f"can't parse entities: {e}", f"Bad Request: can't parse entities: {e}"))
        return
    except ValueError:
        viols.append(
            Violation(
                path.rsplit(".", 1)[0] + ".parse_mode" if "." in path else "parse_mode",
                f"unsupported parse_mode {parse_mode!r}",
                "Bad Request: unsupported parse_mode",
            )
        )
        return
    n = utf16_len(plain)
    if caption:
        if n > CAPTION_LIMIT:
            viols.append(
                Violation(
                    path,
                    f"caption is {n} characters long (max {CAPTION_LIMIT})",
                    "Bad Request: message caption is too long",
                )
            )
    else:
        if n == 0 and not allow_empty:
            viols.append(
                Violation(path, "text is empty after entities parsing", "Bad Request: message text is empty")
            )
        elif n > TEXT_LIMIT:
            viols.append(
                Violation(
                    path,
                    f"text is {n} characters long (max {TEXT_LIMIT})",
                    "Bad Request: message is too long",
                )
            )


def _check_reply_markup(viols: list[Violation], markup: Any, path: str) -> None:
    if not isinstance(markup, dict):
        return
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list):
            return
        total = 0
        for r, row in enumerate(rows):
            if not isinstance(row, list):
                continue
            for c, btn in enumerate(row):
                if not isinstance(btn, dict):
                    continue
                total += 1
                bpath = f"{path}.inline_keyboard[{r}][{c}]"
                actions = [k for k, v in btn.items() if k not in _BUTTON_BASE_FIELDS and v is not None]
                if not actions:
                    viols.append(
                        Violation(
                            bpath,
                            "inline keyboard button has no action field",
                            "Bad Request: can't parse inline keyboard button: "
                            "Text buttons are unallowed in the inline keyboard",
                        )
                    )
                elif len(actions) > 1:
                    viols.append(
                        Violation(
                            bpath,
                            f"inline keyboard button has several action fields: {', '.join(sorted(actions))}",
                            "Bad Request: can't parse inline keyboard button: "
                            "exactly one of the optional fields must be used",
                        )
                    )
                text = btn.get("text")
                if isinstance(text, str) and not text.strip():
                    viols.append(
                        Violation(bpath + ".text", "button text is empty", "Bad Request: BUTTON_TEXT_INVALID")
                    )
                data = btn.get("callback_data")
                if isinstance(data, str):
                    size = len(data.encode("utf-8"))
                    if not 1 <= size <= CALLBACK_DATA_LIMIT:
                        viols.append(
                            Violation(
                                bpath + ".callback_data",
                                f"callback_data is {size} bytes (allowed 1-{CALLBACK_DATA_LIMIT})",
                                "Bad Request: BUTTON_DATA_INVALID",
                            )
                        )
                url = btn.get("url")
                if isinstance(url, str) and not re.match(r"^(https?|tg)://\S+$", url, re.I):
                    viols.append(
                        Violation(
                            bpath + ".url", f"invalid button URL {url!r}", "Bad Request: BUTTON_URL_INVALID"
                        )
                    )
        if total > 100:
            viols.append(
                Violation(path, f"{total} buttons (max 100)", "Bad Request: reply markup is too long")
            )
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if isinstance(rows, list) and any(not isinstance(row, list) for row in rows):
            viols.append(
                Violation(
                    path,
                    "keyboard must be an array of arrays",
                    "Bad Request: can't parse reply keyboard markup JSON object",
                )
            )


def _semantic(method: str, p: dict[str, Any], viols: list[Violation]) -> None:
    if "chat_id" in p and isinstance(p["chat_id"], str):
        cid = p["chat_id"]
        if not cid:
            viols.append(Violation("chat_id", "chat_id is empty", "Bad Request: chat_id is empty"))
        elif not cid.startswith("@"):
            viols.append(
                Violation(
                    "chat_id",
                    f"chat_id {cid!r} is neither an integer nor @username",
                    "Bad Request: chat not found",
                )
            )
    if method in ("sendMessage", "editMessageText"):
        _check_text(viols, p.get("text"), p.get("parse_mode"), p.get("entities"), "text", caption=False)
    elif "caption" in p:
        _check_text(
            viols, p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), "caption", caption=True
        )
    elif "parse_mode" in p and isinstance(p["parse_mode"], str):
        try:
            from ..formatting import normalize_parse_mode

            normalize_parse_mode(p["parse_mode"])
        except ValueError:
            viols.append(
                Violation(
                    "parse_mode",
                    f"unsupported parse_mode {p['parse_mode']!r}",
                    "Bad Request: unsupported parse_mode",
                )
            )
    if "reply_markup" in p:
        _check_reply_markup(viols, p["reply_markup"], "reply_markup")
    if method == "sendMediaGroup" and isinstance(p.get("media"), list):
        media = p["media"]
        if not 2 <= len(media) <= 10:
            viols.append(
                Violation(
                    "media",
                    f"{len(media)} media items (allowed 2-10)",
                    "Bad Request: wrong number of media in the group (must be 2-10)",
                )
            )
        kinds = {m.get("type") for m in media if isinstance(m, dict)}
        if len(kinds) > 1 and not kinds <= {"photo", "video", "live_photo"}:
            viols.append(
                Violation(
                    "media",
                    f"can't mix media types {sorted(str(k) for k in kinds)}",
                    "Bad Request: documents and audio files can't be mixed with other media types",
                )
            )
        for i, m in enumerate(media):
            if isinstance(m, dict) and "caption" in m:
                _check_text(
                    viols,
                    m.get("caption"),
                    m.get("parse_mode"),
                    m.get("caption_entities"),
                    f"media[{i}].caption",
                    caption=True,
                )
    if method == "sendChatAction" and isinstance(p.get("action"), str) and p["action"] not in CHAT_ACTIONS:
        viols.append(
            Violation(
                "action",
                f"unknown chat action {p['action']!r}",
                "Bad Request: wrong parameter action in request",
            )
        )
    if method == "answerCallbackQuery" and isinstance(p.get("text"), str) and utf16_len(p["text"]) > 200:
        viols.append(
            Violation(
                "text", "callback answer text is longer than 200 characters", "Bad Request: MESSAGE_TOO_LONG"
            )
        )
    if method == "setMyCommands" and isinstance(p.get("commands"), list):
        if len(p["commands"]) > 100:
            viols.append(
                Violation("commands", "more than 100 commands", "Bad Request: BOT_COMMANDS_TOO_MUCH")
            )
        for i, c in enumerate(p["commands"]):
            if not isinstance(c, dict):
                continue
            cmd, desc = c.get("command"), c.get("description")
            if isinstance(cmd, str) and not _COMMAND_RE.match(cmd):
                viols.append(
                    Violation(
                        f"commands[{i}].command",
                        f"invalid command {cmd!r} (1-32 chars a-z0-9_)",
                        "Bad Request: BOT_COMMAND_INVALID",
                    )
                )
            if isinstance(desc, str) and not 1 <= len(desc) <= 256:
                viols.append(
                    Violation(
                        f"commands[{i}].description",
                        "description must be 1-256 characters",
                        "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID",
                    )
                )
    if method in ("createForumTopic", "editForumTopic"):
        name = p.get("name")
        if isinstance(name, str) and not 1 <= len(name) <= 128 and (method == "createForumTopic" or name):
            viols.append(
                Violation(
                    "name",
                    "topic name must be 1-128 characters",
                    "Bad Request: TOPIC_NAME_INVALID" if name else "Bad Request: topic name is empty",
                )
            )
        color = p.get("icon_color")
        if isinstance(color, int) and color not in TOPIC_ICON_COLORS:
            viols.append(
                Violation(
                    "icon_color",
                    f"icon_color {color} is not one of {sorted(TOPIC_ICON_COLORS)}",
                    "Bad Request: TOPIC_ICON_COLOR_INVALID",
                )
            )
    if method in ("deleteMessages", "copyMessages", "forwardMessages") and isinstance(
        p.get("message_ids"), list
    ):
        ids = p["message_ids"]
        if not 1 <= len(ids) <= 100:
            viols.append(
                Violation(
                    "message_ids",
                    f"{len(ids)} message ids (allowed 1-100)",
                    "Bad Request: message_ids must contain 1-100 identifiers",
                )
            )
        elif method != "deleteMessages" and any(
            b <= a for a, b in zip(ids, ids[1:], strict=False) if isinstance(a, int) and isinstance(b, int)
        ):
            viols.append(
                Violation(
                    "message_ids",
                    "message_ids must be strictly increasing",
                    "Bad Request: message identifiers must be in a strictly increasing order",
                )
            )
    if method == "setMyDescription" and isinstance(p.get("description"), str) and len(p["description"]) > 512:
        viols.append(
            Violation("description", "description longer than 512", "Bad Request: BOT_DESCRIPTION_INVALID")
        )
    if (
        method == "setMyShortDescription"
        and isinstance(p.get("short_description"), str)
        and len(p["short_description"]) > 120
    ):
        viols.append(
            Violation(
                "short_description",
                "short description longer than 120",
                "Bad Request: BOT_SHORT_DESCRIPTION_INVALID",
            )
        )
    if method == "setWebhook" and isinstance(p.get("secret_token"), str) and p["secret_token"]:
        if not re.match(r"^[A-Za-z0-9_-]{1,256}$", p["secret_token"]):
            viols.append(
                Violation(
                    "secret_token",
                    "secret_token must be 1-256 chars of A-Za-z0-9_-",
                    "Bad Request: secret token contains unallowed characters",
                )
            )
