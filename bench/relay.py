#!/usr/bin/env python
"""Benchmark: the product's cost per relayed support message, each way.

    .venv/bin/python bench/relay.py                    # 20 customers, 200 relays each way, 1 run
    .venv/bin/python bench/relay.py --runs 3           # the figures the issue asks for (medians)
    .venv/bin/python bench/relay.py --quick            # smoke run (5 customers, 40 relays each way)
    .venv/bin/python bench/relay.py --profile /tmp/relay-prof --runs 1   # cProfile of each batch

Processes, all on loopback (see bench/updates.py, whose helpers this reuses):

- the Bot API double: `python -m sandbox --no-flood-limits`, fresh per run;
- the product: `supportbot run` (BOT_TOKEN + TELEGRAM_API_URL pointing at the double, SQLite in a
  temp dir, SUPPORT_CHAT_ID = a forum group created in the double with one staff member), started
  through `bench/relay.py --product`, which is `supportbot run` with its own flood gate off
  (exactly as bench/updates.py's "product"); `--gated` runs `python -m supportbot run` as shipped
  (its sender keeps to Telegram's limits: ~29 messages/s, 1/s per private chat, and
  SUPPORT_GROUP_PER_MINUTE into the staff group, at most 1000);
- this driver: SandboxClient (sandbox/client.py) for the world and the users' actions, and the
  double's SSE stream (GET /sandbox/events) to see what the bot posts.

Per run: K customers each send /human, get "Request #1 is open", and write a first message,
which makes the product create their forum topic and post the card; the driver waits until every
customer's topic exists and the card (carrying that first message) was posted. Warm-up: one more
customer message and one staff reply per customer (so each case already had its first reply).
Then, with the product's CPU time read from /proc/<pid>/stat around each batch:

1. customer -> staff: N texts round-robin over the customers; each customer has one message in
   flight (the next is sent once the previous one appeared in its topic), so every message is
   relayed on its own (`--burst` sends them all at once instead: the product then merges queued
   texts of one customer into one post, which is cheaper per message);
2. staff -> customer: N replies by the staff member, round-robin in the customers' topics (a
   plain message in the topic, as tests/e2e/test_support.py does), one in flight per topic,
   until all N reached the customers' private chats.

CPU ms/relay = product CPU time (user + system) over the batch / N. relays/s = N / (first send
-> last arrival). RSS = the product's VmRSS sampled every 0.1 s after the warm-up, max.
Targets (from the issue): at most 10 ms CPU each way and 200 MB RSS, toward 3 ms. Figures go to
stdout and bench/results/relay.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
sys.path.insert(0, str(SELF.parent))  # bench/updates.py's helpers
sys.path.insert(0, str(ROOT))  # sandbox.client

import updates  # noqa: E402
from updates import TOKEN, Child, child_env, free_port, ms, pct  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "relay.json"
TARGET_CPU_MS = 10.0
GOAL_CPU_MS = 3.0
TARGET_RSS_MB = 200.0
# The issue: "a popular relay bot measured 6.9 ms and 8.4 ms and 191 MB side by side on the same
# double" (customer -> staff, staff -> customer, RSS).
REFERENCE = {"c2s_cpu_ms": 6.9, "s2c_cpu_ms": 8.4, "rss_mb": 191.0}
DIRECTIONS = (("c2s", "customer -> staff"), ("s2c", "staff -> customer"))
PROFILE_NAMES = ("c2s", "s2c")

SETUP_RE = re.compile(r"\bk(\d{4})\b")
C2S_RE = re.compile(r"\bc(\d{6})\b")
S2C_RE = re.compile(r"\bs(\d{6})\b")


# ====================================================================== the product


def product_main(argv: Sequence[str]) -> int:
    """`relay.py --product [--flood-gate] [--profile-dir DIR]`: `supportbot run` (gate off unless
    --flood-gate), with SIGUSR1/SIGUSR2 starting/stopping a cProfile of the main thread when
    --profile-dir is given (dumps DIR/c2s.prof, then DIR/s2c.prof)."""
    argv = list(argv)
    if "--profile-dir" in argv:
        i = argv.index("--profile-dir")
        out = Path(argv[i + 1])
        del argv[i : i + 2]
        _install_profile_signals(out)
    return updates.product_main(argv)


SQL_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def _sql_key(statement: str) -> str:
    """ "SELECT group_posts": the statement's verb and its first table."""
    words = statement.split(None, 1)
    verb = words[0].upper() if words else "?"
    table = SQL_TABLE.search(statement)
    return f"{verb} {table.group(1)}" if table else verb


