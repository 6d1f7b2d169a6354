#!/usr/bin/env python
"""Benchmark: the HTTP API under load beside chatting customers, with the roles split into
processes (`--role api` + `--role bot` + `--role worker`) or all in one (`--role all`).

    .venv/bin/python bench/role_split.py                  # both layouts, 30 s of load each (~2.5 min)
    .venv/bin/python bench/role_split.py --layouts split --duration 20

The issue's finding: with the API serving 200 reads/s while 50 customers chat, customer replies
had a p99 of 5-6 s, because the bot, the API and the workers shared one event loop and one core.
Target: with the roles split on this 2-core machine, customer replies p99 < 500 ms.

What runs (all on loopback, PostgreSQL + Redis as the multi-process layout requires):

- the Bot API double with Telegram's flood limits on (`python -m sandbox`);
- the product exactly as shipped (`python -m supportbot run`), polling mode:
  `split` = one `--role api`, one `--role bot`, one `--role worker` (the workers: staff posts,
  campaigns, reminders; idle here but part of the layout); `all` = one `--role all`;
- this driver:
  - 50 customers (after a `/start` each, not measured) chatting: each sends a message, waits
    for the bot's answer, thinks 1-3 s (random, seeded), sends the next; the messages cycle
    through FAQ questions the bot answers itself and `/start` (welcome + main menu). Reply
    latency = the bot's first message in that chat (double's event stream) - start of the
    injection request. A message with no answer after 10 s counts as infinitely late.
  - 200 API reads/s, paced (open loop: a slow answer does not slow the offered load):
    `GET /v1/customers/{external_id}` with an API key (`customers:read`) over 200 customers
    the API upserted first, through a keep-alive pool of 64 connections. Latency = request
    start -> response read; any non-200 is an error.

CPU per process from /proc over the load window. Figures go to stdout and
bench/results/role_split.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(SELF.parent))

from scaleout import (  # noqa: E402
    create_database,
    drop_database,
    flush_redis,
    migrate,
    postgres_cpu,
    postgres_cpu_since,
)
from updates import TOKEN, Child, child_env, free_port, pct, wait_http  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "role_split.json"
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11")
TARGET_P99_MS = 500.0
MESSAGES = [
    "where is my order?",
    "/start",
    "how do I return an item?",
    "how long does delivery take?",
    "/start",
    "when will I get my refund?",
    "how much does delivery cost?",
]
NO_REPLY_S = 10.0


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def stats_ms(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}

    def r(x: float) -> float | None:
        return None if math.isinf(x) else round(x * 1000, 1)

    return {
        "n": len(values),
        "p50_ms": r(pct(values, 50)),
        "p90_ms": r(pct(values, 90)),
        "p99_ms": r(pct(values, 99)),
        "max_ms": r(max(values)),
    }


class Chats:
    """Per chat: the pending message's start time; the bot's first message after it answers it."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[float, asyncio.Future[float]]] = {}

    def expect(self, chat: int) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pending[chat] = (time.perf_counter(), fut)
        return fut

    def on_bot_message(self, chat: int) -> None:
        item = self.pending.pop(chat, None)
        if item is not None and not item[1].done():
            item[1].set_result(time.perf_counter() - item[0])


async def events(http: Any, base: str, chats: Chats, connected: asyncio.Event) -> None:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with http.get(f"{base}/sandbox/events", timeout=timeout) as resp:
        kind = ""
        async for raw in resp.content:
            if raw.startswith(b"event: "):
                kind = raw[7:].strip().decode()
            elif raw.startswith(b"data: ") and kind == "message_created":
                msg = json.loads(raw[6:])["message"]
                if msg.get("from_bot") and msg["chat_id"] > 0:
                    chats.on_bot_message(int(msg["chat_id"]))
            elif raw.startswith(b":"):
                connected.set()


async def start_product(name: str, role: str, env: dict[str, str], cwd: Path) -> Child:
    child = Child(
        name, [sys.executable, "-m", "supportbot", "run", "--role", role], env=child_env(env), cwd=cwd
    )
    await child.start(ready=lambda line: line.startswith("Role: "))
    await child.wait_ready()
    return child


