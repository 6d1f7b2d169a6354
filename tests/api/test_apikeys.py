"""core.apikeys: keys are stored hashed, scoped, revocable, and cheap to check."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.apikeys import (
    SCOPES,
    authenticate,
    create_api_key,
    list_api_keys,
    normalize_scopes,
    revoke_api_key,
)
from core.errors import Invalid, NotFound
from storage.models import ApiKey

KEY_SHAPE = re.compile(r"sbk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")


async def test_only_the_hash_and_prefix_are_stored(session, clock):
    plaintext, view = await create_api_key(session, clock=clock, name="shop", scopes=["customers:read"])
    await session.commit()

    assert KEY_SHAPE.fullmatch(plaintext)
    assert plaintext.startswith(f"sbk_{view.prefix}_")
    row = (await session.execute(select(ApiKey))).scalar_one()
    assert row.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    secret = plaintext[len("sbk_12345678_") :]
    stored = [str(getattr(row, c.key)) for c in ApiKey.__table__.columns]
    assert not any(plaintext in v or secret in v for v in stored)
    assert view.scopes == ("customers:read",)
    assert view.created_at == clock.now() and view.last_used_at is None


async def test_authenticate_accepts_the_key_and_nothing_like_it(session, clock):
    plaintext, view = await create_api_key(session, clock=clock, name="crm", scopes=["*"])
    assert (await authenticate(session, clock=clock, plaintext=plaintext)).id == view.id
    assert (await authenticate(session, clock=clock, plaintext=f"  {plaintext}\n")) is not None
    wrong_secret = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert await authenticate(session, clock=clock, plaintext=wrong_secret) is None
    unknown_prefix = "sbk_zzzzzzzz" + plaintext[12:]
    assert await authenticate(session, clock=clock, plaintext=unknown_prefix) is None
    for junk in ("", "sbk_", "Bearer " + plaintext, plaintext + "x", plaintext.upper()):
        assert await authenticate(session, clock=clock, plaintext=junk) is None


async def test_revoke_by_id_prefix_or_display_prefix(session, clock):
    keys = [await create_api_key(session, clock=clock, name=f"k{i}", scopes="*") for i in range(3)]
    (_, a), (_, b), (plain_c, c) = keys

    assert (await revoke_api_key(session, clock=clock, key_id_or_prefix=a.id)).revoked_at
    assert (await revoke_api_key(session, clock=clock, key_id_or_prefix=b.prefix)).revoked_at
    clock.advance(minutes=5)
    revoked = await revoke_api_key(session, clock=clock, key_id_or_prefix=f"sbk_{c.prefix}")
    assert revoked.revoked_at == clock.now()
    assert not revoked.allows("customers:read")
    # Revoking again keeps the original time.
    clock.advance(minutes=5)
    again = await revoke_api_key(session, clock=clock, key_id_or_prefix=str(c.id))
    assert again.revoked_at == revoked.revoked_at

    assert await authenticate(session, clock=clock, plaintext=plain_c) is None
    assert await list_api_keys(session, include_revoked=False) == []
    assert [k.name for k in await list_api_keys(session)] == ["k0", "k1", "k2"]


async def test_revoking_an_unknown_key_is_not_found(session, clock):
    with pytest.raises(NotFound) as err:
        await revoke_api_key(session, clock=clock, key_id_or_prefix="nosuchkey")
    assert err.value.code == "api_key_not_found" and err.value.status == 404


async def test_unknown_scope_is_refused(session, clock):
    with pytest.raises(Invalid) as err:
        await create_api_key(session, clock=clock, name="x", scopes=["customers:read", "root"])
    assert err.value.code == "unknown_scope"
    assert err.value.status == 422
    assert err.value.details["unknown"] == ["root"]
    assert (await list_api_keys(session)) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("customers:write customers:read", ("customers:read", "customers:write")),
        (["faq:read", "faq:read"], ("faq:read",)),
        ("analytics:read,*", ("*",)),
    ],
)
def test_scopes_are_normalised(given, expected):
    assert normalize_scopes(given) == expected


def test_no_scopes_is_refused():
    with pytest.raises(Invalid) as err:
        normalize_scopes([])
    assert err.value.code == "no_scopes"


async def test_name_is_required(session, clock):
    with pytest.raises(Invalid) as err:
        await create_api_key(session, clock=clock, name="   ", scopes=["*"])
    assert err.value.code == "invalid_name"


async def test_star_allows_every_scope(session, clock):
    _, star = await create_api_key(session, clock=clock, name="all", scopes=["*"])
    _, narrow = await create_api_key(session, clock=clock, name="one", scopes=["faq:read"])
    assert all(star.allows(s) for s in SCOPES)
    assert narrow.allows("faq:read") and not narrow.allows("faq:write")


async def test_last_used_is_written_at_most_once_a_minute(session, clock):
    plaintext, _ = await create_api_key(session, clock=clock, name="busy", scopes=["*"])
    first = await authenticate(session, clock=clock, plaintext=plaintext)
    assert first.last_used_at == clock.now()

    clock.advance(seconds=59)
    assert (await authenticate(session, clock=clock, plaintext=plaintext)).last_used_at == (
        first.last_used_at
    )
    clock.advance(seconds=1)
    later = await authenticate(session, clock=clock, plaintext=plaintext)
    assert later.last_used_at == first.last_used_at + timedelta(minutes=1)