def _install_profile_signals(out: Path) -> None:
    """SIGUSR1 starts a cProfile of the main thread (its CPU time) and a count of SQL statements;
    SIGUSR2 stops them and writes DIR/<name>.prof and DIR/<name>.sql.json."""
    import cProfile

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    out.mkdir(parents=True, exist_ok=True)
    names = iter(PROFILE_NAMES)
    current: list[cProfile.Profile] = []
    sql: Counter[str] = Counter()
    trace: list[str] = []  # the batch's first statements in order, with the task that ran them

    def _note(key: str) -> None:
        sql[key] += 1
        if len(trace) < 400:
            task = None
            with contextlib.suppress(RuntimeError):
                task = asyncio.current_task()
            trace.append(f"{task.get_name() if task else '-':<24} {key}")

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if current:
            _note(_sql_key(statement))

    @event.listens_for(Engine, "commit")
    def _commit(_conn: Any) -> None:
        if current:
            _note("COMMIT")

    @event.listens_for(Engine, "rollback")
    def _rollback(_conn: Any) -> None:
        if current:
            _note("ROLLBACK")

    def start(_sig: int, _frame: Any) -> None:
        if not current:
            sql.clear()
            trace.clear()
            # The main thread's CPU time, not wall time: waiting (epoll, the GIL, other
            # processes on a busy machine) does not count, so the profile says where CPU goes.
            prof = cProfile.Profile(time.thread_time)
            current.append(prof)
            prof.enable()

    def stop(_sig: int, _frame: Any) -> None:
        if current:
            prof = current.pop()
            prof.disable()
            name = next(names, f"extra-{time.time():.0f}")
            (out / f"{name}.sql.json").write_text(json.dumps(dict(sql.most_common()), indent=1))
            (out / f"{name}.sql.trace").write_text("\n".join(trace) + "\n")
            tmp = out / f"{name}.prof.tmp"
            prof.dump_stats(str(tmp))
            tmp.rename(out / f"{name}.prof")

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


# ====================================================================== what the bot posts


class Watch:
    """Reads the double's SSE stream; resolves a future per marker seen in a bot message."""

    def __init__(self, base: str, group: int) -> None:
        self.base = base
        self.group = group
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.threads: dict[int, int] = {}  # setup marker (customer index) -> topic thread id
        self.posts: dict[str, int] = {"c2s": 0, "s2c": 0}
        self.connected = asyncio.Event()
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def expect(self, marker: str) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[marker] = fut
        return fut

    def _seen(self, marker: str, t: float) -> bool:
        fut = self.waiting.pop(marker, None)
        if fut is not None and not fut.done():
            fut.set_result(t)
            return True
        return False

    def on_message(self, msg: dict[str, Any], t: float) -> None:
        if not msg.get("from_bot"):
            return
        text = msg.get("text") or ""
        if msg["chat_id"] == self.group:
            for m in SETUP_RE.finditer(text):
                self.threads.setdefault(int(m.group(1)), msg.get("message_thread_id"))
                self._seen("k" + m.group(1), t)
            hits = [self._seen("c" + m.group(1), t) for m in C2S_RE.finditer(text)]
            if any(hits):
                self.posts["c2s"] += 1
        else:
            hits = [self._seen("s" + m.group(1), t) for m in S2C_RE.finditer(text)]
            if any(hits):
                self.posts["s2c"] += 1
            for needle in ("Request #", "is open"):
                if needle not in text:
                    break
            else:
                self._seen(f"open{msg['chat_id']}", t)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        done, _ = await asyncio.wait(
            {self._task, asyncio.ensure_future(self.connected.wait())},
            timeout=10,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._task in done:
            self._task.result()
        if not self.connected.is_set():
            raise RuntimeError("no event stream from the double")

    async def _run(self) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.base}/sandbox/events", timeout=timeout) as resp,
        ):
            resp.raise_for_status()
            event_type = ""
            async for raw in resp.content:
                t_now = time.perf_counter()
                if raw.startswith(b"event: "):
                    event_type = raw[7:].strip().decode()
                elif raw.startswith(b"data: ") and event_type == "message_created":
                    self.on_message(json.loads(raw[6:])["message"], t_now)
                elif raw.startswith(b":"):
                    self.connected.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# ====================================================================== measurement


