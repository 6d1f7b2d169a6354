"""One JSON error shape for every failure: ``{"error": {"code", "message", "details"}}``.

`code` is stable and documented (clients branch on it); `message` is for people; `details`
carries structured extras (for validation errors, a list of ``{"field", "message", "type"}``).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import DomainError

logger = logging.getLogger(__name__)


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine-readable code.", examples=["customer_not_found"])
    message: str = Field(description="Human-readable explanation.", examples=["customer not found"])
    details: Any = Field(
        default=None,
        description="Structured extras. For `validation_error`: a list of "
        '`{field, message, type}`, e.g. `{"field": "body.email", ...}`.',
    )


class ErrorBody(BaseModel):
    """The body of every non-2xx response."""

    error: ErrorInfo


class ApiError(DomainError):
    """An HTTP-level refusal (authentication, authorisation) in the common error shape."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.status = status
        self.headers = headers


_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request: the body is not valid JSON (`invalid_json`).",
    401: "Missing or unknown/revoked API key (`unauthorized`, `invalid_api_key`).",
    403: "The API key lacks the scope this operation needs (`insufficient_scope`).",
    404: "Not found (for example `customer_not_found`).",
    409: "Conflicts with the current state (`conflict`).",
    410: "No longer available (for example an expired link).",
    413: "Request body too large (`payload_too_large`).",
    415: "The body must be sent as `Content-Type: application/json` (`unsupported_media_type`).",
    422: "Validation failed (`validation_error`); `details` lists each field and what is wrong.",
    500: "Unexpected server error (`internal_error`); nothing internal is revealed.",
    503: "A dependency is unavailable (for example `database_unavailable`).",
}

_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting each error status with the ErrorBody schema."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "model": ErrorBody,
            "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        }
        if status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {
                    "description": "Always `Bearer`: send the key as a bearer token.",
                    "schema": {"type": "string"},
                }
            }
        out[status] = entry
    return out


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(exc.status, exc.code, exc.message, exc.details, getattr(exc, "headers", None))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            loc = tuple(err.get("loc") or ())
            reason = (err.get("ctx") or {}).get("error") or "JSON decode error"
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            return error_response(
                400, "invalid_json", f"The request body is not valid JSON: {reason}{where}."
            )
    if isinstance(exc.body, bytes | bytearray) and any(
        tuple(err.get("loc") or ()) == ("body",) for err in errors
    ):
        # FastAPI leaves a body it would not parse as raw bytes: wrong or missing Content-Type.
        return error_response(
            415,
            "unsupported_media_type",
            "Send the body as JSON with the header 'Content-Type: application/json'.",
        )
    details = [
        {"field": _field(err.get("loc") or ()), "message": _message(err["msg"]), "type": err["type"]}
        for err in errors
    ]
    fields = ", ".join(dict.fromkeys(d["field"] for d in details))
    return error_response(422, "validation_error", f"Invalid request: {fields}.", details)


def _documented_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document lists for this path.

    Starlette's 405 names only the methods of the first route whose path matched, so for
    GET and PUT declared as two routes it would claim only one of them is allowed.
    """
    spec = request.app.openapi()
    methods: set[str] = set()
    for template, ops in spec.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {m.upper() for m in ops}
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "http_error")
    try:
        default = HTTPStatus(status).phrase
    except ValueError:
        default = ""
    details: Any = None
    if isinstance(exc.detail, str) and exc.detail and exc.detail != default:
        message = exc.detail
    elif status == 404:
        message = f"No such endpoint: {request.method} {request.url.path}."
    elif status == 405:
        headers = dict(exc.headers or {})
        allowed = _documented_methods(request) or [
            m.strip() for m in headers.get("Allow", "").split(",") if m.strip()
        ]
        message = f"{request.method} is not allowed on {request.url.path}."
        if allowed:
            message += f" Allowed: {', '.join(allowed)}."
            details = {"allowed": allowed}
            headers["Allow"] = ", ".join(allowed)
        return error_response(status, code, message, details, headers)
    else:
        message = default or "HTTP error"
        if exc.detail is not None and not isinstance(exc.detail, str):
            details = exc.detail
    return error_response(status, code, message, details, dict(exc.headers or {}) or None)


class UnhandledErrorMiddleware:
    """Turns any uncaught exception into a 500 `internal_error` body and logs the traceback.

    A plain ASGI middleware rather than an `Exception` handler: Starlette re-raises after
    running such a handler, so the server would log the error twice and test clients crash.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:  # too late to send a body of our own
                raise
            response = error_response(
                500, "internal_error", "Something went wrong on our side; the error was logged."
            )
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure through the one error body."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(UnhandledErrorMiddleware)
