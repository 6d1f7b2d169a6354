"""API keys for backend systems: shown once in plaintext, stored only as a SHA-256 hash.

A key looks like ``sbk_<prefix>_<secret>``: the 8-character prefix is stored in clear so a
key can be found, listed and revoked without the secret; the secret never touches the disk.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.errors import Invalid, NotFound
from storage.models import ApiKey

ALL_SCOPES = "*"
SCOPES: tuple[str, ...] = (
    "customers:read",
    "customers:write",
    "orders:write",
    "loyalty:read",
    "loyalty:write",
    "surveys:read",
    "surveys:write",
    "campaigns:read",
    "campaigns:write",
    "support:read",
    "support:write",
    "faq:read",
    "faq:write",
    "analytics:read",
    ALL_SCOPES,
)

KEY_PREFIX = "sbk_"
PREFIX_LENGTH = 8
SECRET_BYTES = 32  # token_urlsafe(32) -> 43 characters
NAME_MAX_LENGTH = 128
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
KEY_RE = re.compile(rf"{KEY_PREFIX}([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{43}})")
# Recording every use would turn each read request into a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Compared against when the prefix is unknown, so a miss costs the same as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def display_prefix(self) -> str:
        """What a person recognises the key by, e.g. ``sbk_ab12cd34``."""
        return f"{KEY_PREFIX}{self.prefix}"

    def allows(self, scope: str) -> bool:
        """Whether this key may act under `scope` ("*" grants every scope)."""
        return self.active and (ALL_SCOPES in self.scopes or scope in self.scopes)


def hash_key(plaintext: str) -> str:
    """The SHA-256 hex digest stored in place of the key."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def normalize_scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    """Validate scopes (a list or a comma/space separated string); "*" absorbs the rest."""
    items = re.split(r"[,\s]+", scopes) if isinstance(scopes, str) else list(scopes)
    wanted = {s.strip() for s in items if isinstance(s, str) and s.strip()}
    unknown = sorted(s for s in wanted if s not in SCOPES)
    bad_types = [s for s in items if not isinstance(s, str)]
    if unknown or bad_types:
        shown = ", ".join(unknown + [repr(s) for s in bad_types])
        raise Invalid(
            f"unknown scope: {shown}",
            code="unknown_scope",
            details={"unknown": unknown + [repr(s) for s in bad_types], "allowed": list(SCOPES)},
        )
    if not wanted:
        raise Invalid("a key needs at least one scope", code="no_scopes", details={"allowed": list(SCOPES)})
    if ALL_SCOPES in wanted:
        return (ALL_SCOPES,)
    return tuple(s for s in SCOPES if s in wanted)


def _view(row: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes or ()),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _new_prefix() -> str:
    return "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))


async def create_api_key(
    session: AsyncSession, *, clock: Clock, name: str, scopes: str | Iterable[str]
) -> tuple[str, ApiKeyView]:
    """Issue a key; the plaintext is returned once and only its hash is kept."""
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name or len(clean_name) > NAME_MAX_LENGTH:
        raise Invalid(f"name must be 1-{NAME_MAX_LENGTH} characters", code="invalid_name")
    granted = normalize_scopes(scopes)
    for _ in range(10):
        prefix = _new_prefix()
        taken = await session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix))
        if taken is None:
            break
    else:  # 36**8 prefixes: reaching this means the random source is broken
        raise RuntimeError("could not find a free API key prefix")
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    row = ApiKey(
        name=clean_name,
        prefix=prefix,
        key_hash=hash_key(plaintext),
        scopes=list(granted),
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    return plaintext, _view(row)


async def list_api_keys(session: AsyncSession, *, include_revoked: bool = True) -> list[ApiKeyView]:
    """All keys, oldest first (never with their secrets)."""
    stmt = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return [_view(row) for row in (await session.execute(stmt)).scalars()]


async def _find(session: AsyncSession, key_id_or_prefix: int | str) -> ApiKey | None:
    if isinstance(key_id_or_prefix, int):
        return await session.get(ApiKey, key_id_or_prefix)
    ref = key_id_or_prefix.strip()
    prefix = ref.removeprefix(KEY_PREFIX).split("_", 1)[0] if ref.startswith(KEY_PREFIX) else ref
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None and ref.isdigit():
        row = await session.get(ApiKey, int(ref))
    return row


async def revoke_api_key(session: AsyncSession, *, clock: Clock, key_id_or_prefix: int | str) -> ApiKeyView:
    """Revoke a key by id or prefix (``ab12cd34`` or ``sbk_ab12cd34``); revoking twice is harmless."""
    row = await _find(session, key_id_or_prefix)
    if row is None:
        raise NotFound(f"no API key {key_id_or_prefix!r}", code="api_key_not_found")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        await session.flush()
    return _view(row)


async def authenticate(session: AsyncSession, *, clock: Clock, plaintext: str) -> ApiKeyView | None:
    """The active key matching `plaintext`, or None; notes when it was last used."""
    match = KEY_RE.fullmatch(plaintext.strip()) if isinstance(plaintext, str) else None
    if match is None:
        return None
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
    stored = row.key_hash if row is not None else _DUMMY_HASH
    if not hmac.compare_digest(hash_key(match.group(0)), stored) or row is None:
        return None
    if row.revoked_at is not None:
        return None
    now = clock.now()
    if row.last_used_at is None or abs(now - row.last_used_at) >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        await session.flush()
    return _view(row)
