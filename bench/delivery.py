#!/usr/bin/env python
"""Benchmark: campaign delivery through the Bot API double with its flood limits on.

    .venv/bin/python bench/delivery.py                       # all three runs (~3-4 minutes)
    .venv/bin/python bench/delivery.py --runs free --free 600

Runs (each on a fresh double and a fresh database):

- `free`: 1,500 recipients in the campaign lane at 30 msg/s (the double: 30/s per bot, 1/s per
  chat, exactly as Telegram);
- `paid`: 20,000 recipients in the paid-broadcast lane (`allow_paid_broadcast`, budget enough
  for all), with the double's global limit raised to 1000/s as Telegram does for paid sends;
- `faults`: the free run again with 10% of sends answered 429 (retry_after 1 s) or 500 at
  random by the double.

Three processes on loopback: the double (`python -m sandbox`), the product (`python -m
supportbot run`, SQLite in a temp dir) and this driver. The driver creates the recipients in the
double (each wrote to the bot once, so the private chat exists), seeds the product's database
with the same people as customers last seen 60 days ago, starts the product, creates a one-step
campaign for the dormant segment through the HTTP API and waits until every message is final.

Figures come from the double's call log: achieved rate (first to last delivered message), 429s
the double answered, messages lost (recipients with none) and duplicated (more than one).
Targets: rate >= 95% of the lane's limit, zero 429s from flood limits, zero lost, zero
duplicated; with faults, the campaign completes and nothing is lost. Figures go to stdout and
bench/results/delivery.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "delivery.json"
TOKEN = "1234567890:AAE2eBenchTokenABCDEFGHIJKLMNOPQRSTU"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            try:
                await http.get(url)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def make_recipients(base: str, n: int) -> list[int]:
    """n people who wrote to the bot once; their updates are dropped before the product starts."""
    ids: list[int] = []
    sem = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def one(i: int) -> None:
            async with sem:
                user = (
                    await http.post("/sandbox/users", json={"first_name": f"R{i}", "language_code": "en"})
                ).json()
                await http.post(f"/sandbox/users/{user['id']}/send", json={"text": "hello"})
                ids.append(int(user["id"]))

        await asyncio.gather(*(one(i) for i in range(n)))
        offset = 0
        while True:
            r = (
                await http.post(
                    f"/bot{TOKEN}/getUpdates", json={"offset": offset, "limit": 100, "timeout": 0}
                )
            ).json()
            if not r["result"]:
                break
            offset = r["result"][-1]["update_id"] + 1
    return ids


async def seed(db_url: str, telegram_ids: list[int]) -> str:
    """The same people as customers, last seen 60 days ago; returns an API key."""
    from sqlalchemy import insert

    from core import apikeys
    from core.clock import SystemClock
    from core.outreach import stats
    from storage import migrate
    from storage.db import create_engine, create_sessionmaker
    from storage.models import Customer

    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    db = create_sessionmaker(engine)
    now = SystemClock().now()
    then = now - timedelta(days=60)
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


def outbox_state(db_path: Path) -> Counter[str]:
    db = sqlite3.connect(db_path)
    try:
        return Counter(dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()))
    finally:
        db.close()


async def run_one(name: str, n: int, *, paid: bool, faults: bool, concurrency: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-delivery-{name}-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    double = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--token",
        TOKEN,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    product: asyncio.subprocess.Process | None = None
    log_lines: list[str] = []
    try:
        await wait_http(f"{base}/sandbox")
        t0 = time.perf_counter()
        ids = await make_recipients(base, n)
        lane_limit = 1000.0 if paid else 30.0
        async with httpx.AsyncClient(base_url=base) as http:
            if paid:  # Telegram lifts the 30/s limit for paid broadcasts up to 1000/s
                await http.post("/sandbox/settings/flood", json={"enabled": True, "global_per_second": 1000})
            await http.delete("/sandbox/calls")
        db_path = tmp / "bot.sqlite3"
        key = await seed(f"sqlite+aiosqlite:///{db_path}", ids)
        setup_s = time.perf_counter() - t0

        env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": base,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
            "API_PORT": "0",
            "POLLING_TIMEOUT": "1",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "OUTREACH_QUIET_HOURS": "off",
            "OUTREACH_CONCURRENCY": str(concurrency),
            "OUTREACH_PROGRESS_LOG_SECONDS": "5",
            "OUTREACH_PAID_MAX_STARS": str(n),
            "OUTREACH_RETRY_BASE_SECONDS": "1",
        }
        profile = (
            ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
        )
        product = await asyncio.create_subprocess_exec(
            sys.executable,
            *profile,
            "-m",
            "supportbot",
            "run",
            cwd=str(tmp),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        api_url = ""

        async def read() -> None:
            nonlocal api_url
            assert product is not None and product.stdout is not None
            async for raw in product.stdout:
                line = raw.decode(errors="replace").rstrip()
                log_lines.append(line)
                m = re.search(r"HTTP API: (http://[\d.:]+)", line)
                if m:
                    api_url = m.group(1)

        reader = asyncio.create_task(read())  # noqa: F841 (runs until the product exits)
        deadline = time.monotonic() + 60
        while not api_url:
            if time.monotonic() > deadline or product.returncode is not None:
                raise RuntimeError("product did not start:\n" + "\n".join(log_lines[-30:]))
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=base) as http:
            if faults:
                await http.post(
                    "/sandbox/settings/faults",
                    json={"rate_429": 0.05, "rate_500": 0.05, "retry_after": 1, "seed": 1},
                )
        body: dict[str, Any] = {
            "name": f"bench {name}",
            "segment": {"kind": "dormant"},
            "holdout": 0,
            "send_window": "any",
            "quiet_hours": "off",
            "steps": [{"templates": {"en": "{name|Hi}, we miss you. What made you stop?"}}],
        }
        if paid:
            body["paid_broadcast"] = {"max_stars": n * 0.1}
        async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {key}"}) as http:
            started = time.perf_counter()
            r = await http.post("/v1/campaigns", json=body)
            assert r.status_code == 201, r.text
            campaign_id = r.json()["id"]
            while True:
                state = outbox_state(db_path)
                if sum(state[s] for s in ("sent", "failed", "skipped", "uncertain", "cancelled")) >= n:
                    break
                if time.perf_counter() - started > 1800:
                    raise RuntimeError(f"not finished: {state}")
                await asyncio.sleep(0.2)
            wall = time.perf_counter() - started
            figures = (await http.get(f"/v1/campaigns/{campaign_id}")).json()["stats"]
        await asyncio.sleep(1.0)  # let a duplicate (there should be none) reach the double
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            calls = (await http.get("/sandbox/calls", params={"method": "sendMessage"})).json()
            violations = (await http.get("/sandbox/violations")).json()
        ok = [c for c in calls if c["kind"] == "ok"]
        per_chat = Counter(int(c["params"]["chat_id"]) for c in ok)
        times = sorted(c["time"] for c in ok)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        rate = (len(times) - 1) / span if span else 0.0
        per_second = Counter(int(t - times[0]) for t in times)
        worst, j = 0, 0  # the most messages in any sliding second (Telegram's "30 per second")
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            worst = max(worst, i - j + 1)
        timeline = [per_second[i] for i in range(int(span) + 1)]
        steady = [t for t in times if t >= times[0] + 2.0]  # after the opening burst
        steady_rate = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
        result = {
            "recipients": n,
            "lane": "paid" if paid else "campaign",
            "lane_limit_per_s": lane_limit,
            "faults": "5% 429 + 5% 500" if faults else "none",
            "concurrency": concurrency,
            "delivered": len(ok),
            "lost": sum(1 for i in ids if per_chat[i] == 0),
            "duplicated": sum(v - 1 for v in per_chat.values() if v > 1),
            "flood_429": sum(1 for c in calls if c["kind"] == "flood"),
            "fault_429": sum(1 for c in calls if c["kind"] == "fault" and c["status"] == 429),
            "fault_500": sum(1 for c in calls if c["kind"] == "fault" and c["status"] == 500),
            "violations": len(violations),
            "rate_per_s": round(rate, 1),
            "steady_rate_per_s": round(steady_rate, 1),
            "rate_pct_of_limit": round(100 * rate / lane_limit, 1),
            "send_span_s": round(span, 1),
            "campaign_wall_s": round(wall, 1),
            "setup_s": round(setup_s, 1),
            "status_api": {k: figures[k] for k in ("sent", "failed", "skipped", "uncertain", "queued")},
            "paid_sent": figures["paid_sent"],
            "per_second": timeline,
            "max_in_any_second": worst,
            "progress_log": [ln.split(": ", 1)[-1] for ln in log_lines if "outreach: campaign" in ln][-2:],
        }
        return result
    finally:
        if product is not None and product.returncode is None:
            product.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(product.wait(), 30)
            except TimeoutError:
                product.kill()
        if double.returncode is None:
            double.send_signal(signal.SIGTERM)
            await double.wait()


def report(name: str, r: dict[str, Any]) -> None:
    print(
        f"\n== {name}: {r['recipients']:,} recipients, {r['lane']} lane "
        f"(limit {r['lane_limit_per_s']:.0f}/s), faults: {r['faults']}"
    )
    print(
        f"   delivered {r['delivered']:,}, lost {r['lost']}, duplicated {r['duplicated']}, "
        f"429 from flood limits {r['flood_429']}, injected 429/500 {r['fault_429']}/{r['fault_500']}, "
        f"spec violations {r['violations']}"
    )
    print(
        f"   achieved {r['rate_per_s']}/s = {r['rate_pct_of_limit']}% of the limit "
        f"(steady {r['steady_rate_per_s']}/s) over {r['send_span_s']} s; "
        f"campaign wall time {r['campaign_wall_s']} s"
    )
    print(f"   status API: {r['status_api']}, paid sent {r['paid_sent']}")
    print(f"   messages per second: {r['per_second']}; most in any sliding second: {r['max_in_any_second']}")
    for line in r["progress_log"]:
        print(f"   log: {line}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="free,paid,faults")
    ap.add_argument("--free", type=int, default=1500)
    ap.add_argument("--paid", type=int, default=20000)
    args = ap.parse_args(argv)
    plan = {
        "free": dict(n=args.free, paid=False, faults=False, concurrency=16),
        "paid": dict(n=args.paid, paid=True, faults=False, concurrency=200),
        "faults": dict(n=args.free, paid=False, faults=True, concurrency=16),
    }
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"}
    ok = True
    for name in args.runs.split(","):
        r = asyncio.run(run_one(name, **plan[name]))  # type: ignore[arg-type]
        results[name] = r
        report(name, r)
        clean = r["lost"] == 0 and r["duplicated"] == 0 and r["violations"] == 0
        if name == "faults":
            ok &= clean
        else:
            ok &= clean and r["flood_429"] == 0 and r["rate_pct_of_limit"] >= 95
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\ntargets: {'all met' if ok else 'MISSED (see above)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
