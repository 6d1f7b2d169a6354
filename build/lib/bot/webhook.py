"""Webhook mode: Telegram POSTs updates to the product's own HTTP server.

The secret from setWebhook comes back in X-Telegram-Bot-Api-Secret-Token; anything else is
refused with 401 and ignored. Accepted updates go through the same durable inbox as polling.
"""

from __future__ import annotations

import json
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.inbox import Inbox

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def create_webhook_router(*, inbox: Inbox, secret: str, path: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post(path)
    async def telegram_webhook(request: Request) -> JSONResponse:
        given = request.headers.get(SECRET_HEADER, "")
        if not secrets.compare_digest(given.encode(), secret.encode()):
            return JSONResponse(
                {"error": {"code": "invalid_webhook_secret", "message": "wrong or missing secret"}},
                status_code=401,
            )
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return JSONResponse(
                {"error": {"code": "invalid_json", "message": "body is not JSON"}}, status_code=400
            )
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return JSONResponse(
                {"error": {"code": "invalid_update", "message": "not a Telegram update"}},
                status_code=400,
            )
        await inbox.accept(payload)
        return JSONResponse({"ok": True})

    return router
