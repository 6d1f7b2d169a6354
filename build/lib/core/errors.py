"""Domain errors carry a stable machine-readable code; the API maps them to HTTP statuses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the request. `code` is stable and documented; `message` is for people."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Invalid(DomainError):
    status = 422
    code = "invalid"


class Gone(DomainError):
    status = 410
    code = "gone"
