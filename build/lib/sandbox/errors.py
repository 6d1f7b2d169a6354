"""Error type shared by the Bot API handlers and the control API."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Telegram-style error answer.

    ``kind`` is how the call is recorded in the call log: "error" (legitimate Telegram error
    caused by the world state), "violation" (the request breaks the Bot API contract; also
    recorded in the violation log), "unsupported" (valid, but not simulated by the sandbox).
    """

    def __init__(
        self,
        status: int,
        description: str,
        *,
        parameters: dict[str, Any] | None = None,
        kind: str = "error",
        reason: str | None = None,
        path: str = "",
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.kind = kind
        self.reason = reason or description
        self.path = path

    def to_response(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(description: str, **kw: Any) -> ApiError:
    if not description.startswith("Bad Request"):
        description = "Bad Request: " + description
    return ApiError(400, description, **kw)


def violation(description: str, reason: str | None = None, path: str = "") -> ApiError:
    if not description.startswith("Bad Request"):
        description = "Bad Request: " + description
    return ApiError(400, description, kind="violation", reason=reason, path=path)


def forbidden(description: str) -> ApiError:
    return ApiError(403, "Forbidden: " + description)


def unsupported(description: str = "method is not supported by the sandbox") -> ApiError:
    return ApiError(400, "Bad Request: " + description, kind="unsupported")


class ControlError(Exception):
    """An error of the control API (rendered as {"error": ...} with the status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
