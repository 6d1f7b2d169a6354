"""/v1/customers: sync customers from the business's systems and link them to Telegram."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api.deps import BotUsernameDep, ClockDep, SessionDep, SettingsDep, require_scope
from api.errors import error_responses
from api.schemas import CustomerOut, CustomerPage, CustomerUpsert, LinkTokenOut
from api.schemas.common import EXTERNAL_ID_PATTERN, MAX_ID
from core import customers
from core.apikeys import ApiKeyView

router = APIRouter(prefix="/v1/customers", tags=["customers"])

ExternalId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=EXTERNAL_ID_PATTERN,
        description="Your system's id for the customer: 1-128 of A-Z a-z 0-9 . _ : @ -",
        examples=["crm-42"],
    ),
]
CanRead = Annotated[ApiKeyView, Depends(require_scope("customers:read"))]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("customers:write"))]


@router.put(
    "/{external_id}",
    summary="Create or update a customer by your id",
    description="Requires scope `customers:write`. Fields left out or `null` are kept; "
    "`attributes` are merged key by key (`null` removes a key). "
    "201 when the customer was created, 200 when updated.",
    responses={
        201: {"model": CustomerOut, "description": "Created."},
        **error_responses(400, 401, 403, 413, 415, 422),
    },
    response_description="Updated.",
)
async def upsert_customer(
    _key: CanWrite,
    external_id: ExternalId,
    body: CustomerUpsert,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
) -> CustomerOut:
    data = body.to_data(now=clock.now())
    customer, created = await customers.upsert_by_external_id(
        session, clock=clock, external_id=external_id, data=data
    )
    await session.commit()
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/v1/customers/{external_id}"
    return CustomerOut.from_view(customer)


@router.get(
    "/{external_id}",
    summary="Get a customer by your id",
    description="Requires scope `customers:read`. 404 `customer_not_found` if unknown.",
    responses=error_responses(401, 403, 404, 422),
)
async def get_customer(_key: CanRead, external_id: ExternalId, session: SessionDep) -> CustomerOut:
    customer = await customers.get_customer(session, external_id=external_id)
    await session.commit()  # keeps the key's last-used time
    return CustomerOut.from_view(customer)


@router.get(
    "",
    summary="List customers (keyset paging)",
    description="Requires scope `customers:read`. Ordered by id; pass `next_after` from "
    "one page as `after` to get the next.",
    responses=error_responses(401, 403, 422),
)
async def list_customers(
    _key: CanRead,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, 1-200.")] = 50,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Return customers with an id above this one.")
    ] = 0,
) -> CustomerPage:
    # One extra row tells whether another page exists without a second query.
    rows, total = await customers.list_customers(session, limit=limit + 1, after_id=after)
    await session.commit()
    page = rows[:limit]
    return CustomerPage(
        items=[CustomerOut.from_view(c) for c in page],
        total=total,
        next_after=page[-1].id if len(rows) > limit else None,
    )


@router.post(
    "/{external_id}/link-token",
    status_code=201,
    summary="Create a one-time link that ties a Telegram account to this customer",
    description="Requires scope `customers:write`. Send the customer the `deep_link`; when "
    "they open it the bot links their Telegram account. `deep_link` is null until the bot "
    "has started once (it records its username then); `start_command` always works.",
    responses=error_responses(401, 403, 404, 422),
)
async def create_link_token(
    _key: CanWrite,
    external_id: ExternalId,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    bot_username: BotUsernameDep,
) -> LinkTokenOut:
    token, expires_at = await customers.create_link_token(
        session,
        clock=clock,
        external_id=external_id,
        ttl=timedelta(hours=settings.link_token_ttl_hours),
    )
    await session.commit()
    return LinkTokenOut(
        token=token,
        deep_link=f"https://t.me/{bot_username}?start={token}" if bot_username else None,
        start_command=f"/start {token}",
        expires_at=expires_at,
    )