async def run_layout(layout: str, cfg: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    res: dict[str, Any] = {"layout": layout, "loadavg_1min_at_start": round(os.getloadavg()[0], 2)}
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-roles-{layout}-"))
    pg_name, db_url = await create_database()
    await migrate(db_url)
    await flush_redis()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    double = Child(
        "double",
        [
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
        ],
        env=child_env({}),
        cwd=ROOT,
    )
    children: list[Child] = [double]
    stop_reader: asyncio.Task[None] | None = None
    try:
        await double.start()
        env = {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": base,
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS_URL,
            "POLLING_TIMEOUT": "10",
            "LOG_LEVEL": "WARNING",
            "BUSINESS_NAME": "Demo Shop",
        }
        from core import apikeys
        from core.clock import SystemClock
        from storage.db import create_engine, create_sessionmaker

        engine = create_engine(db_url)
        async with create_sessionmaker(engine).begin() as s:
            key, _ = await apikeys.create_api_key(s, clock=SystemClock(), name="bench", scopes=["*"])
        await engine.dispose()
        api_port = free_port()
        procs: dict[str, Child] = {}
        if layout == "split":
            procs["api"] = await start_product("api", "api", {**env, "API_PORT": str(api_port)}, tmp)
            procs["bot"] = await start_product("bot", "bot", {**env, "API_PORT": str(free_port())}, tmp)
            worker_env = {**env, "API_PORT": str(free_port())}
            procs["worker"] = await start_product("worker", "worker", worker_env, tmp)
        else:
            procs["all"] = await start_product("all", "all", {**env, "API_PORT": str(api_port)}, tmp)
        children.extend(procs.values())
        api_url = f"http://127.0.0.1:{api_port}"
        rng = random.Random(cfg.seed)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            await wait_http(http, f"{base}/sandbox")
            chats = Chats()
            connected = asyncio.Event()
            stop_reader = asyncio.create_task(events(http, base, chats, connected))
            await asyncio.wait_for(connected.wait(), 10)

            async def create_user(i: int) -> int:
                async with http.post(
                    f"{base}/sandbox/users", json={"first_name": f"C{i}", "language_code": "en"}
                ) as r:
                    return int((await r.json())["id"])

            users = [await create_user(i) for i in range(cfg.customers)]

            async def say(user: int, text: str) -> float:
                fut = chats.expect(user)
                async with http.post(f"{base}/sandbox/users/{user}/send", json={"text": text}) as r:
                    await r.read()
                try:
                    return await asyncio.wait_for(fut, NO_REPLY_S)
                except TimeoutError:
                    chats.pending.pop(user, None)
                    return math.inf

            log(f"  {layout}: warm-up (/start for {len(users)} customers, 200 customers through the API)")
            await asyncio.gather(*(say(u, "/start") for u in users))
            headers = {"Authorization": f"Bearer {key}"}
            api_ids = [f"crm-{i}" for i in range(200)]
            api_pool = aiohttp.TCPConnector(limit=64)
            async with aiohttp.ClientSession(connector=api_pool, headers=headers) as api:
                for cid in api_ids:
                    async with api.put(f"{api_url}/v1/customers/{cid}", json={"first_name": cid}) as r:
                        assert r.status in (200, 201), await r.text()
                await asyncio.sleep(1.0)

                loop = asyncio.get_running_loop()
                t_end = loop.time() + cfg.duration
                chat_lat: list[float] = []
                api_lat: list[float] = []
                api_errors = 0

                async def customer(user: int, offset: int) -> None:
                    i = offset
                    await asyncio.sleep(rng.uniform(0, cfg.think_max))
                    while loop.time() < t_end:
                        chat_lat.append(await say(user, MESSAGES[i % len(MESSAGES)]))
                        i += 1
                        await asyncio.sleep(rng.uniform(cfg.think_min, cfg.think_max))

                async def one_read(cid: str) -> None:
                    nonlocal api_errors
                    t = time.perf_counter()
                    try:
                        async with api.get(f"{api_url}/v1/customers/{cid}") as r:
                            await r.read()
                            ok = r.status == 200
                    except aiohttp.ClientError:
                        ok = False
                    api_lat.append(time.perf_counter() - t if ok else math.inf)
                    api_errors += not ok

                async def reads() -> None:
                    tasks = []
                    t0 = loop.time()
                    n = int(cfg.api_rate * cfg.duration)
                    for i in range(n):
                        delay = t0 + i / cfg.api_rate - loop.time()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        tasks.append(asyncio.create_task(one_read(api_ids[i % len(api_ids)])))
                    await asyncio.gather(*tasks)

                log(
                    f"  {layout}: load for {cfg.duration:.0f} s ({cfg.api_rate:.0f} API reads/s, "
                    f"{len(users)} customers chatting)"
                )
                pg0 = postgres_cpu()
                cpu0 = (
                    {k: c.cpu_seconds() for k, c in procs.items()},
                    double.cpu_seconds(),
                    0.0,
                    time.process_time(),
                )
                started = loop.time()
                jobs = [reads()] if cfg.api_rate > 0 else []
                jobs += [customer(u, i) for i, u in enumerate(users)] if cfg.customers else []
                await asyncio.gather(*jobs)
                wall = loop.time() - started
                cpu1 = (
                    {k: c.cpu_seconds() for k, c in procs.items()},
                    double.cpu_seconds(),
                    postgres_cpu_since(pg0),
                    time.process_time(),
                )
            res["chat"] = stats_ms(chat_lat)
            res["chat"]["unanswered"] = sum(1 for x in chat_lat if math.isinf(x))
            res["chat"]["per_s"] = round(len(chat_lat) / wall, 1)
            res["api"] = stats_ms(api_lat)
            res["api"]["errors"] = api_errors
            res["api"]["per_s"] = round(len(api_lat) / wall, 1)
            res["cpu_share"] = {k: round(((cpu1[0][k] or 0) - (cpu0[0][k] or 0)) / wall, 3) for k in procs}
            res["cpu_share"]["double"] = round(((cpu1[1] or 0) - (cpu0[1] or 0)) / wall, 3)
            res["cpu_share"]["postgres"] = round((cpu1[2] - cpu0[2]) / wall, 3)
            res["cpu_share"]["driver"] = round((cpu1[3] - cpu0[3]) / wall, 3)
            async with http.get(f"{base}/sandbox/violations") as r:
                res["violations"] = len(await r.json())
            async with http.get(f"{base}/sandbox/calls", params={"method": "sendMessage"}) as r:
                res["flood_429"] = sum(1 for c in await r.json() if c["status"] == 429)
    finally:
        if stop_reader is not None:
            stop_reader.cancel()
            await asyncio.gather(stop_reader, return_exceptions=True)
        await asyncio.gather(*(c.stop(timeout=15) for c in children[::-1]), return_exceptions=True)
        await drop_database(pg_name)
        await flush_redis()
    res["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)
    return res


def report(rows: list[dict[str, Any]], cfg: argparse.Namespace) -> None:
    print(
        f"\n{cfg.api_rate:.0f} API reads/s + {cfg.customers} customers chatting, {cfg.duration:.0f} s, "
        "PostgreSQL + Redis, flood limits on"
    )
    head = (
        f"{'layout':7} | {'chat p50':>8} {'p99':>7} {'max':>7} {'msgs/s':>6} {'no reply':>8} | "
        f"{'api p50':>7} {'p99':>6} {'max':>7} {'reads/s':>7} {'errors':>6} | CPU share (1.0 = one core)"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        if "chat" not in r:
            print(f"{r['layout']:7} | failed: {r.get('error', '?')[:90]}")
            continue
        c, a = r["chat"], r["api"]
        print(
            f"{r['layout']:7} | {c.get('p50_ms')!s:>8} {c.get('p99_ms')!s:>7} {c.get('max_ms')!s:>7} "
            f"{c['per_s']:6.1f} {c['unanswered']:8d} | {a.get('p50_ms')!s:>7} {a.get('p99_ms')!s:>6} "
            f"{a.get('max_ms')!s:>7} {a['per_s']:7.1f} {a['errors']:6d} | {r['cpu_share']}  "
            f"(load {r['loadavg_1min_at_start']}->{r['loadavg_1min_at_end']})"
        )
    split = next((r for r in rows if r["layout"] == "split" and "chat" in r), None)
    if split:
        p99 = split["chat"].get("p99_ms")
        ok = p99 is not None and p99 < TARGET_P99_MS
        verdict = "PASS" if ok else "FAIL"
        print(f"\nsplit: customer replies p99 {p99} ms (target < {TARGET_P99_MS:.0f} ms)  {verdict}")
    print("chat: injection start -> the bot's first message in that chat;")
    print("api: request start -> response read.")


async def amain(cfg: argparse.Namespace) -> int:
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    load0 = [round(x, 2) for x in os.getloadavg()]
    rows = []
    failed = False
    try:
        for layout in cfg.layouts.split(","):
            try:
                rows.append(await run_layout(layout, cfg))
            except Exception as exc:
                failed = True
                log(f"  {layout} FAILED: {exc}")
                rows.append({"layout": layout, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        await asyncio.gather(*(c.stop() for c in list(Child.live)), return_exceptions=True)
    report(rows, cfg)
    load1 = [round(x, 2) for x in os.getloadavg()]
    print(f"load average (1 min) {load0[0]} at start, {load1[0]} at end, {os.cpu_count()} CPUs")
    out = {
        "benchmark": "bench/role_split.py",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": load0,
            "loadavg_at_end": load1,
        },
        "config": {k: v for k, v in vars(cfg).items() if k != "json"},
        "target_chat_p99_ms": TARGET_P99_MS,
        "layouts": rows,
    }
    cfg.json.parent.mkdir(parents=True, exist_ok=True)
    cfg.json.write_text(json.dumps(out, indent=2) + "\n")
    print(f"figures written to {cfg.json}")
    return 2 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/role_split.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--layouts", default="split,all", help="comma list of split, all")
    p.add_argument("--customers", type=int, default=50)
    p.add_argument("--api-rate", type=float, default=200.0, help="API reads per second")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    p.add_argument("--think-min", type=float, default=1.0)
    p.add_argument("--think-max", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, default=RESULTS)
    cfg = p.parse_args(argv)
    try:
        return asyncio.run(amain(cfg))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; child processes stopped", file=sys.stderr)
        return 130
    finally:
        Child.kill_all_now()


if __name__ == "__main__":
    sys.exit(main())
