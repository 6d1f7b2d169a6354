"""Campaign requests: validated and completed (playbook, then settings defaults) into a plan; no I/O."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.customers import SUPPORTED_LANGUAGES
from core.errors import Invalid
from core.outreach import templates
from core.outreach.playbooks import PlaybookOptions, build
from core.outreach.rules import PAID_STARS_PER_MESSAGE, OutreachRules, ever_allowed
from core.outreach.segments import SegmentSpec
from core.outreach.sequences import EXIT_CONDITIONS, GOALS
from core.outreach.webhooks import EVENTS as WEBHOOK_EVENTS
from core.outreach.window import Window

MAX_STEPS = 10
MAX_BUTTONS = 8
MAX_DELAY = timedelta(days=365)
MAX_EXPLICIT = 5_000
BUTTON_KINDS = ("exit_interview", "reply", "url")
_VALUE_RE = re.compile(r"^[a-z0-9_]{1,20}$")
_PROMO_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_URL_RE = re.compile(r"^(https?|tg)://\S{1,2000}$")


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
            out.append(
                PlanWarning(
                    code="step_blocked_by_frequency_cap",
                    step=i,
                    message=(
                        f"step {i} is due {delay / 86400:g} days after step {i - 1}, within the "
                        f"{cap / 86400:g}-day frequency cap (PROACTIVE_CAP_DAYS): it will be skipped "
                        "(frequency_cap) for everyone who got step " + str(i - 1) + "; give it a delay of "
                        f"at least {cap / 86400:g} days"
                    ),
                    details={"delay_seconds": delay, "cap_seconds": int(cap)},
                )
            )
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
