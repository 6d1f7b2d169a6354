"""Campaigns: create (idempotent), dry run, pause / resume / cancel, status and uplift.

Creating a campaign picks its audience (a segment, or an explicit list), sets a random but
stable holdout aside, and queues step 1 for everyone else; later steps are queued by the
scheduler when their delay has passed. Every send-time rule (opt-out, reachability, the shared
frequency cap, quiet hours) is applied by the delivery worker, not here: a rule that holds at
creation may not hold a week later.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.customers import SUPPORTED_LANGUAGES
from core.delivery import wake
from core.errors import Conflict, Invalid, NotFound
from core.metrics import uplift
from core.outreach import segments, templates
from core.outreach.playbooks import PlaybookOptions, build
from core.outreach.rules import PAID_STARS_PER_MESSAGE, OutreachRules, Window, ever_allowed, in_holdout
from core.outreach.segments import SegmentSpec
from core.outreach.sequences import EXIT_CONDITIONS, GOALS, IN_PROGRESS
from core.outreach.variables import load, values_for
from core.outreach.webhooks import EVENTS as WEBHOOK_EVENTS
from storage.models import Customer
from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage, OutreachStats

MAX_STEPS = 10
MAX_BUTTONS = 8
MAX_DELAY = timedelta(days=365)
MAX_EXPLICIT = 5_000
BUTTON_KINDS = ("exit_interview", "reply", "url")
_VALUE_RE = re.compile(r"^[a-z0-9_]{1,20}$")
_PROMO_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_URL_RE = re.compile(r"^(https?|tg)://\S{1,2000}$")
INSERT_CHUNK = 5_000


# ------------------------------------------------------------------ input and validation


@dataclass(frozen=True, slots=True)
class CampaignInput:
    """What a backend asks for; omitted fields come from the playbook, then from settings."""

    name: str
    kind: str = "campaign"  # campaign | message
    playbook: str | None = None
    options: PlaybookOptions = field(default_factory=PlaybookOptions)
    segment: SegmentSpec | None = None
    customer_ids: tuple[int, ...] | None = None
    steps: tuple[dict[str, Any], ...] | None = None
    exit_on: tuple[str, ...] | None = None
    goal_kind: str | None = None
    goal_days: int | None = None
    holdout: float | None = None
    send_window: str | None = None  # "10:00-20:00"; "any" = all day
    quiet_hours: str | None = None  # None: the settings' quiet hours; "off": none
    start_at: datetime | None = None
    paid_max_stars: float = 0.0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_events: tuple[str, ...] = ()
    default_language: str | None = None

    def fingerprint(self) -> str:
        data = asdict(self)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Plan:
    kind: str
    name: str
    playbook: str | None
    segment: SegmentSpec | None
    customer_ids: tuple[int, ...] | None
    steps: list[dict[str, Any]]
    parsed: list[dict[str, templates.Template]]
    rules: dict[str, Any]
    holdout: float
    default_language: str
    paid_max_messages: int
    webhook_url: str | None
    webhook_secret: str | None
    webhook_events: list[str]

    @property
    def needs_data(self) -> set[str]:
        return {v for step in self.parsed for t in step.values() for v in templates.needs_data(t)}


@dataclass(frozen=True, slots=True)
class PlanWarning:
    code: str
    step: int  # 1-based
    message: str
    details: dict[str, Any]


def frequency_cap_warnings(steps: list[dict[str, Any]], *, rules: OutreachRules) -> list[PlanWarning]:
    """Steps that the shared frequency cap will skip for everyone who got the step before.

    A later step due less than PROACTIVE_CAP_DAYS after the previous one finds that message in
    the contact log and is skipped (`frequency_cap`); creation succeeds, but says so.
    """
    cap = rules.cap.total_seconds()
    out: list[PlanWarning] = []
    if cap <= 0:
        return out
    for i, step in enumerate(steps[1:], start=2):
        delay = int(step.get("delay_seconds") or 0)
        if delay < cap:
            out.append(PlanWarning(
                code="step_blocked_by_frequency_cap",
                step=i,
                message=(
                    f"step {i} is due {delay / 86400:g} days after step {i - 1}, within the "
                    f"{cap / 86400:g}-day frequency cap (PROACTIVE_CAP_DAYS): it will be skipped "
                    "(frequency_cap) for everyone who got step " + str(i - 1) + "; give it a delay of "
                    f"at least {cap / 86400:g} days"
                ),
                details={"delay_seconds": delay, "cap_seconds": int(cap)},
            ))
    return out


def _invalid(message: str, code: str, **details: Any) -> Invalid:
    return Invalid(message, code=code, details=details or None)


def _labels(where: str, text: Any, default_language: str) -> dict[str, str]:
    if not isinstance(text, dict) or default_language not in text:
        raise _invalid(f"{where}: a label in {default_language} is required", "invalid_button", where=where)
    out = {}
    for lang, label in text.items():
        if lang not in SUPPORTED_LANGUAGES or not isinstance(label, str) or not 1 <= len(label.strip()) <= 64:
            raise _invalid(
                f"{where}.{lang}: 1-64 characters in a supported language",
                "invalid_button",
                where=f"{where}.{lang}",
            )
        out[lang] = label.strip()
    return out


def _step(
    i: int, step: dict[str, Any], default_language: str
) -> tuple[dict[str, Any], dict[str, templates.Template]]:
    where = f"steps[{i}]"
    delay = int(step.get("delay_seconds") or 0)
    if not 0 <= delay <= MAX_DELAY.total_seconds():
        raise _invalid(f"{where}.delay: 0 to 365 days", "invalid_step", where=where)
    texts = step.get("templates") or {}
    if default_language not in texts:
        raise _invalid(
            f"{where}: a text in the default language ({default_language}) is required",
            "template_missing_language",
            where=f"{where}.templates",
            language=default_language,
        )
    parsed: dict[str, templates.Template] = {}
    for lang, source in texts.items():
        if lang not in SUPPORTED_LANGUAGES:
            raise _invalid(
                f"{where}.templates.{lang}: unsupported language",
                "unsupported_language",
                where=f"{where}.templates.{lang}",
                supported=list(SUPPORTED_LANGUAGES),
            )
        parsed[lang] = templates.parse(str(source), where=f"{where}.templates.{lang}")
    offer = step.get("offer")
    if offer is not None:
        code = offer.get("promo_code")
        pct = offer.get("discount_percent")
        if not isinstance(code, str) or not _PROMO_RE.match(code):
            raise _invalid(f"{where}.offer.promo_code: 1-64 of A-Z a-z 0-9 _ -", "invalid_offer", where=where)
        if pct is not None and (not isinstance(pct, int) or not 1 <= pct <= 90):
            raise _invalid(f"{where}.offer.discount_percent: 1-90", "invalid_offer", where=where)
        offer = {"promo_code": code, "discount_percent": pct}
    for lang, t in parsed.items():
        missing = {
            v
            for v in templates.needs_offer(t)
            if not offer or offer.get(templates.OFFER_VARIABLES[v]) is None
        }
        if missing:
            raise _invalid(
                f"{where}.templates.{lang} uses {{{sorted(missing)[0]}}} but the step has no offer with it",
                "template_needs_offer",
                where=f"{where}.templates.{lang}",
                variables=sorted(missing),
            )
    buttons: list[dict[str, Any]] = []
    for j, b in enumerate(step.get("buttons") or []):
        bw = f"{where}.buttons[{j}]"
        kind = b.get("kind")
        if kind == "exit_interview":
            if any(x["kind"] == "exit_interview" for x in buttons):
                raise _invalid(f"{bw}: one exit_interview per step", "invalid_button", where=bw)
            buttons.append({"kind": kind})
        elif kind == "reply":
            value = b.get("value")
            if not isinstance(value, str) or not _VALUE_RE.match(value):
                raise _invalid(f"{bw}.value: 1-20 of a-z 0-9 _", "invalid_button", where=bw)
            buttons.append(
                {"kind": kind, "value": value, "text": _labels(f"{bw}.text", b.get("text"), default_language)}
            )
        elif kind == "url":
            url = b.get("url")
            if not isinstance(url, str) or not _URL_RE.match(url):
                raise _invalid(f"{bw}.url: an http(s):// or tg:// link", "invalid_button", where=bw)
            buttons.append(
                {"kind": kind, "url": url, "text": _labels(f"{bw}.text", b.get("text"), default_language)}
            )
        else:
            raise _invalid(f"{bw}.kind: one of {', '.join(BUTTON_KINDS)}", "invalid_button", where=bw)
    if len(buttons) > MAX_BUTTONS:
        raise _invalid(f"{where}: at most {MAX_BUTTONS} buttons", "invalid_button", where=where)
    return (
        {
            "delay_seconds": delay,
            "templates": {k: str(v) for k, v in texts.items()},
            "buttons": buttons,
            "offer": offer,
        },
        parsed,
    )


def _window(value: str | None, where: str) -> Window | None:
    if value is None or value.strip().lower() in ("", "any", "off", "none"):
        return None
    try:
        return Window.parse(value)
    except ValueError as exc:
        raise _invalid(f"{where}: {exc}", "invalid_window", where=where) from None


def plan(inp: CampaignInput, *, rules: OutreachRules) -> Plan:
    """Validate and complete a request (playbook defaults, settings defaults); no I/O."""
    if inp.kind not in ("campaign", "message"):
        raise _invalid("kind: campaign or message", "invalid_campaign")
    book = build(inp.playbook, inp.options) if inp.playbook else None
    lang = inp.default_language or rules.default_language
    if lang not in SUPPORTED_LANGUAGES:
        raise _invalid("default_language: unsupported", "unsupported_language")
    raw_steps = list(inp.steps) if inp.steps else (book.steps if book else [])
    if not raw_steps:
        raise _invalid("give steps, or a playbook to take them from", "steps_required")
    if len(raw_steps) > MAX_STEPS:
        raise _invalid(f"at most {MAX_STEPS} steps", "invalid_step")
    steps, parsed = [], []
    for i, raw in enumerate(raw_steps):
        step, p = _step(i, raw, lang)
        steps.append(step)
        parsed.append(p)
    if inp.segment is not None and inp.customer_ids is not None:
        raise _invalid("give a segment or a list of customers, not both", "audience_ambiguous")
    segment = inp.segment
    if segment is None and inp.customer_ids is None:
        if book is None:
            raise _invalid("give a segment or a list of customers", "audience_required")
        segment = SegmentSpec.from_dict(book.segment)
    if inp.customer_ids is not None and not 1 <= len(inp.customer_ids) <= MAX_EXPLICIT:
        raise _invalid(f"1 to {MAX_EXPLICIT} customers", "invalid_audience")
    goal_kind = inp.goal_kind or (book.goal["kind"] if book else "purchase")
    if goal_kind not in GOALS:
        raise _invalid(f"goal.kind: one of {', '.join(GOALS)}", "invalid_goal")
    goal_days = inp.goal_days or (book.goal["days"] if book else rules.default_goal_days)
    if not 1 <= goal_days <= 365:
        raise _invalid("goal.days: 1-365", "invalid_goal")
    exit_on = tuple(inp.exit_on) if inp.exit_on is not None else EXIT_CONDITIONS
    if any(e not in EXIT_CONDITIONS for e in exit_on):
        raise _invalid(f"exit_on: any of {', '.join(EXIT_CONDITIONS)}", "invalid_exit_on")
    window = _window(
        inp.send_window if inp.send_window is not None else (book.window if book else None), "send_window"
    )
    quiet = rules.quiet_hours if inp.quiet_hours is None else _window(inp.quiet_hours, "quiet_hours")
    if not ever_allowed(quiet, window):
        raise _invalid("the send window lies entirely inside quiet hours", "invalid_window")
    holdout = (
        inp.holdout if inp.holdout is not None else (rules.default_holdout if inp.kind == "campaign" else 0.0)
    )
    if not 0 <= holdout <= 0.5:
        raise _invalid("holdout: 0 to 0.5", "invalid_holdout")
    paid = 0
    if inp.paid_max_stars > 0:
        if rules.paid_max_stars <= 0:
            raise _invalid(
                "paid broadcasts are off (OUTREACH_PAID_MAX_STARS is 0)", "paid_broadcast_disabled"
            )
        if inp.paid_max_stars > rules.paid_max_stars:
            raise _invalid(
                f"at most {rules.paid_max_stars} Stars per campaign",
                "paid_budget_exceeded",
                limit=rules.paid_max_stars,
            )
        paid = int(round(inp.paid_max_stars / PAID_STARS_PER_MESSAGE, 6))
    events = list(dict.fromkeys(inp.webhook_events or (WEBHOOK_EVENTS if inp.webhook_url else ())))
    if inp.webhook_url:
        if not re.match(r"^https?://\S+$", inp.webhook_url):
            raise _invalid("webhook.url: an http(s) URL", "invalid_webhook")
        if not inp.webhook_secret or len(inp.webhook_secret) < 16:
            raise _invalid("webhook.secret: at least 16 characters (it signs every call)", "invalid_webhook")
        if any(e not in WEBHOOK_EVENTS for e in events):
            raise _invalid(f"webhook.events: any of {', '.join(WEBHOOK_EVENTS)}", "invalid_webhook")
    return Plan(
        kind=inp.kind,
        name=inp.name,
        playbook=inp.playbook,
        segment=segment,
        customer_ids=tuple(dict.fromkeys(inp.customer_ids)) if inp.customer_ids is not None else None,
        steps=steps,
        parsed=parsed,
        rules={
            "exit_on": list(exit_on),
            "goal": {"kind": goal_kind, "days": goal_days},
            "window": str(window) if window else None,
            "quiet": str(quiet) if quiet else None,
        },
        holdout=holdout,
        default_language=lang,
        paid_max_messages=paid,
        webhook_url=inp.webhook_url,
        webhook_secret=inp.webhook_secret,
        webhook_events=events,
    )


# ------------------------------------------------------------------ views


@dataclass(frozen=True, slots=True)
class StepStats:
    step: int
    queued: int
    sent: int
    failed: int
    skipped: int


@dataclass(frozen=True, slots=True)
class CampaignStats:
    targeted: int
    held_out: int
    treated: int
    in_progress: int
    queued: int
    deferred: int
    inflight: int
    sent: int
    reached: int
    failed: dict[str, int]
    skipped: dict[str, int]
    stopped: dict[str, int]
    uncertain: int
    cancelled: int
    replied: int
    reply_choices: dict[str, int]
    converted: int
    holdout_converted: int
    conversion_rate: float | None
    holdout_conversion_rate: float | None
    uplift_pp: float | None
    uplift_ci: tuple[float, float] | None
    steps: list[StepStats]
    rate_per_second: float | None
    eta_seconds: float | None
    paid_sent: int


@dataclass(frozen=True, slots=True)
class CampaignView:
    id: int
    name: str
    kind: str
    playbook: str | None
    status: str
    segment: dict[str, Any] | None
    steps: list[dict[str, Any]]
    rules: dict[str, Any]
    holdout_share: float
    default_language: str
    targeted: int
    start_at: datetime
    created_at: datetime
    paused_at: datetime | None
    cancelled_at: datetime | None
    completed_at: datetime | None
    paid_max_messages: int
    webhook_url: str | None
    webhook_events: list[str]
    stats: CampaignStats | None = None


def _view(row: Campaign, stats: CampaignStats | None = None) -> CampaignView:
    return CampaignView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        playbook=row.playbook,
        status=row.status,
        segment=row.segment,
        steps=list(row.steps),
        rules=dict(row.rules),
        holdout_share=row.holdout_share,
        default_language=row.default_language,
        targeted=row.targeted,
        start_at=row.start_at,
        created_at=row.created_at,
        paused_at=row.paused_at,
        cancelled_at=row.cancelled_at,
        completed_at=row.completed_at,
        paid_max_messages=row.paid_max_messages,
        webhook_url=row.webhook_url,
        webhook_events=list(row.webhook_events or []),
        stats=stats,
    )


# ------------------------------------------------------------------ creating


_MISSING = {
    "name": and_(Customer.first_name.is_(None), Customer.username.is_(None)),
    "last_product": OutreachStats.last_product.is_(None),
    "days_since_last_order": OutreachStats.last_purchase_at.is_(None),
    "expires_on": OutreachStats.subscription_expires_at.is_(None),
    "cart_items": OutreachStats.cart.is_(None),
}


async def _missing_data(session: AsyncSession, need: set[str], ids: Any) -> dict[str, int]:
    """For each variable without a fallback: how many recipients have no value for it."""
    out = {}
    for name in sorted(need):
        n = await session.scalar(
            select(func.count())
            .select_from(Customer)
            .outerjoin(OutreachStats, OutreachStats.customer_id == Customer.id)
            .where(Customer.id.in_(ids), _MISSING[name])
        )
        if n:
            out[name] = int(n)
    return out


def _missing_error(missing: dict[str, int], of: int) -> Invalid:
    name, n = next(iter(missing.items()))
    return _invalid(
        f"{{{name}}} has no value for {n} of {of} recipients; give it a fallback, e.g. {{{name}|...}}",
        "template_variable_missing",
        missing=missing,
        recipients=of,
    )


async def resolve_customers(session: AsyncSession, *, external_ids: list[str]) -> list[int]:
    """Internal ids for your ids, in order; 404 lists the ones not known."""
    rows = dict(
        (
            await session.execute(
                select(Customer.external_id, Customer.id).where(
                    Customer.external_id.in_(external_ids), Customer.erased_at.is_(None)
                )
            )
        ).all()
    )
    unknown = [e for e in external_ids if e not in rows]
    if unknown:
        raise NotFound(
            f"{len(unknown)} customer(s) not found",
            code="customer_not_found",
            details={"external_ids": unknown[:50]},
        )
    return [int(rows[e]) for e in external_ids]


def holdout_salt(idempotency_key: str | None) -> str:
    """Random per campaign; derived from the idempotency key when there is one, so the same
    request always splits the audience the same way."""
    if idempotency_key:
        return hashlib.sha256(b"holdout:" + idempotency_key.encode()).hexdigest()[:16]
    return secrets.token_hex(8)


async def _existing(session: AsyncSession, key: str, fingerprint: str) -> CampaignView | None:
    row = (
        await session.execute(select(Campaign).where(Campaign.idempotency_key == key))
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict(
            "this idempotency key was already used with a different request",
            code="idempotency_conflict",
            details={"idempotency_key": key, "campaign_id": row.id},
        )
    return _view(row)


async def create_campaign(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: OutreachRules,
    inp: CampaignInput,
    idempotency_key: str | None = None,
) -> tuple[CampaignView, bool]:
    """Create the campaign, pick its audience and queue step 1; returns (campaign, created).

    The same idempotency key with the same request returns the first campaign; with another
    request it is a conflict.
    """
    fingerprint = inp.fingerprint()
    if idempotency_key:
        found = await _existing(session, idempotency_key, fingerprint)
        if found is not None:
            return found, False
    p = plan(inp, rules=rules)
    now = clock.now()
    start = max(inp.start_at or now, now)
    row = Campaign(
        name=p.name,
        kind=p.kind,
        playbook=p.playbook,
        status="running",
        segment=p.segment.to_dict() if p.segment else None,
        steps=p.steps,
        rules=p.rules,
        default_language=p.default_language,
        holdout_share=p.holdout,
        holdout_salt=holdout_salt(idempotency_key),
        paid_broadcast=p.paid_max_messages > 0,
        paid_max_messages=p.paid_max_messages,
        paid_sent=0,
        webhook_url=p.webhook_url,
        webhook_secret=p.webhook_secret,
        webhook_events=p.webhook_events,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        targeted=0,
        start_at=start,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same key at the same moment
        assert idempotency_key is not None
        found = await _existing(session, idempotency_key, fingerprint)
        assert found is not None
        return found, False

    first_at = start + timedelta(seconds=p.steps[0]["delay_seconds"])
    row.start_at = first_at
    immediate = first_at <= now
    targeted = 0
    if p.customer_ids is not None:
        known = set(
            (
                await session.execute(
                    select(Customer.id).where(Customer.id.in_(p.customer_ids), Customer.erased_at.is_(None))
                )
            ).scalars()
        )
        missing = [c for c in p.customer_ids if c not in known]
        if missing:
            raise NotFound(
                f"{len(missing)} customer(s) not found",
                code="customer_not_found",
                details={"customer_ids": missing[:50]},
            )
        targeted = await _add_recipients(session, row, list(p.customer_ids), now=now, immediate=immediate)
    else:
        assert p.segment is not None
        async for ids in segments.iter_ids(
            session, p.segment, now=now, rules=rules, default_language=p.default_language
        ):
            targeted += await _add_recipients(session, row, ids, now=now, immediate=immediate)
    row.targeted = targeted
    need = p.needs_data
    if need:
        treated = select(CampaignRecipient.customer_id).where(
            CampaignRecipient.campaign_id == row.id, CampaignRecipient.holdout.is_(False)
        )
        missing_vars = await _missing_data(session, need, treated)
        if missing_vars:
            raise _missing_error(missing_vars, targeted)
    if immediate:
        await _queue_first_step(session, row, now)
    await session.flush()
    return _view(row), True


async def _add_recipients(
    session: AsyncSession, campaign: Campaign, ids: list[int], *, now: datetime, immediate: bool
) -> int:
    rows = []
    for cid in ids:
        held = in_holdout(campaign.holdout_salt, cid, campaign.holdout_share)
        rows.append(
            {
                "campaign_id": campaign.id,
                "customer_id": cid,
                "holdout": held,
                "status": "held_out" if held else ("queued" if immediate else "active"),
                "step": 0,
                "next_at": None if held else campaign.start_at,
                "targeted_at": now,
                "sent_steps": 0,
            }
        )
    for start in range(0, len(rows), INSERT_CHUNK):
        await session.execute(insert(CampaignRecipient), rows[start : start + INSERT_CHUNK])
    return len(rows)


async def _queue_first_step(session: AsyncSession, campaign: Campaign, now: datetime) -> None:
    """Step 1 for every treated recipient in one INSERT ... SELECT (best prospects first)."""
    R = CampaignRecipient
    await session.execute(
        insert(OutboxMessage).from_select(
            [
                "campaign_id",
                "recipient_id",
                "customer_id",
                "step",
                "status",
                "not_before",
                "attempts",
                "defer_count",
                "created_at",
            ],
            select(
                literal(campaign.id),
                R.id,
                R.customer_id,
                literal(0),
                literal("queued"),
                literal(now, OutboxMessage.not_before.type),
                literal(0),
                literal(0),
                literal(now, OutboxMessage.created_at.type),
            )
            .where(R.campaign_id == campaign.id, R.status == "queued")
            .order_by(R.id),
        )
    )
    wake(session, "outbox")  # the delivery worker starts when this commits


# ------------------------------------------------------------------ dry run


@dataclass(frozen=True, slots=True)
class RenderedSample:
    customer_id: int
    external_id: str | None
    language: str
    steps: list[str]


@dataclass(frozen=True, slots=True)
class DryRun:
    audience: int
    contactable: int
    holdout_expected: int
    missing_data: dict[str, int]
    samples: list[RenderedSample]
    steps: list[dict[str, Any]]
    rules: dict[str, Any]


def render_step(
    step_parsed: dict[str, templates.Template], default_language: str, lang: str, values: dict[str, Any]
) -> str:
    template = step_parsed.get(lang) or step_parsed[default_language]
    return template.render(values)


async def dry_run(
    session: AsyncSession, *, clock: Clock, rules: OutreachRules, inp: CampaignInput, sample_size: int = 5
) -> DryRun:
    """What the campaign would do, sending and storing nothing."""
    p = plan(inp, rules=rules)
    now = clock.now()
    if p.customer_ids is not None:
        ids_select: Any = select(Customer.id).where(
            Customer.id.in_(p.customer_ids), Customer.erased_at.is_(None)
        )
        total = int(await session.scalar(select(func.count()).select_from(ids_select.subquery())) or 0)
        reach = int(
            await session.scalar(
                select(func.count()).select_from(ids_select.where(*segments.contactable()).subquery())
            )
            or 0
        )
        sample_ids = list(
            (await session.execute(ids_select.order_by(Customer.id).limit(sample_size))).scalars()
        )
    else:
        assert p.segment is not None
        pv = await segments.preview(
            session,
            p.segment,
            now=now,
            rules=rules,
            default_language=p.default_language,
            sample_size=sample_size,
        )
        total, reach = pv.count, pv.contactable
        sample_ids = [s.customer_id for s in pv.sample]
        ids_select = segments.audience(p.segment, now=now, rules=rules, default_language=p.default_language)
    missing = await _missing_data(session, p.needs_data, ids_select) if p.needs_data else {}
    facts = await load(session, customer_ids=sample_ids, now=now, rules=rules)
    samples = []
    for cid in sample_ids:
        if cid not in facts:
            continue
        customer, stats, balance = facts[cid]
        lang = customer.language or p.default_language
        rendered = [
            render_step(
                parsed,
                p.default_language,
                lang,
                values_for(customer, stats, now=now, rules=rules, balance=balance, offer=step["offer"]),
            )
            for parsed, step in zip(p.parsed, p.steps, strict=True)
        ]
        samples.append(RenderedSample(cid, customer.external_id, lang, rendered))
    return DryRun(total, reach, round(total * p.holdout), missing, samples, p.steps, p.rules)


# ------------------------------------------------------------------ controlling


async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    row = await session.get(Campaign, campaign_id)
    if row is None:
        raise NotFound("campaign not found", code="campaign_not_found")
    return row


def _wrong_state(row: Campaign, action: str) -> Conflict:
    return Conflict(
        f"a {row.status} campaign cannot be {action}", code="campaign_state", details={"status": row.status}
    )


async def pause(session: AsyncSession, *, clock: Clock, campaign_id: int) -> CampaignView:
    """Hold every message not yet on the wire; nothing is lost, resume sends them."""
    row = await _campaign(session, campaign_id)
    if row.status == "paused":
        return _view(row)
    if row.status != "running":
        raise _wrong_state(row, "paused")
    row.status, row.paused_at, row.updated_at = "paused", clock.now(), clock.now()
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "queued")
        .values(status="held")
    )
    await session.flush()
    return _view(row)


async def resume(session: AsyncSession, *, clock: Clock, campaign_id: int) -> CampaignView:
    row = await _campaign(session, campaign_id)
    if row.status == "running":
        return _view(row)
    if row.status != "paused":
        raise _wrong_state(row, "resumed")
    row.status, row.paused_at, row.updated_at = "running", None, clock.now()
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == "held")
        .values(status="queued")
    )
    wake(session, "outbox")
    await session.flush()
    return _view(row)


async def cancel(session: AsyncSession, *, clock: Clock, campaign_id: int) -> CampaignView:
    """Stop for good: nothing more is sent (messages already on the wire still land)."""
    row = await _campaign(session, campaign_id)
    if row.status == "cancelled":
        return _view(row)
    if row.status == "completed":
        raise _wrong_state(row, "cancelled")
    now = clock.now()
    row.status, row.cancelled_at, row.updated_at = "cancelled", now, now
    await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status.in_(IN_PROGRESS))
        .values(status="cancelled", stop_reason="cancelled", next_at=None)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.status.in_(("queued", "held")))
        .values(status="cancelled", error_code="cancelled")
    )
    await session.flush()
    return _view(row)


# ------------------------------------------------------------------ reading


async def get_campaign(
    session: AsyncSession, *, clock: Clock, campaign_id: int, with_stats: bool = True
) -> CampaignView:
    """The campaign and, by default, its delivery and conversion figures."""
    row = await _campaign(session, campaign_id)
    return _view(row, await campaign_stats(session, campaign=row, now=clock.now()) if with_stats else None)


async def list_campaigns(
    session: AsyncSession, *, limit: int = 50, after_id: int = 0, status: str | None = None
) -> list[CampaignView]:
    stmt = select(Campaign).where(Campaign.id > after_id).order_by(Campaign.id).limit(limit)
    if status:
        stmt = stmt.where(Campaign.status == status)
    return [_view(r) for r in (await session.execute(stmt)).scalars()]


async def campaign_stats(session: AsyncSession, *, campaign: Campaign, now: datetime) -> CampaignStats:
    """Targeted, held out, queued, sent, failed and skipped by reason, replies, conversions, uplift."""
    R, Ob = CampaignRecipient, OutboxMessage
    rec = (
        await session.execute(
            select(
                R.status,
                R.holdout,
                R.stop_reason,
                func.count(),
                func.count(R.replied_at),
                func.count(R.converted_at),
                func.count(R.first_sent_at),
            )
            .where(R.campaign_id == campaign.id)
            .group_by(R.status, R.holdout, R.stop_reason)
        )
    ).all()
    targeted = held = in_progress = replied = converted = holdout_converted = reached = 0
    stopped: Counter[str] = Counter()
    for status, holdout, reason, n, n_replied, n_conv, n_reached in rec:
        targeted += n
        reached += n_reached
        if holdout:
            held += n
            holdout_converted += n_conv
            continue
        converted += n_conv
        replied += n_replied
        if status in IN_PROGRESS:
            in_progress += n
        elif status not in ("done", "held_out"):
            stopped[reason or status] += n
    choices = {
        str(choice): int(n)
        for choice, n in (
            await session.execute(
                select(R.reply_choice, func.count())
                .where(R.campaign_id == campaign.id, R.reply_choice.is_not(None))
                .group_by(R.reply_choice)
            )
        ).all()
    }
    out = (
        await session.execute(
            select(
                Ob.step,
                Ob.status,
                Ob.error_code,
                func.count(),
                func.sum(case((Ob.not_before > now, 1), else_=0)),
                func.sum(
                    case((and_(Ob.status == "sent", Ob.sent_at >= now - timedelta(seconds=60)), 1), else_=0)
                ),
            )
            .where(Ob.campaign_id == campaign.id)
            .group_by(Ob.step, Ob.status, Ob.error_code)
        )
    ).all()
    per_step: dict[int, Counter[str]] = defaultdict(Counter)
    failed: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    deferred = recent = 0
    for step, status, code, n, later, last_minute in out:
        totals[status] += n
        per_step[step][status] += n
        recent += int(last_minute or 0)
        if status == "failed":
            failed[code or "unknown"] += n
        elif status == "skipped":
            skipped[code or "unknown"] += n
        elif status in ("queued", "held"):
            deferred += int(later or 0)
    treated = targeted - held
    up = uplift(converted, treated, holdout_converted, held)
    queued = totals["queued"] + totals["held"] + totals["claimed"]
    rate = recent / 60 if recent else None
    return CampaignStats(
        targeted=targeted,
        held_out=held,
        treated=treated,
        in_progress=in_progress,
        queued=queued,
        deferred=deferred,
        inflight=totals["inflight"],
        sent=totals["sent"],
        reached=reached,
        failed=dict(failed),
        skipped=dict(skipped),
        stopped=dict(stopped),
        uncertain=totals["uncertain"],
        cancelled=totals["cancelled"],
        replied=replied,
        reply_choices=choices,
        converted=converted,
        holdout_converted=holdout_converted,
        conversion_rate=up.treated_rate,
        holdout_conversion_rate=up.control_rate,
        uplift_pp=up.uplift,
        uplift_ci=(up.ci_low, up.ci_high) if up.ci_low is not None and up.ci_high is not None else None,
        steps=[
            StepStats(s, c["queued"] + c["held"] + c["claimed"], c["sent"], c["failed"], c["skipped"])
            for s, c in sorted(per_step.items())
        ],
        rate_per_second=rate,
        eta_seconds=(queued - deferred) / rate if rate else None,
        paid_sent=campaign.paid_sent,
    )


@dataclass(frozen=True, slots=True)
class RecipientView:
    id: int
    customer_id: int
    external_id: str | None
    holdout: bool
    status: str
    step: int
    sent_steps: int
    next_at: datetime | None
    stop_reason: str | None
    replied_at: datetime | None
    reply_choice: str | None
    converted_at: datetime | None


async def list_recipients(
    session: AsyncSession,
    *,
    campaign_id: int,
    status: str | None = None,
    limit: int = 100,
    after_id: int = 0,
) -> list[RecipientView]:
    await _campaign(session, campaign_id)
    R = CampaignRecipient
    stmt = (
        select(R, Customer.external_id)
        .join(Customer, Customer.id == R.customer_id)
        .where(R.campaign_id == campaign_id, R.id > after_id)
        .order_by(R.id)
        .limit(limit)
    )
    if status:
        stmt = stmt.where(R.status == status)
    return [
        RecipientView(
            r.id,
            r.customer_id,
            ext,
            r.holdout,
            r.status,
            r.step,
            r.sent_steps,
            r.next_at,
            r.stop_reason,
            r.replied_at,
            r.reply_choice,
            r.converted_at,
        )
        for r, ext in (await session.execute(stmt)).all()
    ]
