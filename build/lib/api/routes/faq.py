"""/v1/faq: read and replace the FAQ content, see what it fails to answer, and how much it
deflects from staff."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import ClockDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.common import MAX_ID, IsoDate
from core import faq_learning, faq_stats
from core.apikeys import ApiKeyView
from core.delivery import wake
from core.errors import Invalid
from core.faq import FaqLibrary
from core.faq.gaps import DEFAULT_THRESHOLD, GapQuestion, cluster_gaps
from core.faq_learning import LEARNED_SIGNAL

router = APIRouter(prefix="/v1/faq", tags=["faq"])
CanRead = Annotated[ApiKeyView, Depends(require_scope("faq:read"))]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("faq:write"))]
Language = Annotated[str, Path(pattern="^[a-z]{2}$", examples=["en"])]
MAX_FAQ_BYTES = 1_000_000
MAX_CLUSTERED = 2000  # distinct gap phrasings read for clustering (the most frequent)


def library(request: Request) -> FaqLibrary:
    return request.app.state.faq


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


class FaqGapCluster(BaseModel):
    title: str = Field(description="The most asked phrasing: a starting point for the new entry")
    language: str
    count: int = Field(description="Times asked, all phrasings of the cluster together")
    unanswered: int
    unhelpful: int
    phrasings: int = Field(description="Distinct phrasings in the cluster")
    examples: list[str] = Field(description="Up to 5 phrasings, most asked first")
    terms: list[str] = Field(description="Word stems that define the cluster")
    last_asked: datetime | None


class FaqGaps(BaseModel):
    since: datetime
    items: list[FaqGap] = Field(description="Distinct phrasings, most frequent first (`limit`)")
    clusters: list[FaqGapCluster] = Field(
        description="Similar phrasings grouped (TF-IDF cosine of word stems >= `similarity`), most "
        "asked first: write one new entry per cluster"
    )


class LearnedOut(BaseModel):
    id: int
    language: str
    entry_id: str
    text: str = Field(description="The customer's phrasing, as written")
    status: Literal["pending", "approved", "rejected"]
    customer_id: int | None
    taught_by: int | None = Field(description="Telegram user id of the staff member who taught it")
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None = Field(description="Name of the API key that approved or rejected it")


class LearnedList(BaseModel):
    items: list[LearnedOut]


def _learned(v: faq_learning.LearnedView) -> LearnedOut:
    return LearnedOut(
        id=v.id,
        language=v.language,
        entry_id=v.entry_id,
        text=v.text,
        status=v.status,  # type: ignore[arg-type]
        customer_id=v.customer_id,
        taught_by=v.taught_by,
        created_at=v.created_at,
        decided_at=v.decided_at,
        decided_by=v.decided_by,
    )


class DeflectionDayOut(BaseModel):
    day: date
    questions: int
    deflected: int
    escalated: int
    rate: float | None
    assisted: int = Field(description="FAQ answers staff sent from a topic (not deflection)")


DEFLECTION = (
    "deflected = an FAQ answer was shown (typed question answered confidently, or opened while "
    "browsing), the customer did not answer 'no' to 'did this help?' and did not ask for a "
    "person from it; rate = deflected / questions. Answers staff sent from the FAQ are assisted, "
    "reported apart and not counted in questions"
)


class Deflection(BaseModel):
    definition: str
    start: date
    end: date
    questions: int
    deflected: int
    rate: float | None
    assisted: int = Field(
        description="FAQ answers staff sent to customers from their topic: a "
        "person was needed, so never counted in questions or deflected"
    )
    days: list[DeflectionDayOut]


@router.get(
    "",
    summary="FAQ languages and content versions",
    description="Requires scope `faq:read`.",
    responses=error_responses(401, 403, 422),
)
async def versions(_key: CanRead, request: Request) -> FaqVersions:
    return FaqVersions(languages=library(request).versions())


@router.get(
    "/learned",
    summary="Customer phrasings staff linked to FAQ entries",
    description="Requires scope `faq:read`. Staff teach the bot from a customer's topic (the 🎓 "
    "button under a relayed question, or `/teach entry-id` in reply to it); each phrasing waits "
    "`pending` until approved or rejected here. Approved phrasings are matched like keywords of "
    "their entry. Newest first.",
    responses=error_responses(401, 403, 422),
)
async def learned(
    _key: CanRead,
    session: SessionDep,
    status: Annotated[Literal["pending", "approved", "rejected"] | None, Query()] = None,
    language: Annotated[str | None, Query(pattern="^[a-z]{2}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> LearnedList:
    rows = await faq_learning.list_learned(
        session, status=status, language=language, limit=limit, offset=offset
    )
    return LearnedList(items=[_learned(r) for r in rows])


async def _decide(
    key: ApiKeyView, request: Request, session: SessionDep, clock: ClockDep, learned_id: int, approve: bool
) -> LearnedOut:
    view = await faq_learning.decide(
        session, clock=clock, learned_id=learned_id, approve=approve, by=key.name
    )
    phrasings = await faq_learning.approved_phrasings(session)
    wake(session, LEARNED_SIGNAL)  # the bot processes (another role, another host) reload them too
    await session.commit()
    library(request).set_learned(phrasings)  # matched from the next message on, no restart
    return _learned(view)


@router.post(
    "/learned/{learned_id}/approve",
    summary="Approve a learned phrasing: the bot matches it from now on",
    description="Requires scope `faq:write`. The live matcher is updated at once (no restart). "
    "409 when it is already approved.",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def approve_learned(
    key: CanWrite,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    learned_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The learned phrasing's id.")],
) -> LearnedOut:
    return await _decide(key, request, session, clock, learned_id, True)


@router.post(
    "/learned/{learned_id}/reject",
    summary="Reject a learned phrasing (an approved one stops being matched at once)",
    description="Requires scope `faq:write`. 409 when it is already rejected.",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def reject_learned(
    key: CanWrite,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    learned_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The learned phrasing's id.")],
) -> LearnedOut:
    return await _decide(key, request, session, clock, learned_id, False)


@router.get(
    "/{language}",
    summary="The FAQ of one language",
    description="Requires scope `faq:read`. JSON by default (the same shape PUT accepts), or "
    "the YAML file with `format=yaml`. The `ETag` header is the content version; send it back "
    "in `If-Match` on PUT to avoid overwriting someone else's change.",
    responses={
        200: {"content": {"application/json": {}, "application/yaml": {}}},
        **error_responses(401, 403, 404, 422),
    },
)
async def get_faq(
    _key: CanRead,
    request: Request,
    language: Language,
    format: Annotated[Literal["json", "yaml"], Query()] = "json",
) -> Response:
    lib = library(request)
    etag = f'"{lib.version(language)}"'
    if format == "yaml":
        return Response(lib.export_yaml(language), media_type="application/yaml", headers={"ETag": etag})
    return Response(
        json.dumps(lib.export(language), ensure_ascii=False),
        media_type="application/json",
        headers={"ETag": etag},
    )


@router.put(
    "/{language}",
    summary="Replace the FAQ of one language",
    description="Requires scope `faq:write`. Body: the document as JSON, or the YAML file with "
    "`Content-Type: application/yaml`. It is validated whole; on any problem the answer is 422 "
    "listing every problem (`details[].field`, `details[].message`) and the old content stays "
    "live. With `If-Match`, a stale version is refused with 412.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/yaml": {"schema": {"type": "string"}},
            },
        }
    },
    responses=error_responses(400, 401, 403, 404, 412, 413, 415, 422),
)
async def put_faq(
    _key: CanWrite,
    request: Request,
    language: Language,
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
        raise Invalid(
            f"unsupported content type {ctype!r}; use application/json or application/yaml",
            code="unsupported_media_type",
        )
    lib = library(request)
    document = lib.replace(language, content, if_match=if_match)
    return FaqReplaced(
        language=language,
        version=lib.version(language),
        categories=len(document.categories),
        entries=len(document.entries),
    )


@router.get(
    "/insights/gaps",
    summary="Most frequent questions the FAQ did not answer or whose answer did not help",
    description="Requires scope `faq:read`. `items`: distinct phrasings, most frequent first. "
    "`clusters`: similar phrasings grouped (with counts, examples and a suggested title), so you "
    "write one new entry per cluster rather than one per phrasing. Grow the FAQ from the top.",
    responses=error_responses(401, 403, 422),
)
async def gaps(
    _key: CanRead,
    session: SessionDep,
    clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    language: Annotated[str | None, Query(pattern="^[a-z]{2}$")] = None,
    similarity: Annotated[
        float, Query(gt=0, le=1, description="Cluster threshold (cosine)")
    ] = DEFAULT_THRESHOLD,
    clusters: Annotated[int, Query(ge=1, le=200, description="At most this many clusters")] = 20,
) -> FaqGaps:
    since = clock.now() - timedelta(days=days)
    rows = await faq_stats.frequent_gaps(session, since=since, limit=MAX_CLUSTERED, language=language)
    grouped = cluster_gaps(
        [GapQuestion(r.example, r.language, r.count, r.unanswered, r.unhelpful, r.last_asked) for r in rows],
        threshold=similarity,
    )
    return FaqGaps(
        since=since,
        items=[
            FaqGap(
                question=r.example,
                normalized=r.normalized,
                language=r.language,
                count=r.count,
                unanswered=r.unanswered,
                unhelpful=r.unhelpful,
                last_asked=r.last_asked,
            )
            for r in rows[:limit]
        ],
        clusters=[
            FaqGapCluster(
                title=c.title,
                language=c.language,
                count=c.count,
                unanswered=c.unanswered,
                unhelpful=c.unhelpful,
                phrasings=c.phrasings,
                examples=list(c.examples),
                terms=list(c.terms),
                last_asked=c.last_asked,
            )
            for c in grouped[:clusters]
        ],
    )


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
    _key: CanRead,
    session: SessionDep,
    clock: ClockDep,
    start: Annotated[IsoDate | None, Query()] = None,
    end: Annotated[IsoDate | None, Query()] = None,
) -> Deflection:
    end = end or clock.now().date()
    start = start or end - timedelta(days=29)
    if start > end:
        raise Invalid("start must not be after end", code="invalid_period")
    if (end - start).days > 366:
        raise Invalid("at most 366 days at once", code="invalid_period")
    rows = await faq_stats.deflection_by_day(
        session,
        start=datetime.combine(start, datetime.min.time(), tzinfo=UTC),
        end=datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
    )
    questions = sum(r.questions for r in rows)
    deflected = sum(r.deflected for r in rows)
    return Deflection(
        definition=DEFLECTION,
        start=start,
        end=end,
        questions=questions,
        deflected=deflected,
        rate=(deflected / questions) if questions else None,
        assisted=sum(r.assisted for r in rows),
        days=[
            DeflectionDayOut(
                day=r.day,
                questions=r.questions,
                deflected=r.deflected,
                escalated=r.escalated,
                rate=r.rate,
                assisted=r.assisted,
            )
            for r in rows
        ],
    )
