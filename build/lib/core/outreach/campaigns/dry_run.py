"""A dry run: the audience, the data it lacks and sample texts, sending and storing nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.outreach import segments, templates
from core.outreach.campaigns.create import _missing_data
from core.outreach.campaigns.plan import CampaignInput, plan
from core.outreach.rules import OutreachRules
from core.outreach.variables import load, values_for
from storage.models import Customer


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
