"""Bot API spec (vendored ``data/api.json``) and request validation.

``validate_call(method, params)`` returns a list of :class:`Violation`; ``decode_call`` also
returns the decoded parameters (wire strings converted to ints/bools/objects, ``attach://``
references resolved to uploaded files). Parameters may come from multipart/form-data or
urlencoded bodies and query strings (every scalar is a string, objects/arrays are JSON strings)
or from a JSON body (native values).

- ``model``: the spec loaded (``get_spec``), ``Violation``, ``UploadedFile``;
- ``structure``: every value against the types the spec allows;
- ``semantic``: what Telegram refuses beyond the types;
- ``calls``: ``decode_call``, ``validate_call``, ``validate_object``.
"""

from __future__ import annotations

from .calls import decode_call, validate_call, validate_object
from .model import LEGACY_PARAMS, Spec, UploadedFile, Violation, get_spec

__all__ = [
    "Violation",
    "UploadedFile",
    "Spec",
    "get_spec",
    "validate_call",
    "decode_call",
    "validate_object",
    "LEGACY_PARAMS",
]
