"""/v1/campaigns, /v1/messages, /v1/playbooks: proactive outreach the bot delivers.

The API never talks to Telegram: it stores the campaign and its queue; the delivery worker
sends at Telegram's limits, applying every rule (opt-out, reachability, frequency cap, quiet
hours) at send time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from api.deps import ClockDep, RulesDep, SessionDep, require_scope
from api.errors import error_responses
from api.schemas.common import MAX_ID
from api.schemas.outreach.campaigns_in import CampaignIn, DryRunIn, MessageIn
from api.schemas.outreach.campaigns_out import (
    CampaignOut,
    CampaignPage,
    DryRunOut,
    PlaybookOut,
    RecipientOut,
    RecipientPage,
    SampleOut,
    WarningOut,
)
from core.apikeys import ApiKeyView
from core.outreach import campaigns as svc
from core.outreach import playbooks, templates
from core.outreach.rules import OutreachRules

router = APIRouter(tags=["campaigns"])
CanRead = Annotated[ApiKeyView, Depends(require_scope("campaigns:read"))]
CanWrite = Annotated[ApiKeyView, Depends(require_scope("campaigns:write"))]
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, description="The campaign's id.")]

TEMPLATES_HELP = (
    "Templates: `{variable}` or `{variable|fallback}`; variables: "
    + ", ".join(f"`{k}` ({v[0]})" for k, v in templates.VARIABLES.items())
    + ". `{{`/`}}` are literal braces. Nothing in a template is evaluated. "
)
ERRORS_HELP = (
    "422: `template_syntax`, `template_unknown_variable`, `template_needs_offer` (a promo-code "
    "variable without an offer), `template_variable_missing` (some recipients lack a value and the "
    "variable has no fallback; `details.missing` counts them), `template_too_long`, "
    "`template_missing_language`, `invalid_window`, `paid_broadcast_disabled`, `paid_budget_exceeded`, "
    "`audience_required`, `audience_ambiguous`, `steps_required`, `invalid_webhook`. "
    "404 `customer_not_found` for unknown `customer_external_ids`."
)


def _rules(rules: RulesDep) -> OutreachRules:
    return rules.outreach


OutreachRulesDep = Annotated[OutreachRules, Depends(_rules)]


@router.get(
    "/v1/playbooks",
    summary="The ready playbooks",
    description="Requires scope `campaigns:read`. Win-back (the default), subscription renewal and "
    "abandoned cart: steps with their texts in every language, default audience, goal and window. "
    "Use one with `playbook` when creating a campaign; any field you give overrides it.",
    responses=error_responses(401, 403, 422),
)
async def list_playbooks(_key: CanRead, session: SessionDep) -> list[PlaybookOut]:
    await session.commit()
    out = []
    for name in playbooks.NAMES:
        book = playbooks.build(name)
        out.append(
            PlaybookOut(
                name=name,
                description=book.description,
                segment=book.segment,
                goal=book.goal,
                send_window=book.window,
                steps=book.steps,
            )
        )
    return out


@router.post(
    "/v1/campaigns",
    status_code=201,
    summary="Create a campaign (and start it)",
    description="Requires scope `campaigns:write`. The audience is a `segment` or `customer_external_ids`; "
    "a random, stable `holdout` share gets nothing, so the uplift can be measured. Step 1 is queued at "
    "`start_at` (default now); each later step after its delay, unless the customer replied, bought or "
    "opted out (`exit_on`). A conversion is a purchase (or a renewal, `goal.kind`) within `goal.days` "
    "of being targeted. Messages go inside `send_window` and outside `quiet_hours`, both in the "
    "customer's time zone; a message due outside them waits. " + TEMPLATES_HELP + "201 created; the same "
    "`idempotency_key` and body again: 200 with the first campaign (`replayed: true`); another body: "
    "409 `idempotency_conflict`. `warnings` lists what the campaign as given cannot do, e.g. "
    "`step_blocked_by_frequency_cap`: a step due within PROACTIVE_CAP_DAYS of the previous one will be "
    "skipped for everyone who got that one (the dry run says the same). " + ERRORS_HELP,
    responses={
        200: {"model": CampaignOut, "description": "Replayed: the campaign this key created."},
        **error_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
    response_description="Created.",
)
async def create_campaign(
    _key: CanWrite,
    body: CampaignIn,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    rules: OutreachRulesDep,
) -> CampaignOut:
    ids = (
        await svc.resolve_customers(session, external_ids=body.customer_external_ids)
        if body.customer_external_ids is not None
        else None
    )
    view, created = await svc.create_campaign(
        session,
        clock=clock,
        rules=rules,
        inp=body.to_input(customer_ids=ids),
        idempotency_key=body.idempotency_key,
    )
    await session.commit()
    if created:
        response.headers["Location"] = f"/v1/campaigns/{view.id}"
    else:
        response.status_code = 200
    return CampaignOut.from_view(
        view,
        now=clock.now(),
        replayed=not created,
        warnings=svc.frequency_cap_warnings(view.steps, rules=rules),
    )


@router.post(
    "/v1/campaigns/dry-run",
    summary="Dry run: audience, holdout and rendered texts, storing and sending nothing",
    description="Requires scope `campaigns:read`. Takes the same body as creating a campaign and shows "
    "what it would do: the audience and how many a message could reach, the expected holdout, each "
    "step rendered for a few customers in their language (the template preview), and "
    "`missing_data`: variables without a fallback some customers lack (creating would fail). " + ERRORS_HELP,
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
)
async def dry_run_campaign(
    _key: CanRead, body: DryRunIn, session: SessionDep, clock: ClockDep, rules: OutreachRulesDep
) -> DryRunOut:
    ids = (
        await svc.resolve_customers(session, external_ids=body.customer_external_ids)
        if body.customer_external_ids is not None
        else None
    )
    result = await svc.dry_run(
        session, clock=clock, rules=rules, inp=body.to_input(customer_ids=ids), sample_size=body.sample_size
    )
    await session.commit()
    return DryRunOut(
        warnings=[WarningOut.from_view(w) for w in svc.frequency_cap_warnings(result.steps, rules=rules)],
        audience=result.audience,
        contactable=result.contactable,
        holdout_expected=result.holdout_expected,
        missing_data=result.missing_data,
        samples=[
            SampleOut(
                customer_id=s.customer_id, external_id=s.external_id, language=s.language, steps=s.steps
            )
            for s in result.samples
        ],
        steps=result.steps,
        rules=result.rules,
    )


@router.get(
    "/v1/campaigns",
    summary="List campaigns (keyset paging)",
    description="Requires scope `campaigns:read`. Without figures; get one campaign for those.",
    responses=error_responses(401, 403, 422),
)
async def list_campaigns(
    _key: CanRead,
    session: SessionDep,
    clock: ClockDep,
    status: Annotated[Literal["running", "paused", "cancelled", "completed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> CampaignPage:
    rows = await svc.list_campaigns(session, limit=limit + 1, after_id=after, status=status)
    await session.commit()
    page = rows[:limit]
    now = clock.now()
    return CampaignPage(
        items=[CampaignOut.from_view(v, now=now) for v in page],
        next_after=page[-1].id if len(rows) > limit else None,
    )


@router.get(
    "/v1/campaigns/{campaign_id}",
    summary="A campaign with its figures",
    description="Requires scope `campaigns:read`. `stats`: targeted, held out, queued (and how many "
    "wait for quiet hours), sent, failed and skipped by reason, uncertain (in flight at a crash), "
    "replies and their choices, conversions in the treated group and in the holdout, the uplift "
    "with a 95% interval, per-step figures and progress (rate over the last minute, ETA). "
    "404 `campaign_not_found`.",
    responses=error_responses(401, 403, 404, 422),
)
async def get_campaign(
    _key: CanRead, campaign_id: CampaignId, session: SessionDep, clock: ClockDep
) -> CampaignOut:
    view = await svc.get_campaign(session, clock=clock, campaign_id=campaign_id)
    await session.commit()
    return CampaignOut.from_view(view, now=clock.now())


@router.get(
    "/v1/campaigns/{campaign_id}/recipients",
    summary="Who the campaign targeted and where each one stands",
    description="Requires scope `campaigns:read`. Keyset paging by recipient id; filter by `status` "
    "(held_out, active, queued, done, replied, purchased, opted_out, skipped, failed, cancelled). "
    "404 `campaign_not_found`.",
    responses=error_responses(401, 403, 404, 422),
)
async def list_recipients(
    _key: CanRead,
    campaign_id: CampaignId,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> RecipientPage:
    rows = await svc.list_recipients(
        session, campaign_id=campaign_id, status=status, limit=limit + 1, after_id=after
    )
    await session.commit()
    page = rows[:limit]
    return RecipientPage(
        items=[
            RecipientOut(
                id=r.id,
                customer_id=r.customer_id,
                external_id=r.external_id,
                holdout=r.holdout,
                status=r.status,
                step=r.step + 1,
                sent_steps=r.sent_steps,
                next_at=r.next_at,
                stop_reason=r.stop_reason,
                replied_at=r.replied_at,
                reply_choice=r.reply_choice,
                converted_at=r.converted_at,
            )
            for r in page
        ],
        next_after=page[-1].id if len(rows) > limit else None,
    )


def _control(action: str, verb: str, doc: str):
    @router.post(
        f"/v1/campaigns/{{campaign_id}}/{action}",
        name=f"{action}_campaign",
        summary=f"{verb} a campaign",
        description=f"Requires scope `campaigns:write`. {doc} Repeating it is harmless (200). "
        "404 `campaign_not_found`; 409 `campaign_state` when the campaign's state does not allow it.",
        responses=error_responses(401, 403, 404, 409, 422),
    )
    async def control(
        _key: CanWrite, campaign_id: CampaignId, session: SessionDep, clock: ClockDep
    ) -> CampaignOut:
        fn = {"pause": svc.pause, "resume": svc.resume, "cancel": svc.cancel}[action]
        await fn(session, clock=clock, campaign_id=campaign_id)
        view = await svc.get_campaign(session, clock=clock, campaign_id=campaign_id)
        await session.commit()
        return CampaignOut.from_view(view, now=clock.now())

    return control


pause_campaign = _control("pause", "Pause", "Messages not yet on the wire wait; nothing is lost.")
resume_campaign = _control("resume", "Resume", "Held messages go again (rules are re-checked at send).")
cancel_campaign = _control("cancel", "Cancel", "Nothing more is sent; figures stay.")


@router.post(
    "/v1/messages",
    status_code=201,
    summary="Send one proactive message to one customer",
    description="Requires scope `campaigns:write`. The same machinery as a campaign with one recipient "
    "and no holdout: the same send-time rules (opt-out, reachability, frequency cap, quiet hours), "
    "delivery and figures (`GET /v1/campaigns/{id}`). " + TEMPLATES_HELP + "The same `idempotency_key` and "
    "body: 200 with the first one; another body: 409 `idempotency_conflict`. 404 `customer_not_found`.",
    responses={
        200: {"model": CampaignOut, "description": "Replayed."},
        **error_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
    response_description="Queued.",
)
async def send_message(
    _key: CanWrite,
    body: MessageIn,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    rules: OutreachRulesDep,
) -> CampaignOut:
    [customer_id] = await svc.resolve_customers(session, external_ids=[body.customer_external_id])
    view, created = await svc.create_campaign(
        session,
        clock=clock,
        rules=rules,
        inp=body.to_input(customer_id),
        idempotency_key=body.idempotency_key,
    )
    await session.commit()
    if created:
        response.headers["Location"] = f"/v1/campaigns/{view.id}"
    else:
        response.status_code = 200
    return CampaignOut.from_view(view, now=clock.now(), replayed=not created)