@dataclass
class Config:
    customers: int = 20
    n: int = 200
    runs: int = 1
    burst: bool = False
    gated: bool = False
    profile_dir: Path | None = None
    timeout: float = 60.0  # for one relay to arrive


def rss_mb(pid: int) -> tuple[float | None, float | None]:
    """(VmRSS, VmHWM) of a process in MB (Linux /proc)."""
    cur = hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:  # noqa: ASYNC230 - tiny procfs read
            for line in f:
                if line.startswith("VmRSS:"):
                    cur = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    return cur, hwm


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of a process (Linux /proc/<pid>/task)."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:  # noqa: ASYNC230 - tiny procfs read
                    fields = f.read().rsplit(")", 1)[1].split()
                out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


class RssSampler:
    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.max_mb = 0.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            cur, _ = rss_mb(self.pid)
            if cur is not None:
                self.max_mb = max(self.max_mb, cur)
                self.samples += 1
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        cur, _ = rss_mb(self.pid)  # one last look
        if cur is not None:
            self.max_mb = max(self.max_mb, cur)


async def start_product(cfg: Config, api: str, tmp: Path, group: int, log: Callable[[str], None]) -> Child:
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
        "API_PORT": str(free_port()),
        "POLLING_TIMEOUT": "1",
        "LOG_LEVEL": "WARNING",
        "BUSINESS_NAME": "Demo Shop",
        "SUPPORT_CHAT_ID": str(group),
        # The settings' maximum (le=1000): with the flood gate off it is not used at all.
        "SUPPORT_GROUP_PER_MINUTE": "1000",
    }
    py = sys.executable
    if cfg.profile_dir is None and cfg.gated:
        argv = [py, "-m", "supportbot", "run"]
    else:
        argv = [py, str(SELF), "--product"]
        if cfg.gated:
            argv.append("--flood-gate")
        if cfg.profile_dir is not None:
            argv += ["--profile-dir", str(cfg.profile_dir)]
    # cwd is the temp dir: no developer .env is picked up, nothing is written to the tree.
    child = Child("product", argv, env=child_env(env), cwd=tmp)
    await child.start(ready=lambda line: line.startswith("Bot: @"))
    await child.wait_ready()
    return child


async def wait_all(futs: list[asyncio.Future[float]], timeout: float, what: str) -> None:
    if not futs:
        return
    done, pending = await asyncio.wait(futs, timeout=timeout)
    if pending:
        raise RuntimeError(f"{what}: {len(pending)} of {len(futs)} not seen after {timeout:.0f}s")


