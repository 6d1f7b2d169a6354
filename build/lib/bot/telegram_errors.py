"""The one classification of Telegram's answers: what an error means for the thing being sent.

Every sender in the product (the update handlers' error router, the delivery worker, the
staff-group posts) asks `classify(exc)` and acts on `Failure.outcome`:

| outcome       | meaning                                                   | what the caller does          |
|---------------|-----------------------------------------------------------|-------------------------------|
| `retry`       | 429 (with `retry_after`), 5xx, network trouble            | try again later, same request |
| `unreachable` | 403: blocked, deactivated, never started the bot, kicked  | record it, never retry        |
| `topic_gone`  | the forum topic was deleted                               | forget it, recreate, resend   |
| `topic_closed`| the forum topic was closed by staff                       | reopen it, resend             |
| `too_long`    | the text or caption is over Telegram's limit              | split it (never drop it)      |
| `not_modified`| an edit that changes nothing                              | treat as done                 |
| `failed`      | any other refusal (400/404/...): the request itself is bad| mark failed with the reason   |

`code` is a stable short name for reports (`blocked`, `rate_limited`, `chat_not_found`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

RETRY, UNREACHABLE, TOPIC_GONE, TOPIC_CLOSED = "retry", "unreachable", "topic_gone", "topic_closed"
TOO_LONG, NOT_MODIFIED, FAILED = "too_long", "not_modified", "failed"

_TOPIC_GONE = (
    "message thread not found",
    "topic_deleted",
    "thread not found",
    "topic not found",
    "topic_id_invalid",
)
_TOPIC_CLOSED = ("topic_closed",)
_TOO_LONG = (
    "message is too long",
    "text is too long",
    "caption is too long",
    "message_too_long",
    "media_caption_too_long",
)


@dataclass(frozen=True, slots=True)
class Failure:
    outcome: str
    code: str
    text: str
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.outcome == RETRY


def unreachable_code(text: str) -> str:
    low = text.lower()
    if "deactivated" in low:
        return "deactivated"
    if "blocked" in low:
        return "blocked"
    if "initiate" in low:
        return "not_started"
    if "kicked" in low or "not a member" in low:
        return "kicked"
    return "forbidden"


def classify(exc: BaseException) -> Failure:
    """What a Telegram error (or any exception raised by a request) means."""
    text = (getattr(exc, "message", None) or str(exc) or type(exc).__name__)[:500]
    low = text.lower()
    if isinstance(exc, TelegramRetryAfter):
        return Failure(RETRY, "rate_limited", text, float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return Failure(UNREACHABLE, unreachable_code(text), text)
    if isinstance(exc, TelegramEntityTooLarge):
        return Failure(FAILED, "too_large", text)
    if isinstance(exc, TelegramBadRequest):
        if any(s in low for s in _TOPIC_GONE):
            return Failure(TOPIC_GONE, "topic_gone", text)
        if any(s in low for s in _TOPIC_CLOSED):
            return Failure(TOPIC_CLOSED, "topic_closed", text)
        if any(s in low for s in _TOO_LONG):
            return Failure(TOO_LONG, "too_long", text)
        if "message is not modified" in low:
            return Failure(NOT_MODIFIED, "not_modified", text)
        if "query is too old" in low or "query id is invalid" in low:
            return Failure(FAILED, "query_too_old", text)
        if "chat not found" in low:
            return Failure(FAILED, "chat_not_found", text)
        return Failure(FAILED, "bad_request", text)
    if isinstance(exc, TelegramNotFound):
        return Failure(FAILED, "not_found", text)
    if isinstance(exc, TelegramServerError):
        return Failure(RETRY, "server_error", text)
    if isinstance(exc, TelegramNetworkError):
        return Failure(RETRY, "network_error", text)
    if isinstance(exc, TelegramUnauthorizedError):
        return Failure(RETRY, "unauthorized", text)
    if isinstance(exc, TelegramConflictError):
        return Failure(RETRY, "conflict", text)
    if isinstance(exc, TelegramAPIError):
        return Failure(FAILED, "api_error", text)
    return Failure(RETRY, "error", f"{type(exc).__name__}: {exc}"[:500])
