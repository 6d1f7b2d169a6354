"""Bot API spec (vendored ``data/api.json``) and request validation.

``validate_call(method, params)`` returns a list of :class:`Violation`; ``decode_call`` also
returns the decoded parameters (wire strings converted to ints/bools/objects, ``attach://``
references resolved to uploaded files). Parameters may come from multipart/form-data or
urlencoded bodies and query strings (every scalar is a string, objects/arrays are JSON strings)
or from a JSON body (native values).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .formatting import EntityParseError, parse_text, utf16_len

__all__ = [
    "Violation",
    "UploadedFile",
    "Spec",
    "get_spec",
    "validate_call",
    "decode_call",
    "LEGACY_PARAMS",
]

SPEC_PATH = Path(__file__).with_name("data") / "api.json"

PRIMITIVES = {"Integer", "Float", "Boolean", "String", "InputFile"}

# Deprecated parameters the real Bot API still accepts (and aiogram still sends when set).
LEGACY_PARAMS: dict[str, list[str]] = {
    "reply_to_message_id": ["Integer"],
    "allow_sending_without_reply": ["Boolean"],
    "disable_web_page_preview": ["Boolean"],
}

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Violation:
    """One problem with a call. ``description`` is the Telegram-like error text."""

    path: str
    reason: str
    description: str
    status: int = 400

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "reason": self.reason,
            "description": self.description,
            "status": self.status,
        }


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None
    field_name: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"file": self.filename, "size": len(self.data), "content_type": self.content_type}


@dataclass
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass
class TypeSpec:
    name: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    subtypes: tuple[str, ...] = ()
    discriminator: tuple[str, str] | None = None  # (field name, value)


@dataclass
class MethodSpec:
    name: str
    fields: dict[str, FieldSpec]
    returns: tuple[str, ...]


_DISCRIMINATOR_RES = [
    re.compile(r'always [“"]([a-z_]+)[”"]'),
    re.compile(r"must be ([a-z_]+)\b"),
    re.compile(r'must be [“"]([a-z_]+)[”"]'),
]


class Spec:
    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data.get("version", "")
        self.methods: dict[str, MethodSpec] = {}
        self.methods_lower: dict[str, str] = {}
        self.types: dict[str, TypeSpec] = {}
        for name, m in data["methods"].items():
            fields = {f["name"]: self._field(f) for f in m.get("fields", [])}
            self.methods[name] = MethodSpec(name, fields, tuple(m.get("returns", ())))
            self.methods_lower[name.lower()] = name
        for name, t in data["types"].items():
            ts = TypeSpec(name)
            ts.fields = {f["name"]: self._field(f) for f in t.get("fields", [])}
            ts.subtypes = tuple(t.get("subtypes", ()))
            for key in ("type", "status", "source"):
                f = ts.fields.get(key)
                if f is None or f.types != ("String",):
                    continue
                for rx in _DISCRIMINATOR_RES:
                    mm = rx.search(f.description)
                    if mm:
                        ts.discriminator = (key, mm.group(1))
                        break
                if ts.discriminator:
                    break
            self.types[name] = ts

    @staticmethod
    def _field(f: dict[str, Any]) -> FieldSpec:
        desc = f.get("description", "")
        if isinstance(desc, list):
            desc = " ".join(desc)
        return FieldSpec(f["name"], tuple(f["types"]), bool(f.get("required")), desc)

    def canonical_method(self, name: str) -> str | None:
        return self.methods_lower.get(name.lower())


@lru_cache(maxsize=1)
def get_spec() -> Spec:
    with open(SPEC_PATH, encoding="utf-8") as fh:
        return Spec(json.load(fh))


# ----------------------------------------------------------------------------- structural checks


class _Ctx:
    __slots__ = ("spec", "files", "used_files")

    def __init__(self, spec: Spec, files: dict[str, UploadedFile]) -> None:
        self.spec = spec
        self.files = files
        self.used_files: set[str] = set()


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, UploadedFile):
        return "InputFile"
    return type(value).__name__


def _type_error(path: str, expected: str, value: Any) -> Violation:
    return Violation(
        path,
        f"expected {expected}, got {_describe(value)}",
        f"Bad Request: can't parse {path}: expected {expected}, got {_describe(value)}",
    )


def _check_primitive(name: str, value: Any, path: str, ctx: _Ctx) -> tuple[Any, Violation | None]:
    if name == "Integer":
        if isinstance(value, bool):
            return value, _type_error(path, "Integer", value)
        if isinstance(value, int):
            v = value
        elif isinstance(value, float) and value.is_integer():
            v = int(value)
        elif isinstance(value, str) and _INT_RE.match(value.strip()):
            v = int(value.strip())
        else:
            return value, _type_error(path, "Integer", value)
        if not INT64_MIN <= v <= INT64_MAX:
            return value, Violation(path, "integer out of range", f"Bad Request: {path} is out of range")
        return v, None
    if name == "Float":
        if isinstance(value, bool):
            return value, _type_error(path, "Float", value)
        if isinstance(value, (int, float)):
            return float(value), None
        if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
            return float(value), None
        return value, _type_error(path, "Float", value)
    if name == "Boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, int) and value in (0, 1):
            return bool(value), None
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1"), None
        return value, _type_error(path, "Boolean", value)
    if name == "String":
        if isinstance(value, str):
            return value, None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value), None
        return value, _type_error(path, "String", value)
    if name == "InputFile":
        if isinstance(value, UploadedFile):
            return value, None
        if isinstance(value, str) and value.startswith("attach://"):
            key = value[len("attach://") :]
            f = ctx.files.get(key)
            if f is None:
                return value, Violation(
                    path,
                    f"attached file {key!r} not found in the request",
                    f'Bad Request: can\'t find attached file "{key}"',
                )
            ctx.used_files.add(key)
            return f, None
        return value, _type_error(path, "InputFile", value)
    raise AssertionError(name)


def _check_types(
    types: tuple[str, ...], value: Any, path: str, ctx: _Ctx, wire: bool
) -> tuple[Any, list[Violation]]:
    """Checks ``value`` against any of ``types``. Returns (decoded, violations)."""
    if wire and isinstance(value, str) and not any(t in PRIMITIVES for t in types):
        try:
            value = json.loads(value)
        except ValueError:
            return value, [Violation(path, "invalid JSON", f"Bad Request: can't parse {path} JSON object")]
    if len(types) == 1:
        return _check_one(types[0], value, path, ctx)
    if "InputFile" in types and isinstance(value, str) and value.startswith("attach://"):
        return _check_one("InputFile", value, path, ctx)
    if all(t.startswith("Array of ") for t in types):
        # "Array of A, B and C" in the docs: a list whose items may be any of the element types
        if not isinstance(value, list):
            return value, [_type_error(path, " or ".join(types), value)]
        inner = tuple(t[len("Array of ") :] for t in types)
        out = []
        viols: list[Violation] = []
        for i, item in enumerate(value):
            d, v = _check_types(inner, item, f"{path}[{i}]", ctx, wire=False)
            out.append(d)
            viols.extend(v)
        return out, viols
    best: tuple[int, list[Violation]] | None = None
    for t in types:
        decoded, viol = _check_one(t, value, path, ctx)
        if not viol:
            return decoded, []
        score = _match_score(t, value, ctx.spec)
        if best is None or score > best[0]:
            best = (score, viol)
    assert best is not None
    if best[0] <= 0 and all(_match_score(t, value, ctx.spec) <= 0 for t in types):
        names = " or ".join(types)
        return value, [_type_error(path, names, value)]
    return value, best[1]


def _match_score(t: str, value: Any, spec: Spec) -> int:
    """How plausible it is that ``value`` was meant as type ``t`` (for error reporting)."""
    if t.startswith("Array of "):
        return 1 if isinstance(value, list) else 0
    if t in PRIMITIVES:
        return 0
    if not isinstance(value, dict):
        return 0
    ts = spec.types.get(t)
    if ts is None:
        return 0
    if ts.subtypes:
        return max((_match_score(s, value, spec) for s in ts.subtypes), default=0)
    if ts.discriminator:
        key, disc = ts.discriminator
        if value.get(key) == disc:
            return 1000
        if key in value:
            return -1
    return 1 + sum(1 for k in value if k in ts.fields)


def _check_one(t: str, value: Any, path: str, ctx: _Ctx) -> tuple[Any, list[Violation]]:
    if t.startswith("Array of "):
        inner = t[len("Array of ") :]
        if not isinstance(value, list):
            return value, [_type_error(path, t, value)]
        items: list[Any] = []
        errors: list[Violation] = []
        for i, item in enumerate(value):
            d, v = _check_one(inner, item, f"{path}[{i}]", ctx)
            items.append(d)
            errors.extend(v)
            if len(errors) > 20:
                break
        return items, errors
    if t in PRIMITIVES:
        decoded, problem = _check_primitive(t, value, path, ctx)
        return decoded, [problem] if problem else []
    ts = ctx.spec.types.get(t)
    if ts is None:
        return value, []  # unknown type name in spec: accept
    if ts.subtypes:
        return _check_types(ts.subtypes, value, path, ctx, wire=False)
    if not isinstance(value, dict):
        return value, [_type_error(path, t, value)]
    viols: list[Violation] = []
    out: dict[str, Any] = {}
    for key, item in value.items():
        f = ts.fields.get(key)
        if f is None:
            viols.append(
                Violation(
                    f"{path}.{key}",
                    f"unknown field of {t}",
                    f'Bad Request: can\'t parse {path}: unknown field "{key}" in {t}',
                )
            )
            continue
        if item is None:
            if f.required:
                viols.append(
                    Violation(
                        f"{path}.{key}",
                        f"required field of {t} is null",
                        f'Bad Request: can\'t parse {path}: field "{key}" must not be null',
                    )
                )
            continue
        d, v = _check_types(f.types, item, f"{path}.{key}", ctx, wire=False)
        out[key] = d
        viols.extend(v)
    for fname, f in ts.fields.items():
        if f.required and fname not in value:
            viols.append(
                Violation(
                    f"{path}.{fname}",
                    f"missing required field of {t}",
                    f'Bad Request: can\'t parse {path}: field "{fname}" is required in {t}',
                )
            )
    if ts.discriminator:
        key, disc = ts.discriminator
        if key in value and value[key] != disc:
            viols.append(
                Violation(
                    f"{path}.{key}",
                    f"{t}.{key} must be {disc!r}",
                    f'Bad Request: can\'t parse {path}: {key} must be "{disc}"',
                )
            )
    return out, viols


# ----------------------------------------------------------------------------- semantic checks

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
            from .formatting import normalize_parse_mode

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


# ----------------------------------------------------------------------------- entry points


def decode_call(
    method: str,
    params: dict[str, Any],
    files: dict[str, UploadedFile] | None = None,
    spec: Spec | None = None,
) -> tuple[str | None, dict[str, Any], list[Violation]]:
    """Validates a call. Returns (canonical method name or None if unknown, decoded params, violations).

    ``params`` values may be wire strings, native JSON values or :class:`UploadedFile`.
    ``files`` are multipart file parts by field name (for ``attach://<name>`` references).
    """
    spec = spec or get_spec()
    name = spec.canonical_method(method)
    if name is None:
        return None, params, [Violation("", f"unknown method {method!r}", "Not Found", 404)]
    mspec = spec.methods[name]
    files = dict(files or {})
    for k, v in params.items():
        if isinstance(v, UploadedFile):
            files.setdefault(k, v)
    ctx = _Ctx(spec, files)
    viols: list[Violation] = []
    decoded: dict[str, Any] = {}
    for key, value in params.items():
        f = mspec.fields.get(key)
        types = f.types if f is not None else tuple(LEGACY_PARAMS.get(key) or ()) or None
        if types is None:
            if isinstance(value, UploadedFile) and key in files:
                continue  # a file part referenced through attach://
            viols.append(
                Violation(key, f"unknown parameter of {name}", f'Bad Request: unknown parameter "{key}"')
            )
            continue
        if value is None:
            continue
        d, v = _check_types(types, value, key, ctx, wire=True)
        decoded[key] = d
        viols.extend(v)
    for fname, f in mspec.fields.items():
        if f.required and fname not in decoded and not any(v.path == fname for v in viols):
            if fname == "text" and name in ("sendMessage", "editMessageText"):
                desc = "Bad Request: message text is empty"
            elif fname == "chat_id":
                desc = "Bad Request: chat_id is empty"
            else:
                desc = f'Bad Request: parameter "{fname}" is required'
            viols.append(Violation(fname, "missing required parameter", desc))
    if not viols:
        _semantic(name, decoded, viols)
    return name, decoded, viols


def validate_call(
    method: str, params: dict[str, Any], files: dict[str, UploadedFile] | None = None
) -> list[Violation]:
    """Returns the list of violations of a Bot API call (empty if the call is valid)."""
    return decode_call(method, params, files)[2]


def validate_object(type_name: str, value: Any) -> list[Violation]:
    """Checks that ``value`` (native JSON) is a valid ``type_name`` object (used for responses)."""
    spec = get_spec()
    ctx = _Ctx(spec, {})
    return _check_types((type_name,), value, type_name, ctx, wire=False)[1]
