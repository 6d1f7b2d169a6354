"""Structural checks: every value against the types the spec allows (wire strings decoded)."""

from __future__ import annotations

import json
import re
from typing import Any

from .model import Spec, UploadedFile, Violation

PRIMITIVES = {"Integer", "Float", "Boolean", "String", "InputFile"}


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


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
