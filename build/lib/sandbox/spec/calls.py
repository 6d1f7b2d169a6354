"""Entry points: decode and validate a call, validate a response object."""

from __future__ import annotations

from typing import Any

from .model import LEGACY_PARAMS, Spec, UploadedFile, Violation, get_spec
from .semantic import _semantic
from .structure import _check_types, _Ctx


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
