"""Request dependencies: the per-request session, injected clock, settings and rules, API-key auth."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError
from core import loyalty
from core.apikeys import ALL_SCOPES, SCOPES, ApiKeyView, authenticate
from core.clock import Clock
from core.rules import Rules
from core.settings import Settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits once, anything that escapes rolls back."""
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise


def get_clock(request: Request) -> Clock:
    return request.app.state.clock


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_rules(request: Request) -> Rules:
    """The rules bundle the composition root built once (core/rules.py)."""
    return request.app.state.rules


# scope="function": the session is closed before the response goes out, not after.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RulesDep = Annotated[Rules, Depends(get_rules)]

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerKey",
    bearerFormat="sbk_<prefix>_<secret>",
    description="Send the API key as `Authorization: Bearer sbk_...`.",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyHeader",
    description="Or send the API key as `X-API-Key: sbk_...`.",
)

_USERNAME_RE = re.compile(r"[A-Za-z0-9_]{3,32}")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require_scope(scope: str) -> Callable[..., Awaitable[ApiKeyView]]:
    """A dependency that authenticates the API key and checks it grants `scope`."""
    if scope not in SCOPES or scope == ALL_SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(
        session: SessionDep,
        clock: ClockDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        header_key: Annotated[str | None, Depends(api_key_scheme)],
    ) -> ApiKeyView:
        plaintext = (bearer.credentials if bearer else None) or header_key
        if not plaintext or not plaintext.strip():
            raise ApiError(
                "An API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                status=401,
                code="unauthorized",
                headers=_CHALLENGE,
            )
        key = await authenticate(session, clock=clock, plaintext=plaintext)
        if key is None:
            raise ApiError(
                "The API key is not valid or has been revoked.",
                status=401,
                code="invalid_api_key",
                headers=_CHALLENGE,
            )
        if not key.allows(scope):
            raise ApiError(
                f"This API key lacks the '{scope}' scope.",
                status=403,
                code="insufficient_scope",
                details={"required_scope": scope, "granted_scopes": list(key.scopes)},
            )
        return key

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


async def get_bot_username(session: SessionDep) -> str | None:
    """The bot's @username as the bot recorded it at start (None until it has run once)."""
    username = await loyalty.bot_username(session) or ""
    return username if _USERNAME_RE.fullmatch(username) else None


BotUsernameDep = Annotated[str | None, Depends(get_bot_username)]
