#!/usr/bin/env python
"""Benchmark: segments and campaign enqueueing on 1,000,000 customers and 5,000,000 orders (SQLite).

    .venv/bin/python bench/segments.py                    # builds data/bench-segments.sqlite3 once (~4 min)
    .venv/bin/python bench/segments.py --customers 100000 --orders 500000 --db /tmp/small.sqlite3

Steps, each timed:

1. generate (first run only, in a child process so it does not count towards this process's
   memory): the product's schema (migrations), then customers (85% linked to Telegram, ru/en,
   some opted out or unreachable, a `plan` attribute on 20%) and orders skewed so that a minority
   buys most, with activity spread over four years;
2. the first order sync: the segment summary built in bulk SQL from customers and orders
   (what happens once when outreach is installed on an existing shop);
3. count + preview (count, contactable count, a sample of 10) of several segments, cold and warm;
4. creating a win-back campaign for a ~100,000-customer segment: audience, holdout, step 1
   queued (the campaign is deleted afterwards so the run can be repeated);
5. this process's peak memory (max RSS).

Targets (from the issue): count and preview under 1 s, enqueueing 100,000 under 10 s, peak
memory under 300 MB. Figures go to stdout and to bench/results/segments.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "segments.json"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
DAY = 86400.0


def ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(path: Path, n_customers: int, n_orders: int, seed: int = 7) -> None:
    """Child process: schema via the product's migrations, then bulk rows with plain sqlite3."""
    from storage import migrate
    from storage.db import create_engine

    async def schema() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await migrate.upgrade(engine)
        await engine.dispose()

    asyncio.run(schema())
    rnd = random.Random(seed)
    now = NOW.timestamp()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    first = [0.0] * (n_customers + 1)
    last = [0.0] * (n_customers + 1)
    rows = []
    t0 = time.perf_counter()
    for cid in range(1, n_customers + 1):
        f = now - rnd.uniform(20, 1460) * DAY
        lst = rnd.uniform(f, now)
        first[cid], last[cid] = f, lst
        linked = rnd.random() < 0.85
        rows.append(
            (
                cid,
                1_000_000_000 + cid if linked else None,
                f"crm-{cid}",
                f"N{cid}",
                "ru" if rnd.random() < 0.6 else "en",
                1,
                rnd.random() < 0.92,
                rnd.random() < 0.95,
                ts(f),
                ts(lst),
                '{"plan": "pro"}' if rnd.random() < 0.2 else "{}",
                ts(f),
                ts(lst),
            )
        )
        if len(rows) == 50_000:
            db.executemany(
                "INSERT INTO customers (id, telegram_id, external_id, first_name, language, language_chosen, "
                "opted_in, reachable, first_seen_at, last_seen_at, attributes, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            rows.clear()
    if rows:
        db.executemany(
            "INSERT INTO customers (id, telegram_id, external_id, first_name, language, language_chosen, "
            "opted_in, reachable, first_seen_at, last_seen_at, attributes, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    db.commit()
    print(f"  customers: {n_customers:,} in {time.perf_counter() - t0:.1f}s", flush=True)
    t0 = time.perf_counter()
    orders = []
    for oid in range(1, n_orders + 1):
        # Half of all orders come from the top tenth of customers (they spend ~5x the rest).
        top = rnd.random() < 0.5
        cid = rnd.randrange(1, n_customers // 10 + 1) if top else rnd.randrange(1, n_customers + 1)
        at = rnd.uniform(first[cid], last[cid])
        amount = rnd.randrange(500, 20_000)
        status = "completed" if rnd.random() < 0.97 else "refunded"
        refunded = amount if status == "refunded" else 0
        orders.append(
            (
                oid,
                f"o-{oid}",
                cid,
                amount,
                "USD",
                amount,
                refunded,
                refunded,
                status,
                0,
                ts(at),
                ts(at),
                ts(at),
            )
        )
        if len(orders) == 100_000:
            db.executemany(
                "INSERT INTO orders (id, external_id, customer_id, amount_minor, currency, "
                "base_amount_minor, refunded_minor, base_refunded_minor, status, points_earned, "
                "placed_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                orders,
            )
            orders.clear()
    if orders:
        db.executemany(
            "INSERT INTO orders (id, external_id, customer_id, amount_minor, currency, "
            "base_amount_minor, refunded_minor, base_refunded_minor, status, points_earned, "
            "placed_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            orders,
        )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    print(f"  orders: {n_orders:,} in {time.perf_counter() - t0:.1f}s", flush=True)


async def run(path: Path, figures: dict) -> None:
    from sqlalchemy import delete, func, select, text

    from core.clock import FrozenClock
    from core.outreach import campaigns, segments, stats
    from core.outreach.campaigns import CampaignInput
    from core.outreach.rules import OutreachRules
    from core.outreach.segments import SegmentSpec
    from storage.db import create_engine, create_sessionmaker
    from storage.models_outreach import Campaign, CampaignRecipient, OutboxMessage

    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    db = create_sessionmaker(engine)
    clock = FrozenClock(NOW)
    rules = OutreachRules(quiet_hours=None)

    async with db() as s:
        summary_rows = await s.scalar(select(func.count()).select_from(text("outreach_stats")))
    if not summary_rows:
        t0 = time.perf_counter()
        async with db.begin() as s:
            await stats.sync_orders(s, clock=clock)
        async with db.begin() as s:
            await s.execute(text("ANALYZE"))
        figures["summary_build_s"] = round(time.perf_counter() - t0, 2)
        print(f"first order sync (summary for everyone): {figures['summary_build_s']} s")
    async with db() as s:
        figures["summary_rows"] = int(
            await s.scalar(select(func.count()).select_from(text("outreach_stats"))) or 0
        )

    cases = {
        "dormant (30 d)": SegmentSpec("dormant"),
        "churned (90 d or cancelled)": SegmentSpec("churned"),
        "late churn (long tenure, >= 3 orders)": SegmentSpec("late_churn"),
        "quick churn": SegmentSpec("quick_churn"),
        "vip": SegmentSpec("vip"),
        "pre-vip": SegmentSpec("pre_vip"),
        "subscribed, never bought": SegmentSpec("subscribed_never_bought"),
        "dormant, ru, regular or pre-vip": SegmentSpec(
            "dormant", languages=("ru",), tiers=("regular", "pre_vip")
        ),
        "all with plan=pro": SegmentSpec("all", attributes={"plan": "pro"}),
        "dormant band 30-60 d": SegmentSpec("dormant", days=30, max_days=60),
    }
    figures["segments"] = {}
    print(f"\n{'segment':42} {'count':>9} {'reach':>9} {'cold s':>7} {'warm s':>7}")
    for name, spec in cases.items():
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            async with db() as s:
                pv = await segments.preview(s, spec, now=clock.now(), rules=rules, sample_size=10)
            times.append(time.perf_counter() - t0)
        figures["segments"][name] = {
            "count": pv.count,
            "contactable": pv.contactable,
            "cold_s": round(times[0], 3),
            "warm_s": round(times[1], 3),
        }
        print(f"{name:42} {pv.count:>9,} {pv.contactable:>9,} {times[0]:>7.3f} {times[1]:>7.3f}")

    # A ~100,000-customer audience: dormant for 30 to N days, N found from the data.
    target = figures["enqueue_target"]
    lo, hi = 31, 1500
    async with db() as s:
        while lo < hi:
            mid = (lo + hi) // 2
            n = await segments.count(
                s, SegmentSpec("dormant", days=30, max_days=mid), now=clock.now(), rules=rules
            )
            lo, hi = (mid + 1, hi) if n < target else (lo, mid)
    spec = SegmentSpec("dormant", days=30, max_days=lo)
    t0 = time.perf_counter()
    async with db.begin() as s:
        view, _ = await campaigns.create_campaign(
            s,
            clock=clock,
            rules=rules,
            inp=CampaignInput(
                name="bench win-back", playbook="winback", segment=spec, holdout=0.1, send_window="any"
            ),
        )
    enqueue_s = time.perf_counter() - t0
    async with db() as s:
        queued = await s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.campaign_id == view.id)
        )
    figures["enqueue"] = {
        "recipients": view.targeted,
        "step1_queued": int(queued or 0),
        "seconds": round(enqueue_s, 2),
        "segment": f"dormant {spec.days}-{spec.max_days} days",
    }
    print(
        f"\nenqueue win-back campaign: {view.targeted:,} recipients ({queued:,} queued, "
        f"{view.targeted - (queued or 0):,} held out) in {enqueue_s:.2f} s"
    )
    async with db.begin() as s:  # leave the database as it was
        await s.execute(delete(OutboxMessage).where(OutboxMessage.campaign_id == view.id))
        await s.execute(delete(CampaignRecipient).where(CampaignRecipient.campaign_id == view.id))
        await s.execute(delete(Campaign).where(Campaign.id == view.id))
    await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=5_000_000)
    ap.add_argument("--enqueue", type=int, default=100_000, help="audience size of the enqueue test")
    ap.add_argument("--db", type=Path, default=ROOT / "data" / "bench-segments.sqlite3")
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.generate_only:
        generate(args.db, args.customers, args.orders)
        return 0
    figures: dict = {
        "customers": args.customers,
        "orders": args.orders,
        "enqueue_target": args.enqueue,
        "machine": f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}",
    }
    if not args.db.exists():
        args.db.parent.mkdir(parents=True, exist_ok=True)
        print(
            f"generating {args.customers:,} customers and {args.orders:,} orders into {args.db} ...",
            flush=True,
        )
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--generate-only",
                "--customers",
                str(args.customers),
                "--orders",
                str(args.orders),
                "--db",
                str(args.db),
            ],
            check=True,
        )
        figures["generate_s"] = round(time.perf_counter() - t0, 1)
    asyncio.run(run(args.db, figures))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["peak_rss_mb"] = round(peak_mb, 1)
    slowest = max(v["warm_s"] for v in figures["segments"].values())
    print(f"\npeak memory (max RSS of this process): {peak_mb:.0f} MB")
    print(
        f"targets: preview < 1 s: {'OK' if slowest < 1 else 'MISSED'} (slowest warm {slowest:.3f} s); "
        f"enqueue 100k < 10 s: {'OK' if figures['enqueue']['seconds'] < 10 else 'MISSED'}; "
        f"memory < 300 MB: {'OK' if peak_mb < 300 else 'MISSED'}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
