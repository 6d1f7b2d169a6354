"""/stats [week|month|quarter|2025-06|2025-Q2|2025-W23] in the staff group: figures and charts.

Staff only (members of the support group or ADMIN_IDS). The reply is a short summary, then the
charts as one album: retention cohort heatmap, NPS trend, exit reasons, campaign uplift (those
with data). Charts are drawn in a worker thread so the event loop keeps serving customers.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, InputMediaPhoto, Message

from core.analytics import periods, summary
from core.errors import DomainError
from dialogs.flow import Flow, Turn, on_message
from dialogs.handoff.staff import StaffGroup, is_staff
from dialogs.i18n import Translator
from dialogs.loyalty.format import money
from dialogs.stats import charts

log = logging.getLogger(__name__)
CAPTION_LIMIT = 1024
FILE_NAMES = {
    charts.Heatmap: "cohorts",
    charts.Trend: "nps",
    charts.Bars: "exit_reasons",
    charts.Intervals: "uplift",
}


# ------------------------------------------------------------------ renderers


def pct(t: Translator, value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return t("stats-no-data")
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def num(t: Translator, value: float | None, fmt: str = ".2f") -> str:
    return t("stats-no-data") if value is None else format(value, fmt)


def points_change(t: Translator, value: float | None) -> str:
    return t("stats-no-data") if value is None else t("stats-pp", value=f"{value:+.1f}")


def cash(t: Translator, minor: float | None, currency: str) -> str:
    return t("stats-no-data") if minor is None else money(t, round(minor), currency)


def duration(t: Translator, seconds: float | None) -> str:
    if seconds is None:
        return t("stats-no-data")
    s = round(seconds)
    if s < 60:
        return t("stats-duration-s", s=s)
    if s < 3600:
        return t("stats-duration-m", m=s // 60, s=s % 60)
    return t("stats-duration-h", h=s // 3600, m=s % 3600 // 60)


def summary_text(t: Translator, data: summary.ChartData, *, currency: str) -> str:
    """The figures staff read first, one line per topic."""
    s = data.summary
    p, r, rc, sup, nps = s.range.periods[0], s.retention, s.revenue_churn, s.support, s.nps.overall
    lines = [
        t("stats-title" if p.complete else "stats-title-partial", period=p.label, tz=s.range.timezone),
        t(
            "stats-customers",
            start=r.customers_start,
            end=r.customers_end,
            new=r.new_customers,
            back=r.reactivated_customers,
            lost=r.lost_customers,
        ),
        t(
            "stats-rates",
            crr=pct(t, r.crr_percent),
            churn=pct(t, r.churn_rate_percent),
            growth=pct(t, r.customer_growth_percent, signed=True),
        ),
        t("stats-revenue-churn", value=pct(t, rc.revenue_churn_percent), days=s.active_days),
        t(
            "stats-purchases",
            orders=r.orders,
            rpr=pct(t, r.repeat_purchase_rate_percent),
            frequency=num(t, r.purchase_frequency),
            aov=cash(t, r.average_order_value_minor, currency),
        ),
        t("stats-ltv", ltv=cash(t, r.ltv_minor, currency)),
        t("stats-nps", nps=num(t, nps.nps, "+.1f"), n=nps.responses),
        t(
            "stats-csat",
            average=num(t, sup.csat_average, ".1f"),
            satisfied=pct(t, sup.csat_satisfied_percent),
            n=sup.csat_responses,
        ),
        t(
            "stats-first-reply",
            median=duration(t, sup.first_response_median_seconds),
            p90=duration(t, sup.first_response_p90_seconds),
        ),
        t("stats-faq", value=pct(t, sup.faq_deflection_percent), n=sup.faq_questions),
    ]
    if s.exits.reasons:
        reasons = ", ".join(
            f"{t(f'exit-reason-{x.reason}')} {x.share_percent:.0f}%" for x in s.exits.reasons[:4]
        )
        lines.append(t("stats-exits", reasons=reasons))
    if s.campaigns.campaigns:
        lines.append(t("stats-campaigns"))
        for c in s.campaigns.campaigns[:5]:
            lines.append(
                t(
                    "stats-campaign",
                    name=c.name,
                    rate=pct(t, c.win_back_rate_percent),
                    holdout=pct(t, c.holdout_rate_percent),
                    uplift=points_change(t, c.uplift_points),
                    low=num(t, c.uplift_ci_low, "+.1f"),
                    high=num(t, c.uplift_ci_high, "+.1f"),
                )
            )
    return "\n".join(lines)


def chart_specs(t: Translator, data: summary.ChartData) -> list[charts.Chart]:
    """What to draw; a chart without data is left out."""
    out: list[charts.Chart] = []
    rows = [(r.period.label, r.customers, r.retention_percent) for r in data.cohorts.rows]
    if any(size for _, size, _ in rows):
        out.append(
            charts.Heatmap(
                t("stats-chart-cohorts"), t("stats-chart-cohorts-x"), t("stats-chart-cohorts-y"), rows
            )
        )
    points = [(p.period.label, p.nps, p.responses) for p in data.nps_trend.points]
    if any(n for _, _, n in points):
        out.append(charts.Trend(t("stats-chart-nps"), t("stats-chart-nps-answers"), points))
    reasons = data.summary.exits.reasons
    if reasons:
        out.append(
            charts.Bars(t("stats-chart-exits"), [(t(f"exit-reason-{r.reason}"), r.count) for r in reasons])
        )
    camps = [
        c
        for c in data.summary.campaigns.campaigns
        if c.uplift_points is not None and c.uplift_ci_low is not None and c.uplift_ci_high is not None
    ]
    if camps:
        out.append(
            charts.Intervals(
                t("stats-chart-uplift"),
                [
                    (c.name[:40], c.uplift_points, c.uplift_ci_low, c.uplift_ci_high)  # type: ignore[misc]
                    for c in camps[:10]
                ],
            )
        )
    return out


def album(specs: list[charts.Chart], images: list[bytes]) -> list[InputMediaPhoto]:
    """The drawn charts as one album, each captioned with its title."""
    return [
        InputMediaPhoto(
            media=BufferedInputFile(png, filename=f"{FILE_NAMES[type(spec)]}.png"),
            caption=spec.title[:CAPTION_LIMIT],
        )
        for spec, png in zip(specs, images, strict=True)
    ]


# ------------------------------------------------------------------ callbacks


async def on_stats(message: Message, command: CommandObject, turn: Turn) -> None:
    """/stats [period] from staff: the figures, then the charts (in the staff's language)."""
    settings = turn.settings
    t = turn.ctx.i18n(settings.staff_language)
    bot = message.bot
    user = message.from_user
    if bot is None or user is None or not await is_staff(bot, settings, message.chat.id, user.id):
        await message.reply(t("staff-refused"))
        return
    tz = settings.analytics_timezone or settings.business_timezone
    try:
        rng = periods.parse(
            command.args, default=settings.analytics_stats_period, timezone=tz, now=turn.clock.now()
        )
    except DomainError:
        await message.reply(t("stats-bad-period", arg=(command.args or "").strip()[:40]))
        return
    try:
        # A read, over before talking to Telegram.
        data = await turn.uow.read(
            summary.chart_data,
            rng=rng,
            active_days=settings.analytics_active_days,
            clock=turn.clock,
            exit_rules=turn.rules.exit,
            lookback=settings.analytics_chart_periods,
        )
    except DomainError as exc:
        await message.reply(t("stats-failed", reason=exc.message))
        return
    await message.reply(summary_text(t, data, currency=settings.loyalty_currency))
    await send_charts(bot, message, t, chart_specs(t, data))


async def send_charts(bot: Bot, message: Message, t: Translator, specs: list[charts.Chart]) -> None:
    """Draw the charts in a worker thread (the event loop keeps serving customers) and post
    them in the /stats topic; a chart that fails to draw leaves the figures standing."""
    thread = message.message_thread_id if message.is_topic_message else None
    if not specs:
        await bot.send_message(message.chat.id, t("stats-no-charts"), message_thread_id=thread)
        return
    try:
        images = await asyncio.to_thread(charts.render, specs)
    except Exception:  # matplotlib missing or a drawing bug: the figures above still stand
        log.exception("stats charts failed")
        await bot.send_message(message.chat.id, t("stats-charts-failed"), message_thread_id=thread)
        return
    media = album(specs, images)
    if len(media) == 1:
        await bot.send_photo(
            message.chat.id, media[0].media, caption=media[0].caption, message_thread_id=thread
        )
    else:
        await bot.send_media_group(
            message.chat.id,
            media=media,  # type: ignore[arg-type]  # list invariance
            message_thread_id=thread,
        )


# ------------------------------------------------------------------ the flow

# chats=None: /stats is read in the configured staff groups only (StaffGroup), as it always was.
flow = Flow(
    "stats",
    chats=None,
    doc="/stats for staff: the retention figures and charts in the staff group.",
    on=[on_message(on_stats, StaffGroup(), Command("stats"), when="/stats [period] (staff)")],
)
router = flow.router
