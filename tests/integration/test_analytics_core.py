"""Analytics on a real database (SQLite and PostgreSQL): hand-built shops, answers worked out here.

The seed helpers are reused by tests/api/test_analytics_api.py and tests/e2e/test_stats.py.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.analytics import engagement, periods, retention, summary
from core.clock import FrozenClock
from core.exit_interview.rules import ExitRules
from storage.models import Customer
from storage.models_loyalty import ExitInterview, Order, Survey
from storage.models_outreach import Campaign, CampaignRecipient
from storage.models_support import FaqQuery, SupportCase

NOW = datetime(2025, 7, 15, 12, tzinfo=UTC)
_ids = itertools.count(1)


def d(month: int, day: int, year: int = 2025, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def add_customers(session: AsyncSession, n: int, *, at: datetime = NOW) -> list[int]:
    first = next(_ids)
    rows = [
        {
            "external_id": f"an-{first}-{i}",
            "created_at": at,
            "updated_at": at,
            "attributes": {},
            "language_chosen": False,
            "opted_in": True,
            "reachable": True,
        }
        for i in range(n)
    ]
    result = await session.execute(insert(Customer).returning(Customer.id), rows)
    return [int(x) for x in result.scalars()]


async def add_orders(
    session: AsyncSession,
    customer_id: int,
    *times: datetime,
    amount: int = 100,
    status: str = "completed",
    refunded: int = 0,
) -> None:
    rows = [
        {
            "external_id": f"o-{next(_ids)}",
            "customer_id": customer_id,
            "amount_minor": amount,
            "currency": "USD",
            "base_amount_minor": amount,
            "refunded_minor": refunded,
            "base_refunded_minor": refunded,
            "status": status,
            "points_earned": 0,
            "placed_at": at,
            "created_at": at,
            "updated_at": at,
        }
        for at in times
    ]
    await session.execute(insert(Order), rows)


async def seed_product_md_example(session: AsyncSession) -> dict[str, list[int]]:
    """PRODUCT.md: S = 50 on June 1, 25 new in June, 40 of the 50 order again: E = 65 (W = 90)."""
    retained = await add_customers(session, 40)
    lost = await add_customers(session, 10)
    new = await add_customers(session, 25)
    for cid in retained:
        await add_orders(session, cid, d(3, 15), d(6, 10))
    for cid in lost:  # March 20: active on June 1, not on July 1
        await add_orders(session, cid, d(3, 20), amount=300)
    for cid in new:
        await add_orders(session, cid, d(6, 5), amount=80)
    return {"retained": retained, "lost": lost, "new": new}


def june(tz: str = "UTC") -> periods.PeriodRange:
    return periods.build(
        granularity="month", timezone=tz, now=NOW, start=date(2025, 6, 1), end=date(2025, 7, 1)
    )


async def test_product_md_example_refunds_and_cancellations(sessionmaker) -> None:
    async with sessionmaker() as s:
        groups = await seed_product_md_example(s)
        # Noise that must not count: a cancelled and a fully refunded June order of a lost customer,
        # and a customer whose only order was cancelled.
        lost0 = groups["lost"][0]
        await add_orders(s, lost0, d(6, 20), status="cancelled")
        await add_orders(s, lost0, d(6, 21), status="refunded", refunded=100)
        (ghost,) = await add_customers(s, 1)
        await add_orders(s, ghost, d(6, 2), status="cancelled")
        # A partially refunded order counts, with its net amount (100 - 30).
        await add_orders(s, groups["new"][0], d(6, 25), status="partially_refunded", refunded=30)
        await s.commit()
    async with sessionmaker() as s:
        report = await retention.retention_report(s, rng=june(), active_days=90)
        (row,) = report.rows
        assert (
            row.customers_start,
            row.customers_end,
            row.new_customers,
            row.reactivated_customers,
            row.retained_customers,
            row.lost_customers,
        ) == (50, 65, 25, 0, 40, 10)
        assert row.crr_percent == pytest.approx(80.0) and row.churn_rate_percent == pytest.approx(20.0)
        assert row.customer_growth_percent == pytest.approx(30.0)
        # June: 40 x 100 + 25 x 80 + (100 - 30); 66 orders by 65 buyers, one of them twice.
        assert (row.orders, row.buyers, row.repeat_buyers) == (66, 65, 1)
        assert row.revenue_minor == 4000 + 2000 + 70
        assert row.repeat_purchase_rate_percent == pytest.approx(100 / 65)
        assert row.average_order_value_minor == pytest.approx(6070 / 66)
        assert row.ltv_minor == pytest.approx(6070 / 66 * 66 / 65 * 5)

        churn = (await retention.revenue_churn_report(s, rng=june(), active_days=90)).rows[0]
        # Window [March 3, June 1): 40 x 100 + 10 x 300; the lost ten took their 3000 with them.
        assert (churn.base_revenue_minor, churn.lost_revenue_minor, churn.lost_customers) == (7000, 3000, 10)
        assert churn.revenue_churn_percent == pytest.approx(3000 / 7000 * 100)
        assert churn.window_start == d(3, 3, hour=0)

        cohorts = await retention.cohort_report(
            s,
            rng=periods.build(
                granularity="month", timezone="UTC", now=NOW, start=date(2025, 3, 1), end=date(2025, 7, 1)
            ),
        )
        assert [(r.period.label, r.customers, r.active) for r in cohorts.rows] == [
            ("2025-03", 50, [50, 0, 0, 40]),
            ("2025-04", 0, [0, 0, 0]),
            ("2025-05", 0, [0, 0]),
            ("2025-06", 25, [25]),
        ]
        assert cohorts.rows[0].retention_percent == [100.0, 0.0, 0.0, 80.0]
        assert cohorts.rows[1].retention_percent == [None, None, None]
        if s.bind.dialect.name == "sqlite":
            # The heavy reads ran outside the session: no BEGIN IMMEDIATE, no write lock held.
            assert not s.in_transaction()


async def test_empty_period_and_left_and_came_back(sessionmaker) -> None:
    async with sessionmaker() as s:
        report = await retention.retention_report(s, rng=june(), active_days=30)
        assert report.rows[0].no_data and report.rows[0].crr_percent is None
        churn = await retention.revenue_churn_report(s, rng=june(), active_days=30)
        assert churn.rows[0].revenue_churn_percent is None
        cohorts = await retention.cohort_report(s, rng=june())
        assert cohorts.rows[0].customers == 0 and cohorts.rows[0].retention_percent == [None]

        back, lapsed, gone = await add_customers(s, 3)
        await add_orders(s, back, d(5, 20), d(6, 25))  # lapsed June 19, back June 25: retained
        await add_orders(s, lapsed, d(1, 10), d(6, 10))  # January, then June: reactivated
        await add_orders(s, gone, d(5, 25))  # lost
        await s.commit()
        (row,) = (await retention.retention_report(s, rng=june(), active_days=30)).rows
        assert (
            row.customers_start,
            row.customers_end,
            row.retained_customers,
            row.lost_customers,
            row.new_customers,
            row.reactivated_customers,
        ) == (2, 2, 1, 1, 0, 1)
        assert row.crr_percent == pytest.approx(50.0)


async def test_period_boundaries_follow_the_time_zone(sessionmaker) -> None:
    async with sessionmaker() as s:
        a, b = await add_customers(s, 2)
        # 21:30 UTC on May 31 is 00:30 on June 1 in Moscow (UTC+3).
        await add_orders(s, a, d(5, 31, hour=21, minute=30))
        # 22:30 UTC on June 30 is 01:30 on July 1 in Moscow.
        await add_orders(s, b, d(6, 30, hour=22, minute=30))
        await s.commit()
        rng = periods.build(
            granularity="month",
            timezone="Europe/Moscow",
            now=NOW,
            start=date(2025, 5, 1),
            end=date(2025, 8, 1),
        )
        may, jun, jul = (await retention.retention_report(s, rng=rng, active_days=90)).rows
        assert (may.orders, jun.orders, jul.orders) == (0, 1, 1)
        assert (jun.new_customers, jul.new_customers) == (1, 1)
        utc = periods.build(
            granularity="month", timezone="UTC", now=NOW, start=date(2025, 5, 1), end=date(2025, 8, 1)
        )
        may, jun, jul = (await retention.retention_report(s, rng=utc, active_days=90)).rows
        assert (may.orders, jun.orders, jul.orders) == (1, 1, 0)
        cohorts = await retention.cohort_report(s, rng=rng)
        assert [r.customers for r in cohorts.rows] == [0, 1, 1]


async def seed_engagement(session: AsyncSession) -> dict[str, int]:
    """NPS answers, rated and answered cases, FAQ questions, exit interviews and a campaign in June."""
    cids = await add_customers(session, 12)
    for i, (score, tier) in enumerate(
        [(10, "vip"), (9, "vip"), (9, "regular"), (8, "regular"), (3, "regular"), (0, "one_time")]
    ):
        cat = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        session.add(
            Survey(
                customer_id=cids[i],
                trigger="api",
                status="answered",
                not_before=d(6, 1),
                sent_at=d(6, 1),
                score=score,
                category=cat,
                tier=tier,
                answered_at=d(6, 2 + i),
                created_at=d(6, 1),
            )
        )
    session.add(
        Survey(
            customer_id=cids[6],
            trigger="menu",
            status="answered",
            not_before=d(5, 1),
            sent_at=d(5, 1),
            score=2,
            category="detractor",
            tier="regular",
            answered_at=d(5, 3),
            created_at=d(5, 1),
        )
    )
    # Cases opened in June: first replies after 60, 120, 300 and 600 seconds; one never answered.
    for n, (wait, score) in enumerate([(60, 5), (120, 4), (300, 2), (600, None), (None, None)]):
        opened = d(6, 10 + n)
        session.add(
            SupportCase(
                customer_id=cids[n],
                number=1,
                status="closed",
                origin="command",
                group_chat_id=-100,
                opened_at=opened,
                first_staff_reply_at=opened + timedelta(seconds=wait) if wait else None,
                csat_score=score,
                csat_at=opened + timedelta(hours=1) if score else None,
            )
        )
    # FAQ: 4 answers shown in June, one marked unhelpful, one escalated; one question unanswered.
    for result, helpful, escalated in [
        ("answer", True, False),
        ("answer", None, False),
        ("answer", False, False),
        ("answer", None, True),
        ("none", None, False),
    ]:
        session.add(
            FaqQuery(
                language="en",
                text="q",
                normalized="q",
                result=result,
                helpful=helpful,
                escalated=escalated,
                created_at=d(6, 12),
            )
        )
    for i, reason in enumerate(["price", "price", "feature", "support"]):
        session.add(
            ExitInterview(
                customer_id=cids[i],
                source="api",
                status="answered",
                not_before=d(6, 3),
                sent_at=d(6, 3),
                reason=reason,
                answered_at=d(6, 3),
                created_at=d(6, 3),
                handed_over=False,
            )
        )
    camp = Campaign(
        name="Win-back June",
        kind="campaign",
        playbook="winback",
        status="completed",
        steps=[{"text": "x"}],
        rules={"goal": {"kind": "purchase", "days": 30}},
        default_language="en",
        holdout_share=0.5,
        holdout_salt="s",
        targeted=0,
        start_at=d(6, 1),
        created_at=d(6, 1),
        updated_at=d(6, 1),
        completed_at=d(6, 20),
    )
    session.add(camp)
    await session.flush()
    # 100 treated, 30 bought again; 100 in the holdout, 10 did.
    people = await add_customers(session, 200)
    await session.execute(
        insert(CampaignRecipient),
        [
            {
                "campaign_id": camp.id,
                "customer_id": cid,
                "holdout": i >= 100,
                "status": "held_out" if i >= 100 else "done",
                "targeted_at": d(6, 1),
                "first_sent_at": None if i >= 100 else d(6, 1),
                "converted_at": d(6, 9) if (i < 30 or 100 <= i < 110) else None,
            }
            for i, cid in enumerate(people)
        ],
    )
    return {"campaign_id": camp.id}


async def test_nps_support_exit_reasons_campaigns(sessionmaker) -> None:
    clock = FrozenClock(NOW)
    async with sessionmaker() as s:
        ids = await seed_engagement(s)
        await s.commit()
    async with sessionmaker() as s:
        rng = periods.build(
            granularity="month", timezone="UTC", now=NOW, start=date(2025, 5, 1), end=date(2025, 7, 1)
        )
        trend = await engagement.nps_trend(s, rng=rng)
        # May: one detractor (-100). June: 3 promoters, 1 passive, 2 detractors of 6 = +16.7.
        assert [(p.responses, p.nps) for p in trend.points] == [(1, -100.0), (6, 16.7)]  # rounded to 0.1
        assert trend.overall.responses == 7
        tiers = {b.key: (b.responses, b.nps) for b in trend.overall.by_tier}
        assert tiers["vip"] == (2, 100.0) and tiers["one_time"] == (1, -100.0)
        assert tiers["regular"] == (4, pytest.approx(-25.0))

        (_, sup) = (await engagement.support_report(s, rng=rng)).rows
        assert (sup.csat_responses, sup.csat_average) == (3, pytest.approx(11 / 3))
        assert sup.csat_satisfied_percent == pytest.approx(200 / 3)
        assert (sup.cases_opened, sup.cases_answered) == (5, 4)
        # Waits 60, 120, 300, 600: median 210; p90 = 300 + 0.7 x 300 = 510.
        assert sup.first_response_median_seconds == pytest.approx(210.0)
        assert sup.first_response_p90_seconds == pytest.approx(510.0)
        assert (sup.faq_questions, sup.faq_deflected, sup.faq_escalated) == (5, 2, 1)
        assert sup.faq_deflection_percent == pytest.approx(40.0)

        one = june()
        exits = await engagement.exit_reasons(s, rng=one, clock=clock, rules=ExitRules())
        assert [(r.reason, r.count, r.share_percent) for r in exits.reasons] == [
            ("price", 2, 50.0),
            ("feature", 1, 25.0),
            ("support", 1, 25.0),
        ]

        (camp,) = (await engagement.campaign_results(s, rng=one, clock=clock)).campaigns
        assert camp.campaign_id == ids["campaign_id"]
        assert (camp.treated, camp.held_out, camp.converted, camp.holdout_converted) == (100, 100, 30, 10)
        assert camp.win_back_rate_percent == pytest.approx(30.0)
        assert camp.holdout_rate_percent == pytest.approx(10.0)
        assert camp.uplift_points == pytest.approx(20.0)
        # Wald: se = sqrt(.3 x .7 / 100 + .1 x .9 / 100) = 0.05477; 20 +- 1.96 x 5.477 points.
        assert camp.uplift_ci_low == pytest.approx(20 - 10.735, abs=0.01)
        assert camp.uplift_ci_high == pytest.approx(20 + 10.735, abs=0.01)
        assert camp.significant is True
        renewals = await engagement.campaign_results(s, rng=rng, clock=clock, playbook="renewal")
        assert renewals.campaigns == []

        s1 = await summary.summary(s, rng=one, active_days=90, clock=clock, exit_rules=ExitRules())
        assert s1.nps.overall.responses == 6 and s1.support.cases_opened == 5
        assert s1.exits.answered == 4 and len(s1.campaigns.campaigns) == 1
