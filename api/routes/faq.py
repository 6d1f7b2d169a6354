"""/v1/faq: read and replace the FAQ content, see what it fails to answer, and how much it
deflects from staff."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel

from api.deps import ClockDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.common import IsoDate
from core import faq_stats
from core.apikeys import ApiKeyView
from core.errors import Invalid
from core.faq import FaqLibrary

router = APIRouter(prefix="/v1/faq", tags=["faq"])
CanRead = Annotated[ApiKeyView, Depends(require_scope("faq:read"))]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("faq:write"))]
Language = Annotated[str, Path(pattern="^[a-z]{2}$", examples=["en"])]
MAX_FAQ_BYTES = 1_000_000


def library(request: Request) -> FaqLibrary:
    return request.app.state.faq  # type: ignore[no-any-return]


class FaqVersions(BaseModel):
    languages: dict[str, str]


class FaqReplaced(BaseModel):
    language: str
    version: str
    categories: int
    entries: int


class FaqGap(BaseModel):
    question: str
    normalized: str
    language: str
    count: int
    unanswered: int
    unhelpful: int
    last_asked: datetime


class FaqGaps(BaseModel):
    since: datetime
    items: list[FaqGap]


class DeflectionDayOut(BaseModel):
    day: date
    questions: int
    deflected: int
    escalated: int
    rate: float | None


DEFLECTION = (
    "deflected = an FAQ answer was shown (typed question answered confidently, or opened while "
    "browsing), the customer did not answer 'no' to 'did this help?' and did not ask for a "
    "person from it; rate = deflected / questions"
)


class Deflection(BaseModel):
    definition: str
    start: date
    end: date
    questions: int
    deflected: int
    rate: float | None
    days: list[DeflectionDayOut]


@router.get("", summary="FAQ languages and content versions",
            description="Requires scope `faq:read`.", responses=error_responses(401, 403, 422))
async def versions(_key: CanRead, request: Request) -> FaqVersions:
    return FaqVersions(languages=library(request).versions())


@router.get(
    "/{language}",
    summary="The FAQ of one language",
    description="Requires scope `faq:read`. JSON by default (the same shape PUT accepts), or "
    "the YAML file with `format=yaml`. The `ETag` header is the content version; send it back "
    "in `If-Match` on PUT to avoid overwriting someone else's change.",
    responses={200: {"content": {"application/json": {}, "application/yaml": {}}},
               **error_responses(401, 403, 404, 422)},
)
async def get_faq(
    _key: CanRead, request: Request, language: Language,
    format: Annotated[Literal["json", "yaml"], Query()] = "json",
) -> Response:
    lib = library(request)
    etag = f'"{lib.version(language)}"'
    if format == "yaml":
        return Response(lib.export_yaml(language), media_type="application/yaml",
                        headers={"ETag": etag})
    return Response(json.dumps(lib.export(language), ensure_ascii=False),
                    media_type="application/json", headers={"ETag": etag})


@router.put(
    "/{language}",
    summary="Replace the FAQ of one language",
    description="Requires scope `faq:write`. Body: the document as JSON, or the YAML file with "
    "`Content-Type: application/yaml`. It is validated whole; on any problem the answer is 422 "
    "listing every problem (`details[].field`, `details[].message`) and the old content stays "
    "live. With `If-Match`, a stale version is refused with 412.",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/yaml": {"schema": {"type": "string"}},
    }}},
    responses=error_responses(400, 401, 403, 404, 412, 413, 415, 422),
)
async def put_faq(
    _key: CanWrite, request: Request, language: Language,
    if_match: Annotated[str | None, Header(max_length=256)] = None,
) -> FaqReplaced:
    body = await request.body()
    if len(body) > MAX_FAQ_BYTES:
        raise Invalid("the FAQ document is larger than 1 MB", code="payload_too_large")
    ctype = (request.headers.get("content-type") or "application/json").split(";")[0].strip()
    content: Any
    if ctype in ("application/yaml", "application/x-yaml", "text/yaml", "text/plain"):
        content = body
    elif ctype == "application/json":
        try:
            content = json.loads(body)
        except ValueError as exc:
            raise Invalid(f"body is not valid JSON: {exc}", code="invalid_json") from None
        if not isinstance(content, dict):
            raise Invalid("the FAQ document must be a JSON object", code="invalid_faq")
    else:
        raise Invalid(f"unsupported content type {ctype!r}; use application/json or "
                      "application/yaml", code="unsupported_media_type")
    lib = library(request)
    document = lib.replace(language, content, if_match=if_match)
    return FaqReplaced(language=language, version=lib.version(language),
                       categories=len(document.categories), entries=len(document.entries))


@router.get(
    "/insights/gaps",
    summary="Most frequent questions the FAQ did not answer or whose answer did not help",
    description="Requires scope `faq:read`. Grow the FAQ from the top of this list.",
    responses=error_responses(401, 403, 422),
)
async def gaps(
    _key: CanRead, session: SessionDep, clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    language: Annotated[str | None, Query(pattern="^[a-z]{2}$")] = None,
) -> FaqGaps:
    since = clock.now() - timedelta(days=days)
    rows = await faq_stats.frequent_gaps(session, since=since, limit=limit, language=language)
    return FaqGaps(since=since, items=[
        FaqGap(question=r.example, normalized=r.normalized, language=r.language, count=r.count,
               unanswered=r.unanswered, unhelpful=r.unhelpful, last_asked=r.last_asked)
        for r in rows
    ])


@router.get(
    "/insights/deflection",
    summary="FAQ deflection per day",
    description="Requires scope `faq:read`. Days are UTC, `end` inclusive (default: the last 30 "
    "days). Deflected = an FAQ answer was shown (typed question answered confidently, or "
    "opened while browsing), the customer did not answer 'no' to 'did this help?', and did not "
    "go on to ask for a person from it. rate = deflected / questions (null with no questions).",
    responses=error_responses(401, 403, 422),
)
async def deflection(
    _key: CanRead, session: SessionDep, clock: ClockDep,
    start: Annotated[IsoDate | None, Query()] = None, end: Annotated[IsoDate | None, Query()] = None,
) -> Deflection:
    end = end or clock.now().date()
    start = start or end - timedelta(days=29)
    if start > end:
        raise Invalid("start must not be after end", code="invalid_period")
    if (end - start).days > 366:
        raise Invalid("at most 366 days at once", code="invalid_period")
    rows = await faq_stats.deflection_by_day(
        session, start=datetime.combine(start, datetime.min.time(), tzinfo=UTC),
        end=datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
    )
    questions = sum(r.questions for r in rows)
    deflected = sum(r.deflected for r in rows)
    return Deflection(
        definition=DEFLECTION, start=start, end=end, questions=questions,
        deflected=deflected, rate=(deflected / questions) if questions else None,
        days=[DeflectionDayOut(day=r.day, questions=r.questions, deflected=r.deflected,
                               escalated=r.escalated, rate=r.rate) for r in rows],
    )