async def batch(
    direction: str,
    n: int,
    customers: list[dict[str, Any]],
    send: Callable[[dict[str, Any], str], Any],
    watch: Watch,
    seq: itertools.count[int],
    *,
    burst: bool,
    timeout: float,
) -> dict[str, Any]:
    """N relays round-robin over the customers; returns wall time and per-relay latencies."""
    prefix = "c" if direction == "c2s" else "s"
    plan: list[list[str]] = [[] for _ in customers]
    for i in range(n):
        plan[i % len(customers)].append(f"{prefix}{next(seq):06d}")
    lat: list[float] = []
    posts0 = watch.posts[direction]
    t0 = time.perf_counter()
    last = t0

    async def one(cust: dict[str, Any], marker: str) -> asyncio.Future[float]:
        fut = watch.expect(marker)
        t = time.perf_counter()
        await send(cust, marker)
        fut.add_done_callback(lambda f, t=t: lat.append(f.result() - t) if not f.cancelled() else None)
        return fut

    if burst:
        sem = asyncio.Semaphore(16)
        order = [
            (c, plan[c][j]) for j in range(max(map(len, plan))) for c in range(len(plan)) if j < len(plan[c])
        ]

        async def limited(c: int, marker: str) -> asyncio.Future[float]:
            async with sem:
                return await one(customers[c], marker)

        futs = list(await asyncio.gather(*(limited(c, m) for c, m in order)))
        await wait_all(futs, timeout, direction)
        last = max(f.result() for f in futs)
    else:

        async def lane(c: int) -> float:
            end = t0
            for marker in plan[c]:
                fut = await one(customers[c], marker)
                end = await asyncio.wait_for(fut, timeout)
            return end

        last = max(await asyncio.gather(*(lane(c) for c in range(len(customers)))))
    wall = last - t0
    return {
        "n": n,
        "wall_s": round(wall, 3),
        "relays_per_s": round(n / wall, 1) if wall > 0 else None,
        "posts": watch.posts[direction] - posts0,
        "p50_ms": ms(pct(lat, 50)),
        "p99_ms": ms(pct(lat, 99)),
        "max_ms": ms(max(lat)) if lat else None,
    }


async def profile_signal(product: Child, sig: int) -> None:
    assert product.proc is not None
    product.proc.send_signal(sig)
    await asyncio.sleep(0.2)


