#!/usr/bin/env python
"""Benchmark: the product as 1, 2 and 3 processes on one PostgreSQL database (issue 12).

    .venv/bin/python bench/scaleout.py                    # updates (1,2,3 + SQLite) and paid campaign, ~5 min
    .venv/bin/python bench/scaleout.py --parts updates --procs 1,2 --n 1500
    .venv/bin/python bench/scaleout.py --parts paid --paid 10000

Two parts:

1. **updates**: text updates handled per second and CPU per update, in webhook mode, with N
   product processes behind one URL, on PostgreSQL (and one process on SQLite for reference).
   The same path as bench/updates.py's "product" (the `/start` of a known customer: welcome
   text + inline menu; the product's own flood gate off and the double's flood limits off, so
   Telegram's 30/s does not cap the replies). Telegram delivers webhooks over up to
   `max_connections` connections; the double does the same (several chats at once, one chat's
   updates in order), and a small round-robin proxy (`--proxy`, aiohttp, its own process)
   plays the load balancer in front of the N processes. Every configuration goes through the
   proxy, one process included, so the ratios compare like with like.
2. **paid**: a campaign in the paid-broadcast lane (`allow_paid_broadcast`, the double's
   global limit raised to 1000/s as Telegram does for paid sends) with N processes exactly as
   shipped (`python -m supportbot run`, PostgreSQL, REDIS_URL: the flood gate shared in
   Redis), flood limits on in the double. Figures at the double: rate, 429s, lost, duplicated.

CPU is read from /proc: each product process, the double, the proxy, the driver (this
process) and every `postgres` process on the machine (other work on the same server counts
too: the figure is a ceiling). Figures go to stdout and bench/results/scaleout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(SELF.parent))

from updates import (  # noqa: E402  (bench/updates.py: the driver, the SSE matching, /proc CPU)
    SECRET,
    TOKEN,
    Child,
    Driver,
    EventStream,
    Tracker,
    child_env,
    free_port,
    summarize_throughput,
    wait_http,
)

RESULTS = ROOT / "bench" / "results" / "scaleout.json"
PG_SERVER = os.environ.get("BENCH_PG", "postgresql://127.0.0.1:5432")
PG_ADMIN_DB = os.environ.get("BENCH_PG_ADMIN_DB", "test")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11")
TARGET_RATIO_2 = 1.6


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ====================================================================== the round-robin proxy


def proxy_main(argv: Sequence[str]) -> int:
    """`scaleout.py --proxy --port P --backend URL [--backend URL ...]`: one URL in front of N
    processes, requests handed out in turn (what a load balancer does)."""
    p = argparse.ArgumentParser(prog="scaleout.py --proxy")
    p.add_argument("--proxy", action="store_true")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--backend", action="append", required=True)
    args = p.parse_args(argv)
    asyncio.run(_proxy(args.port, args.backend))
    return 0


async def _proxy(port: int, backends: list[str]) -> None:
    import aiohttp
    from aiohttp import web

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    turn = itertools.cycle(backends)
    passed = ("content-type", "x-telegram-bot-api-secret-token")

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in passed}
        try:
            async with session.post(next(turn) + request.path_qs, data=body, headers=headers) as r:
                data = await r.read()
                ctype = r.headers.get("Content-Type", "application/json")
                return web.Response(status=r.status, body=data, headers={"Content-Type": ctype})
        except aiohttp.ClientError as exc:
            return web.Response(status=502, text=str(exc))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("READY proxy", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await session.close()


# ====================================================================== helpers


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every `postgres` process now, by pid (a server's backends come and go)."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        if name.startswith("postgres"):
            fields = raw.rsplit(")", 1)[1].split()
            out[int(pid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU seconds the `postgres` processes used since `before` (backends that ended meanwhile
    are missed, so the figure is a floor for them; new ones count whole)."""
    now = postgres_cpu()
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())


async def create_database() -> tuple[str, str]:
    import asyncpg

    name = f"bench_scaleout_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(f"{PG_SERVER}/{PG_ADMIN_DB}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, f"{PG_SERVER.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"


async def drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{PG_SERVER}/{PG_ADMIN_DB}")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def flush_redis() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match="supportbot:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def migrate(db_url: str) -> None:
    from storage import migrate as migrations
    from storage.db import create_engine

    engine = create_engine(db_url)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()


