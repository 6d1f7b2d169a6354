"""The vendored spec (``data/api.json``) loaded: methods, types and their fields; a call's
violations and uploaded files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).parent.with_name("data") / "api.json"


# Deprecated parameters the real Bot API still accepts (and aiogram still sends when set).
LEGACY_PARAMS: dict[str, list[str]] = {
    "reply_to_message_id": ["Integer"],
    "allow_sending_without_reply": ["Boolean"],
    "disable_web_page_preview": ["Boolean"],
}


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