async def run_once(cfg: Config, run_no: int, log: Callable[[str], None]) -> dict[str, Any]:
    from sandbox.client import SandboxClient

    res: dict[str, Any] = {"run": run_no, "loadavg_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmpdir:
        tmp = Path(tmpdir)
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
                "--no-flood-limits",
                "--token",
                TOKEN,
                "--log-level",
                "WARNING",
            ],
            env=child_env({}),
            cwd=ROOT,
        )
        product: Child | None = None
        watch: Watch | None = None
        sampler: RssSampler | None = None
        async with SandboxClient(base, timeout=60) as tg:
            try:
                await double.start()
                for _ in range(400):
                    with contextlib.suppress(Exception):
                        await tg.summary()
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise RuntimeError("the double did not come up:\n" + "\n".join(double.output))

                # The staff forum group with one support agent (as tests/e2e/conftest.py does).
                agent = await tg.create_user("Olga", last_name="Support", language_code="en")
                group = (
                    await tg.create_forum_group(
                        "Support", members=[{"user_id": agent["id"], "status": "administrator"}]
                    )
                )["id"]
                customers = [
                    await tg.create_user(f"Customer{k:03d}", language_code="en") for k in range(cfg.customers)
                ]
                for k, c in enumerate(customers):
                    c["k"] = k
                watch = Watch(base, group)
                await watch.start()

                t = time.perf_counter()
                product = await start_product(cfg, base, tmp, group, log)
                res["product_start_s"] = round(time.perf_counter() - t, 2)
                assert product.proc is not None
                pid = product.proc.pid

                # Every customer opens a case, then writes: topic created, card posted.
                log(f"  run {run_no}: {cfg.customers} customers open a case (/human) and get their topic")
                sem = asyncio.Semaphore(8)

                async def open_case(c: dict[str, Any]) -> None:
                    async with sem:
                        opened = watch.expect(f"open{c['id']}")
                        await tg.send_text(c["id"], "/human")
                        await asyncio.wait_for(opened, cfg.timeout)
                        carded = watch.expect(f"k{c['k']:04d}")
                        await tg.send_text(c["id"], f"k{c['k']:04d} hello, my order did not arrive")
                        await asyncio.wait_for(carded, cfg.timeout)

                await asyncio.gather(*(open_case(c) for c in customers))
                topics = {t["message_thread_id"] for t in await tg.topics(group) if not t.get("deleted")}
                for c in customers:
                    c["thread"] = watch.threads.get(c["k"])
                    if c["thread"] is None or c["thread"] not in topics:
                        raise RuntimeError(f"customer {c['k']} has no topic")
                res["topics"] = len(topics)

                async def customer_says(c: dict[str, Any], marker: str) -> None:
                    await tg.send_text(c["id"], f"{marker} where is my parcel? it is late")

                async def staff_says(c: dict[str, Any], marker: str) -> None:
                    await tg.staff_send(group, c["thread"], agent["id"], f"{marker} it ships today, sorry")

                seq = itertools.count()
                log(f"  run {run_no}: warm-up (one relay each way per customer)")
                for direction, send in (("c2s", customer_says), ("s2c", staff_says)):
                    await batch(
                        direction,
                        len(customers),
                        customers,
                        send,
                        watch,
                        seq,
                        burst=False,
                        timeout=cfg.timeout,
                    )
                await asyncio.sleep(1.0)
                sampler = RssSampler(pid)
                sampler.start()

                # What the product burns doing nothing (polling, idle workers), for context.
                c0, t0 = product.cpu_seconds(), time.perf_counter()
                await asyncio.sleep(2.0)
                c1, t1 = product.cpu_seconds(), time.perf_counter()
                if c0 is not None and c1 is not None:
                    res["idle_cpu_ms_per_s"] = round((c1 - c0) / (t1 - t0) * 1000, 2)

                for direction, send in (("c2s", customer_says), ("s2c", staff_says)):
                    label = dict(DIRECTIONS)[direction]
                    log(
                        f"  run {run_no}: {label}: {cfg.n} relays round-robin over {len(customers)} customers"
                    )
                    if cfg.profile_dir is not None:
                        await profile_signal(product, signal.SIGUSR1)
                    last_call = await tg.call_log(limit=1)
                    since = last_call[-1]["id"] if last_call else 0
                    cpu0, w0, thr0 = product.cpu_seconds(), time.perf_counter(), thread_cpu(pid)
                    r = await batch(
                        direction, cfg.n, customers, send, watch, seq, burst=cfg.burst, timeout=cfg.timeout
                    )
                    await asyncio.sleep(0.3)  # the bookkeeping after the last send (marks, ids)
                    cpu1, w1, thr1 = product.cpu_seconds(), time.perf_counter(), thread_cpu(pid)
                    if cfg.profile_dir is not None:
                        await profile_signal(product, signal.SIGUSR2)
                    if cpu0 is not None and cpu1 is not None:
                        r["cpu_s"] = round(cpu1 - cpu0, 3)
                        r["cpu_ms_per_relay"] = round((cpu1 - cpu0) / cfg.n * 1000, 3)
                        # Informative: less what the product burns idle over the same window.
                        idle = res.get("idle_cpu_ms_per_s", 0.0) / 1000 * (w1 - w0)
                        r["cpu_ms_per_relay_less_idle"] = round((cpu1 - cpu0 - idle) / cfg.n * 1000, 3)
                    # The event loop's thread vs the others (aiosqlite's connection threads...).
                    main = thr1.get(pid, 0.0) - thr0.get(pid, 0.0)
                    other = sum(v - thr0.get(t, 0.0) for t, v in thr1.items() if t != pid)
                    r["cpu_ms_per_relay_main_thread"] = round(main / cfg.n * 1000, 3)
                    r["cpu_ms_per_relay_other_threads"] = round(other / cfg.n * 1000, 3)
                    r["threads"] = len(thr1)
                    # What the product asked of the Bot API during the batch (the double's log).
                    calls = Counter(c["method"] for c in await tg.call_log(since_id=since))
                    r["bot_api_calls"] = dict(calls.most_common())
                    res[direction] = r
                    await asyncio.sleep(0.5)
                await sampler.stop()
                res["rss_max_mb"] = round(sampler.max_mb, 1)
                res["rss_samples"] = sampler.samples
                res["vm_hwm_mb"] = round(rss_mb(pid)[1] or 0.0, 1)
                res["violations"] = len(await tg.violations())
            finally:
                if sampler is not None:
                    await sampler.stop()
                if watch is not None:
                    await watch.stop()
                if product is not None:
                    code = await product.stop(timeout=10.0)
                    if code not in (0, None, -signal.SIGTERM):
                        res["product_exit_code"] = code
                        res["product_output_tail"] = list(product.output)[-20:]
                await double.stop()
    return res


# ====================================================================== report


