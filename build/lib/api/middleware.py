"""ASGI middleware of the API (kept tiny; the error shape lives in api.errors)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` under `path_prefix` with 413 `payload_too_large`.

    Starlette's own limiter answers in plain text; this one keeps the JSON error shape. A
    declared Content-Length is refused before the app runs; a streamed body is counted as it
    arrives and the raised HTTPException goes through the normal error handlers.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, path_prefix: str = "/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(
                413,
                "payload_too_large",
                f"The request body is larger than {self.max_bytes} bytes.",
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