def start_double(flood_limits: bool) -> tuple[Child, str]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "WARNING",
        "--token",
        TOKEN,
    ]
    if not flood_limits:
        argv.append("--no-flood-limits")
    return Child("double", argv, env=child_env({}), cwd=ROOT), f"http://127.0.0.1:{port}"


async def stop_all(children: list[Child]) -> None:
    await asyncio.gather(*(c.stop(timeout=15) for c in children), return_exceptions=True)


# ====================================================================== part 1: updates


async def run_updates(n_procs: int, database: str, cfg: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    res: dict[str, Any] = {
        "processes": n_procs,
        "database": database,
        "loadavg_1min_at_start": round(os.getloadavg()[0], 2),
    }
    tmp = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    pg_name = ""
    if database == "postgresql":
        pg_name, db_url = await create_database()
    else:
        db_url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
    await migrate(db_url)
    double, base = start_double(flood_limits=False)
    children: list[Child] = [double]
    stream: EventStream | None = None
    connector = aiohttp.TCPConnector(limit=max(64, cfg.concurrency * 2))
    try:
        await double.start()
        async with aiohttp.ClientSession(connector=connector) as http:
            await wait_http(http, f"{base}/sandbox")
            proxy_port = free_port()
            api_ports = [free_port() for _ in range(n_procs)]
            proxy = Child(
                "proxy",
                [
                    sys.executable,
                    str(SELF),
                    "--proxy",
                    "--port",
                    str(proxy_port),
                    *itertools.chain.from_iterable(("--backend", f"http://127.0.0.1:{p}") for p in api_ports),
                ],
                env=child_env({}),
                cwd=ROOT,
            )
            children.append(proxy)
            await proxy.start(ready=lambda line: line.startswith("READY"))
            await proxy.wait_ready()
            products = []
            for i, port in enumerate(api_ports):
                env = {
                    "BOT_TOKEN": TOKEN,
                    "TELEGRAM_API_URL": base,
                    "DATABASE_URL": db_url,
                    "API_PORT": str(port),
                    "LOG_LEVEL": "WARNING",
                    "BUSINESS_NAME": "Demo Shop",
                    "WEBHOOK_URL": f"http://127.0.0.1:{proxy_port}",
                    "WEBHOOK_SECRET": SECRET,
                    "UPDATE_WORKERS": str(cfg.update_workers),
                    "WEBHOOK_MAX_CONNECTIONS": str(cfg.webhook_connections),
                }
                if database == "postgresql":
                    env["REDIS_URL"] = REDIS_URL
                child = Child(
                    f"product {i}",
                    [sys.executable, str(SELF.parent / "updates.py"), "--product"],
                    env=child_env(env),
                    cwd=tmp,
                )
                children.append(child)
                products.append(child)
                await child.start(ready=lambda line: line.startswith("Bot: @"))
                await child.wait_ready()

            tracker = Tracker(by_text=False)
            stream = EventStream(http, base, tracker)
            await stream.start()
            sem = asyncio.Semaphore(32)

            async def create_user(i: int) -> int:
                async with (
                    sem,
                    http.post(
                        f"{base}/sandbox/users", json={"first_name": f"U{i}", "language_code": "en"}
                    ) as r,
                ):
                    r.raise_for_status()
                    return int((await r.json())["id"])

            users = list(await asyncio.gather(*(create_user(i) for i in range(cfg.users))))
            drv = Driver(http, base, tracker, users, lambda _i: "/start")
            log(f"  {n_procs} x {database}: warm-up ({len(users)} users)")
            await drv.burst("warmup", len(users), cfg.concurrency)
            if not await tracker.wait_phase("warmup", 120):
                raise RuntimeError(f"warm-up: {tracker.pending('warmup')} not answered")
            await asyncio.sleep(1.0)
            runs = []
            for run in range(cfg.runs):
                phase = f"throughput{run}"
                log(f"  {n_procs} x {database}: burst {run + 1}/{cfg.runs} ({cfg.n} messages)")
                pg0 = postgres_cpu()
                inbox0 = [await inbox_counts(http, port) for port in api_ports]
                cpu0 = (
                    [c.cpu_seconds() for c in products],
                    double.cpu_seconds(),
                    proxy.cpu_seconds(),
                    0.0,
                    time.process_time(),
                )
                await drv.burst(phase, cfg.n, cfg.concurrency)
                complete = await tracker.wait_phase(phase, 120)
                cpu1 = (
                    [c.cpu_seconds() for c in products],
                    double.cpu_seconds(),
                    proxy.cpu_seconds(),
                    postgres_cpu_since(pg0),
                    time.process_time(),
                )
                tp = summarize_throughput(tracker.phase(phase))
                tp["complete"] = complete
                inbox1 = [await inbox_counts(http, port) for port in api_ports]
                # Several processes: how each chat's lease went (bot/inbox_leases.py), summed.
                tp["inbox"] = {
                    k: round(sum(b.get(k, 0) - a.get(k, 0) for a, b in zip(inbox0, inbox1, strict=True)))
                    for k in sorted({k for c in inbox1 for k in c})
                }
                answered = tp["answered"] or 1
                per_proc = [
                    round(((b or 0) - (a or 0)) / answered * 1000, 3)
                    for a, b in zip(cpu0[0], cpu1[0], strict=True)
                ]
                tp["product_cpu_ms_per_update"] = round(sum(per_proc), 3)
                tp["product_cpu_ms_per_update_each"] = per_proc
                for key, i in (("double", 1), ("proxy", 2), ("postgres", 3), ("driver", 4)):
                    a, b = cpu0[i], cpu1[i]
                    if a is not None and b is not None:
                        tp[f"{key}_cpu_ms_per_update"] = round((b - a) / answered * 1000, 3)
                elapsed = tp.get("elapsed_s") or 1
                tp["machine_cpu_share"] = round(
                    (
                        sum((b or 0) - (a or 0) for a, b in zip(cpu0[0], cpu1[0], strict=True))
                        + sum((cpu1[i] or 0) - (cpu0[i] or 0) for i in (1, 2, 3, 4))
                    )
                    / elapsed
                    / (os.cpu_count() or 1),
                    3,
                )
                runs.append(tp)
                await asyncio.sleep(1.0)
            res["runs"] = runs
            best = max(runs, key=lambda r: r["handled_per_s"])
            res["handled_per_s"] = best["handled_per_s"]
            res["handled_per_s_runs"] = [r["handled_per_s"] for r in runs]
            res["product_cpu_ms_per_update"] = best["product_cpu_ms_per_update"]  # of the best run
            res["unmatched_replies"] = tracker.unmatched_replies
            async with http.get(f"{base}/sandbox/violations") as r:
                res["violations"] = len(await r.json())
    finally:
        if stream is not None:
            await stream.stop()
        await stop_all(children[::-1])
        if pg_name:
            await drop_database(pg_name)
    res["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)
    return res


async def inbox_counts(http: Any, port: int) -> dict[str, float]:
    """The shared inbox's lease outcomes and sweeps so far, from a process's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
            text = await r.text()
    except Exception:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "supportbot_inbox_chat_leases_total":
                out[sample.labels["outcome"]] = sample.value
            elif sample.name == "supportbot_inbox_swept_total":
                out["swept"] = sample.value
    return out


# ====================================================================== part 2: paid campaign


async def seed_recipients(db_url: str, telegram_ids: list[int]) -> str:
    from sqlalchemy import insert

    from core import apikeys
    from core.clock import SystemClock
    from core.outreach import stats
    from storage.db import create_engine, create_sessionmaker
    from storage.models import Customer

    await migrate(db_url)
    engine = create_engine(db_url)
    db = create_sessionmaker(engine)
    then = SystemClock().now() - timedelta(days=60)
    async with db.begin() as s:
        rows = [
            {
                "telegram_id": t,
                "first_name": f"R{i}",
                "language": "en",
                "language_chosen": False,
                "opted_in": True,
                "reachable": True,
                "attributes": {},
                "first_seen_at": then,
                "last_seen_at": then,
                "created_at": then,
                "updated_at": then,
            }
            for i, t in enumerate(telegram_ids)
        ]
        for start in range(0, len(rows), 5000):
            await s.execute(insert(Customer), rows[start : start + 5000])
        await stats.sync_orders(s, clock=SystemClock())
        key, _ = await apikeys.create_api_key(s, clock=SystemClock(), name="bench", scopes=["*"])
    await engine.dispose()
    return key


async def outbox_done(pg_name: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(f"{PG_SERVER}/{pg_name}")
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM outbox"
                " WHERE status IN ('sent','failed','skipped','uncertain','cancelled')"
            )
        )
    finally:
        await conn.close()


async def run_paid(n_procs: int, n: int, concurrency: int) -> dict[str, Any]:
    import httpx

    from bench.delivery import make_recipients

    res: dict[str, Any] = {
        "processes": n_procs,
        "recipients": n,
        "lane": "paid",
        "limit_per_s": 1000,
        "loadavg_1min_at_start": round(os.getloadavg()[0], 2),
    }
    tmp = Path(tempfile.mkdtemp(prefix="bench-scaleout-paid-"))
    pg_name, db_url = await create_database()
    await flush_redis()
    double, base = start_double(flood_limits=True)
    children: list[Child] = [double]
    try:
        await double.start()
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    await http.get("/sandbox")
                    break
                await asyncio.sleep(0.1)
            ids = await make_recipients(base, n)
            await http.post("/sandbox/settings/flood", json={"enabled": True, "global_per_second": 1000})
            await http.delete("/sandbox/calls")
        key = await seed_recipients(db_url, ids)
        products = []
        for i in range(n_procs):
            env = {
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": base,
                "DATABASE_URL": db_url,
                "REDIS_URL": REDIS_URL,
                "API_PORT": str(free_port()),
                "POLLING_TIMEOUT": "1",
                "LOG_LEVEL": "WARNING",
                "OUTREACH_QUIET_HOURS": "off",
                "OUTREACH_CONCURRENCY": str(concurrency),
                "OUTREACH_PAID_MAX_STARS": str(n),
            }
            child = Child(
                f"product {i}", [sys.executable, "-m", "supportbot", "run"], env=child_env(env), cwd=tmp
            )
            children.append(child)
            products.append(child)
            await child.start(ready=lambda line: line.startswith("Role: "))
            await child.wait_ready()
        api_url = next(line for line in products[0].output if line.startswith("HTTP API:")).split()[2]
        body = {
            "name": "bench paid",
            "segment": {"kind": "dormant"},
            "holdout": 0,
            "send_window": "any",
            "quiet_hours": "off",
            "steps": [{"templates": {"en": "{name|Hi}, we miss you. What made you stop?"}}],
            "paid_broadcast": {"max_stars": n * 0.1},
        }
        pg0 = postgres_cpu()
        cpu0 = ([c.cpu_seconds() for c in products], double.cpu_seconds(), 0.0)
        async with httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as api:
            started = time.perf_counter()
            r = await api.post("/v1/campaigns", json=body)
            assert r.status_code == 201, r.text
            while await outbox_done(pg_name) < n:
                if time.perf_counter() - started > 900:
                    raise RuntimeError("campaign not finished in 15 minutes")
                await asyncio.sleep(0.2)
            wall = time.perf_counter() - started
        cpu1 = ([c.cpu_seconds() for c in products], double.cpu_seconds(), postgres_cpu_since(pg0))
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            calls = (await http.get("/sandbox/calls", params={"method": "sendMessage"})).json()
            res["violations"] = len((await http.get("/sandbox/violations")).json())
        ok = [c for c in calls if c["kind"] == "ok"]
        per_chat = Counter(int(c["params"]["chat_id"]) for c in ok)
        times = sorted(c["time"] for c in ok)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        per_proc = [
            round(((b or 0) - (a or 0)) / max(len(ok), 1) * 1000, 3)
            for a, b in zip(cpu0[0], cpu1[0], strict=True)
        ]
        res.update(
            {
                "delivered": len(ok),
                "lost": sum(1 for i in ids if per_chat[i] == 0),
                "duplicated": sum(v - 1 for v in per_chat.values() if v > 1),
                "flood_429": sum(1 for c in calls if c["kind"] == "flood"),
                "rate_per_s": round((len(times) - 1) / span, 1) if span else 0.0,
                "campaign_wall_s": round(wall, 1),
                "product_cpu_ms_per_message": round(sum(per_proc), 3),
                "product_cpu_ms_per_message_each": per_proc,
                "product_cpu_share_each": [
                    round(((b or 0) - (a or 0)) / wall, 3) for a, b in zip(cpu0[0], cpu1[0], strict=True)
                ],
                "double_cpu_share": round(((cpu1[1] or 0) - (cpu0[1] or 0)) / wall, 3),
                "postgres_cpu_share": round((cpu1[2] - cpu0[2]) / wall, 3),
            }
        )
    finally:
        await stop_all(children[::-1])
        await drop_database(pg_name)
        await flush_redis()
    res["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)
    return res


# ====================================================================== report


def report_updates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    print(
        "\nUpdate path, webhook mode behind one round-robin proxy (flood limits off): "
        "handled/s and CPU ms per update"
    )
    head = (
        f"{'config':18} | {'handled/s':>9} {'runs':>18} | {'ratio':>5} | {'product':>7} {'each':>20} | "
        f"{'pg':>5} {'double':>6} {'proxy':>5} {'driver':>6} | {'cpu use':>7} | load"
    )
    print(head)
    print("-" * len(head))
    one = next(
        (
            r
            for r in rows
            if r.get("database") == "postgresql" and r.get("processes") == 1 and "handled_per_s" in r
        ),
        None,
    )
    checks: dict[str, Any] = {}
    for r in rows:
        name = f"{r['processes']} x {r['database']}"
        if "handled_per_s" not in r:
            print(f"{name:18} | failed: {r.get('error', '?')[:80]}")
            continue
        best = max(r["runs"], key=lambda x: x["handled_per_s"])
        ratio = r["handled_per_s"] / one["handled_per_s"] if one else None
        if r["database"] == "postgresql" and ratio is not None:
            checks[f"ratio_{r['processes']}"] = round(ratio, 2)
        print(
            f"{name:18} | {r['handled_per_s']:9.1f} {str(r['handled_per_s_runs']):>18} | "
            f"{ratio if ratio is not None else 0:5.2f} | {r['product_cpu_ms_per_update']:7.2f} "
            f"{str(best['product_cpu_ms_per_update_each']):>20} | "
            f"{best.get('postgres_cpu_ms_per_update', 0):5.2f} "
            f"{best.get('double_cpu_ms_per_update', 0):6.2f} "
            f"{best.get('proxy_cpu_ms_per_update', 0):5.2f} {best.get('driver_cpu_ms_per_update', 0):6.2f} | "
            f"{best['machine_cpu_share'] * 100:6.0f}% | "
            f"{r['loadavg_1min_at_start']}->{r['loadavg_1min_at_end']}"
        )
    if "ratio_2" in checks:
        ok = checks["ratio_2"] >= TARGET_RATIO_2
        checks["ratio_2_ok"] = ok
        print(
            f"\n2 processes / 1 process = {checks['ratio_2']:.2f} (target >= {TARGET_RATIO_2})  "
            f"{'PASS' if ok else 'FAIL'}"
        )
    print("handled/s: best of the runs (replies / first injection -> last reply); ratio: to 1 x postgresql;")
    print("  CPU ms per answered update of: the product processes (sum, and each), every postgres process,")
    print("  the double, the proxy, the driver; cpu use: all of these over the burst / all cores.")
    leases = [(r, run) for r in rows if r.get("database") == "postgresql" for run in r.get("runs", [])]
    if any(run.get("inbox") for _r, run in leases):
        print(
            "chat leases per burst (bot/inbox_leases.py; free: taken, busy: held elsewhere, swept: taken up"
        )
        print("  by a sweeper):")
        for r, run in leases:
            counts = ", ".join(f"{k} {v}" for k, v in run.get("inbox", {}).items())
            print(f"  {r['processes']} x postgresql, {run['handled_per_s']}/s: {counts}")
    return checks


def report_paid(rows: list[dict[str, Any]]) -> None:
    print("\nPaid-broadcast campaign (limit 1000/s at the double), product as shipped, PostgreSQL + Redis")
    for r in rows:
        if "rate_per_s" not in r:
            print(f"  {r['processes']} processes: failed: {r.get('error', '?')[:100]}")
            continue
        print(
            f"  {r['processes']} process(es), {r['recipients']:,} recipients: "
            f"{r['rate_per_s']}/s at the double "
            f"({r['delivered']:,} delivered, lost {r['lost']}, duplicated {r['duplicated']}, "
            f"429 {r['flood_429']}, "
            f"violations {r['violations']}); wall {r['campaign_wall_s']} s; product CPU "
            f"{r['product_cpu_ms_per_message']} ms/message; CPU share (1.0 = one core): product "
            f"{r['product_cpu_share_each']}, postgres {r['postgres_cpu_share']}, "
            f"double {r['double_cpu_share']}; "
            f"load {r['loadavg_1min_at_start']}->{r['loadavg_1min_at_end']}"
        )


async def amain(args: argparse.Namespace) -> int:
    out: dict[str, Any] = {
        "benchmark": "bench/scaleout.py",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "users": args.users,
            "n": args.n,
            "concurrency": args.concurrency,
            "webhook_connections": args.webhook_connections,
            "runs": args.runs,
            "procs": args.procs,
            "paid": args.paid,
            "paid_procs": args.paid_procs,
        },
    }
    parts = args.parts.split(",")
    failed = False
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    try:
        if "updates" in parts:
            rows = []
            plan = [(int(p), "postgresql") for p in args.procs.split(",")]
            if not args.no_sqlite:
                plan.append((1, "sqlite"))
            for procs, database in plan:
                try:
                    rows.append(await run_updates(procs, database, args))
                except Exception as exc:  # one failing configuration must not hide the others
                    failed = True
                    log(f"  {procs} x {database} FAILED: {exc}")
                    rows.append(
                        {"processes": procs, "database": database, "error": f"{type(exc).__name__}: {exc}"}
                    )
            out["updates"] = rows
            out["updates_checks"] = report_updates(rows)
        if "paid" in parts:
            rows = []
            for procs in (int(p) for p in args.paid_procs.split(",")):
                log(f"  paid campaign, {procs} process(es), {args.paid:,} recipients")
                try:
                    rows.append(await run_paid(procs, args.paid, args.paid_concurrency))
                except Exception as exc:
                    failed = True
                    log(f"  paid x {procs} FAILED: {exc}")
                    rows.append({"processes": procs, "error": f"{type(exc).__name__}: {exc}"})
            out["paid"] = rows
            report_paid(rows)
    finally:
        await asyncio.gather(*(c.stop() for c in list(Child.live)), return_exceptions=True)
    out["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"\nload average (1 min) {out['machine']['loadavg_at_start'][0]} at start, "
        f"{out['machine']['loadavg_at_end'][0]} at end, {os.cpu_count()} CPUs"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(f"figures written to {args.json}")
    return 2 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--proxy"]:
        return proxy_main(argv)
    p = argparse.ArgumentParser(prog="bench/scaleout.py", description="The product as 1, 2, 3 processes.")
    p.add_argument("--parts", default="updates,paid", help="comma list of updates, paid")
    p.add_argument("--procs", default="1,2,3", help="process counts on PostgreSQL for the update path")
    p.add_argument("--no-sqlite", action="store_true", help="skip the one-process SQLite reference")
    p.add_argument("--users", type=int, default=750, help="distinct users (few messages each: see README)")
    p.add_argument("--n", type=int, default=1500, help="messages per burst")
    p.add_argument("--runs", type=int, default=2, help="bursts per configuration (the best is reported)")
    p.add_argument("--concurrency", type=int, default=32, help="injections in flight")
    p.add_argument("--update-workers", type=int, default=8, help="UPDATE_WORKERS per process (default 8)")
    p.add_argument(
        "--webhook-connections",
        type=int,
        default=100,
        help="WEBHOOK_MAX_CONNECTIONS: webhook requests kept open at once (Telegram: 1-100)",
    )
    p.add_argument("--paid", type=int, default=10000, help="recipients of the paid campaign")
    p.add_argument("--paid-procs", default="1,3")
    p.add_argument("--paid-concurrency", type=int, default=200, help="OUTREACH_CONCURRENCY per process")
    p.add_argument("--json", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    try:
        return asyncio.run(amain(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; child processes stopped", file=sys.stderr)
        return 130
    finally:
        Child.kill_all_now()


if __name__ == "__main__":
    sys.exit(main())