def median_of(runs: list[dict[str, Any]], *path: str) -> float | None:
    vals = []
    for r in runs:
        v: Any = r
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            vals.append(float(v))
    return round(statistics.median(vals), 3) if vals else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d, _ in DIRECTIONS:
        out[d] = {
            k: median_of(runs, d, k)
            for k in (
                "cpu_ms_per_relay",
                "cpu_ms_per_relay_less_idle",
                "cpu_ms_per_relay_main_thread",
                "cpu_ms_per_relay_other_threads",
                "relays_per_s",
                "p50_ms",
                "p99_ms",
                "posts",
                "wall_s",
            )
        }
    out["rss_max_mb"] = median_of(runs, "rss_max_mb")
    out["vm_hwm_mb"] = median_of(runs, "vm_hwm_mb")
    out["idle_cpu_ms_per_s"] = median_of(runs, "idle_cpu_ms_per_s")
    return out


def checks(summary: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = {}
    for d, _ in DIRECTIONS:
        v = summary[d]["cpu_ms_per_relay"]
        c[f"{d}_cpu_ok"] = v is not None and v <= TARGET_CPU_MS
        c[f"{d}_cpu_goal_met"] = v is not None and v <= GOAL_CPU_MS
    rss = summary["rss_max_mb"]
    c["rss_ok"] = rss is not None and rss <= TARGET_RSS_MB
    return c


def fmt(x: Any, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def print_report(
    cfg: Config, runs: list[dict[str, Any]], summary: dict[str, Any], ok: dict[str, Any]
) -> None:
    print()
    gate = "as shipped (its flood gate on)" if cfg.gated else "its own flood gate off"
    how = "all at once (merging allowed)" if cfg.burst else "one in flight per customer"
    print(
        f"Support relay: {cfg.customers} customers with an open topic, {cfg.n} relays each way, "
        f"round-robin, {how}; double with flood limits off, product {gate}."
    )
    if cfg.profile_dir is not None:
        print("UNDER cProfile: the CPU figures include the profiler's overhead.")
    head = (
        f"{'run':>4} {'direction':18} | {'cpu ms/relay':>12} {'relays/s':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'posts':>6}"
    )
    print(head)
    print("-" * len(head))
    rows = [(str(r["run"]), r) for r in runs]
    if len(runs) > 1:
        rows.append(("med", summary))
    for name, r in rows:
        for d, label in DIRECTIONS:
            x = r.get(d) or {}
            cpu, rate = fmt(x.get("cpu_ms_per_relay")), fmt(x.get("relays_per_s"), ".1f")
            p50, p99, posts = (
                fmt(x.get("p50_ms"), ".1f"),
                fmt(x.get("p99_ms"), ".1f"),
                fmt(x.get("posts"), ".0f"),
            )
            print(f"{name:>4} {label:18} | {cpu:>12} {rate:>9} {p50:>7} {p99:>7} {posts:>6}")
    print()
    rss = [fmt(r.get("rss_max_mb"), ".1f") for r in runs]
    print(
        f"product RSS, max after warm-up: {fmt(summary['rss_max_mb'], '.1f')} MB"
        + (f" (runs: {', '.join(rss)})" if len(runs) > 1 else "")
        + f"; peak over its life (VmHWM) {fmt(summary['vm_hwm_mb'], '.1f')} MB"
    )
    idle = fmt(summary["idle_cpu_ms_per_s"])
    print(f"product idle CPU (polling, workers) before the batches: {idle} ms per s", end="")
    less = [fmt(summary[d]["cpu_ms_per_relay_less_idle"]) for d, _ in DIRECTIONS]
    print(f"; cpu ms/relay less that: {less[0]} (c2s), {less[1]} (s2c)")
    for d, label in DIRECTIONS:
        x = summary[d]
        print(
            f"{label}: cpu ms/relay in the event loop's thread {fmt(x['cpu_ms_per_relay_main_thread'])}, "
            f"in the other threads (aiosqlite...) {fmt(x['cpu_ms_per_relay_other_threads'])}"
        )
    for d, label in DIRECTIONS:
        calls = (runs[0].get(d) or {}).get("bot_api_calls") if runs else None
        if calls:
            shown = ", ".join(f"{m} {n}" for m, n in calls.items())
            print(f"Bot API calls during the {label} batch (run {runs[0]['run']}): {shown}")
    print()
    med = "median " if len(runs) > 1 else ""
    for d, label in DIRECTIONS:
        v = summary[d]["cpu_ms_per_relay"]
        goal = "goal met" if ok[f"{d}_cpu_goal_met"] else f"goal {GOAL_CPU_MS:.0f} ms not yet met"
        verdict = "PASS" if ok[f"{d}_cpu_ok"] else "FAIL"
        print(
            f"{label:18} {med}CPU {fmt(v)} ms/relay (target <= {TARGET_CPU_MS:.0f} ms)  "
            f"{verdict}; {goal}; reference relay bot {REFERENCE[f'{d}_cpu_ms']} ms"
        )
    print(
        f"{'RSS':18} {med}{fmt(summary['rss_max_mb'], '.1f')} MB (target <= {TARGET_RSS_MB:.0f} MB)  "
        f"{'PASS' if ok['rss_ok'] else 'FAIL'}; reference relay bot {REFERENCE['rss_mb']:.0f} MB"
    )
    print()
    print("cpu ms/relay: the product process's CPU time (user+system, /proc) over the batch / N, incl. 0.3 s")
    print("  after the last arrival; relays/s: N / (first send -> last arrival seen on the double's event")
    print("  stream); p50/p99: send request start -> arrival; posts: bot messages that carried the relays.")


def by_package(path: Path) -> list[tuple[str, float]]:
    """Own (tottime) seconds of a profile grouped by package: sqlalchemy, aiogram, product:bot..."""
    import pstats

    stats = pstats.Stats(str(path))
    tot: Counter[str] = Counter()
    for (fn, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in fn:
            key = fn.split("site-packages/", 1)[1].split("/", 1)[0]
        elif fn.startswith(str(ROOT) + "/"):
            key = "product: " + fn[len(str(ROOT)) + 1 :].split("/", 1)[0]
        elif fn == "~":
            key = "idle (epoll)" if "poll" in func else f"builtin: {func}"
        else:
            key = "stdlib: " + fn.rsplit("/", 1)[-1]
        tot[key] += tt
    return [(k, round(v, 2)) for k, v in tot.most_common()]


def print_profiles(prof_dir: Path, n: int, top: int = 15) -> None:
    """Top functions of each batch's profile (main thread only: aiosqlite's thread is not in it)."""
    import io
    import pstats

    def table(path: Path, *restrict: Any) -> str:
        buf = io.StringIO()
        pstats.Stats(str(path), stream=buf).sort_stats("cumulative").print_stats(*restrict)
        text = buf.getvalue()
        start = text.find("   ncalls")
        return (text[start:] if start >= 0 else text).rstrip()

    for name, label in DIRECTIONS:
        path = prof_dir / f"{name}.prof"
        if not path.exists():
            print(f"(no profile {path})")
            continue
        print(f"\n=== {label}: top {top} by cumulative time ({path}) ===")
        print(table(path, top))
        print(f"\n=== {label}: the product's own code (bot, core, storage, dialogs, api), top {top} ===")
        print(table(path, re.escape(str(ROOT)) + r"/(bot|core|storage|dialogs|api)/", top))
        print(f"\n=== {label}: main-thread CPU by package (own time, s) ===")
        for pkg, secs in by_package(path)[:12]:
            print(f"  {secs:7.2f}  {pkg}")
        sql_path = prof_dir / f"{name}.sql.json"
        if sql_path.exists() and n:
            counts = json.loads(sql_path.read_text())
            total = sum(v for k, v in counts.items() if k not in ("COMMIT", "ROLLBACK"))
            print(
                f"\n=== {label}: SQL per relay: {total / n:.1f} statements, "
                f"{counts.get('COMMIT', 0) / n:.1f} commits ==="
            )
            for key, count in list(counts.items())[:15]:
                print(f"  {count / n:6.2f}  {key}")
    print(
        "\n(cProfile of the event loop's thread timed by its own CPU time (time.thread_time), which"
        "\nroughly quadruples the CPU figures of a profiled run; every resumption of a coroutine"
        "\ncounts as a call, greenlet switches blur cumulative times; aiosqlite's thread is not in it.)"
    )


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


async def amain(args: argparse.Namespace) -> int:
    cfg = Config(runs=args.runs, burst=args.burst, gated=args.gated, profile_dir=args.profile)
    if args.quick:
        cfg.customers, cfg.n = 5, 40
    if args.customers is not None:
        cfg.customers = args.customers
    if args.n is not None:
        cfg.n = args.n
    if cfg.customers < 1 or cfg.n < 1 or cfg.runs < 1:
        raise SystemExit("--customers, --n and --runs must be at least 1")
    if cfg.profile_dir is not None:
        cfg.profile_dir = cfg.profile_dir.resolve()

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    load_start = [round(x, 2) for x in os.getloadavg()]
    if load_start[0] > (os.cpu_count() or 1) * 0.5:
        log(
            f"warning: load average {load_start[0]:.1f} on {os.cpu_count()} CPUs before the start; "
            "other work on the machine disturbs relays/s (CPU per relay much less)"
        )
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    failed = False
    try:
        for i in range(1, cfg.runs + 1):
            if cfg.profile_dir is not None:
                for name in PROFILE_NAMES:
                    (cfg.profile_dir / f"{name}.prof").unlink(missing_ok=True)
            try:
                runs.append(await run_once(cfg, i, log))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failed = True
                log(f"  run {i} FAILED: {type(exc).__name__}: {exc}")
                runs.append({"run": i, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        await asyncio.gather(*(c.stop() for c in list(Child.live)), return_exceptions=True)

    good = [r for r in runs if "error" not in r]
    summary = summarize(good)
    ok = checks(summary)
    print_report(cfg, good, summary, ok)
    if cfg.profile_dir is not None:
        print_profiles(cfg.profile_dir, cfg.n)
    total = time.perf_counter() - started
    print(
        f"\n{len(good)} of {len(runs)} runs ok; total {total:.0f}s; load average (1 min) "
        f"{load_start[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end, {os.cpu_count()} CPUs"
    )

    import aiogram

    out = {
        "benchmark": "bench/relay.py",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "aiogram": aiogram.__version__,
            "loadavg_at_start": load_start,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "customers": cfg.customers,
            "n": cfg.n,
            "runs": cfg.runs,
            "burst": cfg.burst,
            "product_flood_gate": cfg.gated,
            "double_flood_limits": False,
            "profiled": cfg.profile_dir is not None,
            "quick": bool(args.quick),
        },
        "targets": {
            "cpu_ms_per_relay_max": TARGET_CPU_MS,
            "cpu_ms_per_relay_goal": GOAL_CPU_MS,
            "rss_mb_max": TARGET_RSS_MB,
            "reference_relay_bot": REFERENCE,
        },
        "median": summary,
        "checks": ok,
        "runs": runs,
        "total_s": round(total, 1),
    }
    await asyncio.to_thread(write_json, args.json, out)
    print(f"figures written to {args.json}")
    if failed or not good:
        return 2
    passed = all(ok[k] for k in ("c2s_cpu_ok", "s2c_cpu_ok", "rss_ok"))
    return 0 if passed or not args.strict else 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--product"]:
        return product_main(argv[1:])
    p = argparse.ArgumentParser(
        prog="bench/relay.py",
        description="CPU per relayed support message (customer -> staff, staff -> customer) and RSS.",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 5 customers, 40 relays each way")
    p.add_argument("--customers", type=int, help="customers with an open topic (default 20)")
    p.add_argument("--n", type=int, help="relays measured in each direction (default 200)")
    p.add_argument("--runs", type=int, default=1, help="repeat with fresh processes; medians are reported")
    p.add_argument(
        "--burst",
        action="store_true",
        help="send each batch all at once (the product may merge one customer's queued texts)",
    )
    p.add_argument(
        "--gated",
        action="store_true",
        help="run `python -m supportbot run` as shipped (its own flood gate on)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="cProfile the product during each batch: DIR/c2s.prof, DIR/s2c.prof, top 15 printed",
    )
    p.add_argument("--json", type=Path, default=RESULTS, help=f"where to write figures (default {RESULTS})")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
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
