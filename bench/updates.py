#!/usr/bin/env python
"""Benchmark: text updates handled per second and update->reply latency, in polling and webhook
mode, for the product's `/start`-and-menu path against a bare aiogram echo bot on the same double.

    .venv/bin/python bench/updates.py                 # both modes, ~2-3 minutes
    .venv/bin/python bench/updates.py --quick         # smoke run, ~1.5 minutes
    .venv/bin/python bench/updates.py --modes webhook --bots product --profile-product /tmp/prof

Three kinds of process, all on loopback, so the bot under test does not share a core with the
double (the machine this was written for has 2 cores):

- the Bot API double: `python -m sandbox --no-flood-limits`, a fresh one per (mode, bot), so both
  bots start from the same empty world;
- the bot under test: the product, `supportbot run` (BOT_TOKEN + TELEGRAM_API_URL pointing at
  the double, SQLite in a temp dir) started through `--product` so that its own flood gate is off
  too ("flood limits off"; `--bots product-gated` runs it exactly as shipped, ~30 messages/s),
  or the bare echo bot embedded below (`--echo-bot`): one aiogram Dispatcher with one handler
  `message.answer(message.text)`, run by `dp.start_polling` or by aiogram's SimpleRequestHandler
  on aiohttp;
- this driver: it injects user messages through the control API (POST /sandbox/users/{id}/send)
  from many users (round-robin) and watches the double's SSE stream (GET /sandbox/events) for the
  bot's replies. Latency = reply event seen by the driver - start of the injection request.

Per (mode, bot): a warm-up round (one message per user; for the product this creates the
customers, so the measured path is the steady-state `/start` of a known customer), then

1. throughput: N messages injected as fast as the driver can (CONCURRENCY requests in flight);
   handled/s = replies / (first injection start -> last reply seen);
2. latency: a paced offered load of RATE updates/s for DURATION seconds; p50/p99/max over every
   injected message (a reply that never came counts as infinitely late) and the share answered.

The echo bot gets plain unique texts (replies matched by text); the product gets "/start"
(replies matched per chat in order; the product handles one chat's updates strictly in order
and injections to one user are serialized, so FIFO matching is exact).

Targets (from the issue): product throughput >= 60% of the echo bot's, and product p99 < 100 ms
at 200 updates/s, in each mode. Figures go to stdout and to bench/results/updates.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
RESULTS = ROOT / "bench" / "results" / "updates.json"
TOKEN = "1234567890:AAbenchTokenABCDEFGHIJKLMNOPQRSTUVWX"
SECRET = "bench-webhook-secret_1"
WEBHOOK_PATH = "/telegram/webhook"
TARGET_RATIO = 0.60
TARGET_P99_MS = 100.0

# Environment a child inherits: enough to run Python, nothing that configures the product.
ENV_KEEP = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TZ",
    "SYSTEMROOT",
    "VIRTUAL_ENV",
    "BENCH_SQL_COUNTS",  # bench only: the product writes its SQL statement counts there at exit
)


# ====================================================================== the bare echo bot


def echo_bot_main(argv: Sequence[str]) -> int:
    """`updates.py --echo-bot --api URL --mode polling|webhook [--port P]`: bare aiogram echo."""
    p = argparse.ArgumentParser(prog="updates.py --echo-bot")
    p.add_argument("--echo-bot", action="store_true")
    p.add_argument("--api", required=True)
    p.add_argument("--mode", choices=("polling", "webhook"), required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default=TOKEN)
    p.add_argument("--secret", default=SECRET)
    args = p.parse_args(argv)
    asyncio.run(_echo_bot(args))
    return 0


async def _echo_bot(args: argparse.Namespace) -> None:
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    bot = Bot(args.token, session=AiohttpSession(api=TelegramAPIServer.from_base(args.api)))
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    if args.mode == "polling":
        await bot.delete_webhook(drop_pending_updates=False)
        print("READY polling", flush=True)
        await dp.start_polling(bot, polling_timeout=1, handle_signals=True)
        return

    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=args.secret).register(app, path=WEBHOOK_PATH)
    setup_application(app, dp, bot=bot)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    await bot.set_webhook(f"http://127.0.0.1:{args.port}{WEBHOOK_PATH}", secret_token=args.secret)
    print("READY webhook", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()  # closes the bot session too (setup_application's shutdown hook)


# ====================================================================== the product, flood gate off


def product_main(argv: Sequence[str]) -> int:
    """`updates.py --product [--flood-gate]`: `supportbot run`, by default without its own gate.

    The product's sender waits on a FloodGate modelled on Telegram's limits (~30 messages/s per
    bot) before every send. The benchmark runs "with flood limits off", so by default the gate is
    off too (Runtime(flood_control=False), the switch the tests use); everything else is the
    unchanged `supportbot run` path (settings from the environment, logging, serve()).
    """
    import functools

    from supportbot import cli, runtime

    if "--flood-gate" not in argv:
        runtime.Runtime = functools.partial(runtime.Runtime, flood_control=False)  # type: ignore[misc]
    if os.environ.get("BENCH_SQL_COUNTS"):  # statements by kind over the whole run, at exit
        _count_sql(Path(os.environ["BENCH_SQL_COUNTS"]))
    return cli.main(["run"])


def _count_sql(out: Path) -> None:
    import atexit
    import re
    from collections import Counter

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    table = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)
    counts: Counter[str] = Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _stmt(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        verb = statement.split(None, 1)[0].upper()
        found = table.search(statement)
        counts[f"{verb} {found.group(1)}" if found else verb] += 1

    @event.listens_for(Engine, "commit")
    def _commit(_c: Any) -> None:
        counts["COMMIT"] += 1

    @event.listens_for(Engine, "rollback")
    def _rollback(_c: Any) -> None:
        counts["ROLLBACK"] += 1

    atexit.register(lambda: out.write_text(json.dumps(dict(counts.most_common()), indent=1)))


# ====================================================================== child processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ENV_KEEP}
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra)
    return env


class Child:
    """A subprocess in its own session (Ctrl-C reaches only the driver, which stops it)."""

    live: set[Child] = set()

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.output: deque[str] = deque(maxlen=300)
        self._reader: asyncio.Task[None] | None = None
        self._ready_pred: Callable[[str], bool] | None = None
        self._ready = asyncio.Event()

    async def start(self, ready: Callable[[str], bool] | None = None) -> None:
        self._ready_pred = ready
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=str(self.cwd),
            env=self.env,
            start_new_session=True,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        Child.live.add(self)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            if self._ready_pred is not None and self._ready_pred(line):
                self._ready.set()

    async def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        waiter = asyncio.ensure_future(self._ready.wait())
        died = asyncio.ensure_future(self.proc.wait())
        done, _ = await asyncio.wait({waiter, died}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        died.cancel()
        if waiter not in done or not self._ready.is_set():
            await asyncio.sleep(0.2)  # let the reader collect the last lines
            why = "exited" if self.proc.returncode is not None else f"not ready after {timeout:.0f}s"
            raise RuntimeError(f"{self.name} {why}:\n" + "\n".join(self.output))

    async def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`. Only this child's own pid is signalled."""
        proc = self.proc
        if proc is None:
            return None
        try:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), timeout)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
            if self._reader is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._reader, 5)
        finally:
            Child.live.discard(self)
        return proc.returncode

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the child so far (Linux /proc), None if unknown."""
        if self.proc is None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:  # noqa: ASYNC230 - tiny procfs read
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    @classmethod
    def kill_all_now(cls) -> None:
        """Last resort (interpreter exit): SIGKILL whatever is still running."""
        for child in list(cls.live):
            if child.proc is not None and child.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.kill()
        cls.live.clear()


# ====================================================================== measurement


@dataclass
class Sent:
    idx: int
    phase: str
    chat_id: int
    text: str
    t_start: float = 0.0  # driver clock (perf_counter): injection request started
    t_sent: float = 0.0  # injection request answered
    t_reply: float | None = None  # driver clock: bot reply seen on the event stream
    d_user: float | None = None  # double clock (time.time): user message created
    d_reply: float | None = None  # double clock: bot reply created


class Tracker:
    """Matches bot replies from the event stream to injected messages."""

    def __init__(self, *, by_text: bool) -> None:
        self.by_text = by_text
        self.records: list[Sent] = []
        self._await_user: dict[Any, deque[Sent]] = {}
        self._await_reply: dict[Any, deque[Sent]] = {}
        self._pending: dict[str, int] = {}
        self._changed = asyncio.Event()
        self.unmatched_replies = 0

    def _key(self, chat_id: int, text: str) -> Any:
        return text if self.by_text else chat_id

    def register(self, rec: Sent) -> None:
        self.records.append(rec)
        key = self._key(rec.chat_id, rec.text)
        self._await_user.setdefault(key, deque()).append(rec)
        self._await_reply.setdefault(key, deque()).append(rec)
        self._pending[rec.phase] = self._pending.get(rec.phase, 0) + 1

    def on_message(self, chat_id: int, from_bot: bool, text: str, d_time: float, t_now: float) -> None:
        key = self._key(chat_id, text)
        if not from_bot:
            q = self._await_user.get(key)
            if q:
                q.popleft().d_user = d_time
            return
        q = self._await_reply.get(key)
        if not q:
            self.unmatched_replies += 1
            return
        rec = q.popleft()
        rec.t_reply = t_now
        rec.d_reply = d_time
        self._pending[rec.phase] -= 1
        self._changed.set()

    def pending(self, phase: str) -> int:
        return self._pending.get(phase, 0)

    async def wait_phase(self, phase: str, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.pending(phase) > 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    def phase(self, phase: str) -> list[Sent]:
        return [r for r in self.records if r.phase == phase]


class EventStream:
    """Reads GET /sandbox/events and feeds `message_created` events to the tracker."""

    def __init__(self, http: Any, base: str, tracker: Tracker) -> None:
        self.http = http
        self.base = base
        self.tracker = tracker
        self.connected = asyncio.Event()
        self.events = 0
        self._task: asyncio.Task[None] | None = None

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
        async with self.http.get(f"{self.base}/sandbox/events", timeout=timeout) as resp:
            resp.raise_for_status()
            event_type = ""
            perf = time.perf_counter
            on_message = self.tracker.on_message
            async for raw in resp.content:
                t_now = perf()
                if raw.startswith(b"event: "):
                    event_type = raw[7:].strip().decode()
                elif raw.startswith(b"data: "):
                    self.events += 1
                    if event_type == "message_created":
                        ev = json.loads(raw[6:])
                        msg = ev["message"]
                        on_message(
                            msg["chat_id"],
                            bool(msg.get("from_bot")),
                            msg.get("text") or "",
                            float(ev["time"]),
                            t_now,
                        )
                elif raw.startswith(b":"):
                    self.connected.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; `inf` entries (no reply) sort last."""
    if not values:
        return math.nan
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def ms(x: float) -> float | None:
    if math.isnan(x):
        return None
    return None if math.isinf(x) else round(x * 1000, 2)


@dataclass
class Config:
    users: int = 200
    n: int = 2000
    concurrency: int = 32
    rate: float = 200.0
    duration: float = 10.0
    warmup_timeout: float = 60.0
    drain_timeout: float = 60.0
    straggler_timeout: float = 5.0
    profile_dir: Path | None = None


@dataclass
class Case:
    mode: str
    bot: str
    cfg: Config
    result: dict[str, Any] = field(default_factory=dict)


class Driver:
    def __init__(self, http: Any, base: str, tracker: Tracker, users: list[int], text: Callable[[int], str]):
        self.http = http
        self.base = base
        self.tracker = tracker
        self.users = users
        self.text = text
        self._locks = {u: asyncio.Lock() for u in users}
        self._seq = itertools.count()
        self.errors = 0

    async def inject(self, phase: str, user: int) -> Sent:
        idx = next(self._seq)
        rec = Sent(idx=idx, phase=phase, chat_id=user, text=self.text(idx))
        # One user's injections are serialized, so the double sees them in registration order.
        async with self._locks[user]:
            self.tracker.register(rec)
            rec.t_start = time.perf_counter()
            async with self.http.post(f"{self.base}/sandbox/users/{user}/send", json={"text": rec.text}) as r:
                await r.read()
                if r.status != 200:
                    self.errors += 1
                    raise RuntimeError(f"inject failed: {r.status} {await r.text()}")
            rec.t_sent = time.perf_counter()
        return rec

    async def burst(self, phase: str, n: int, concurrency: int) -> None:
        counter = itertools.count()
        users = self.users

        async def worker() -> None:
            while (i := next(counter)) < n:
                await self.inject(phase, users[i % len(users)])

        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))

    async def paced(self, phase: str, rate: float, duration: float) -> None:
        n = max(1, int(rate * duration))
        tasks: list[asyncio.Task[Sent]] = []
        t0 = time.perf_counter() + 0.01
        users = self.users
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.inject(phase, users[i % len(users)])))
        await asyncio.gather(*tasks)


def summarize_throughput(recs: list[Sent]) -> dict[str, Any]:
    got = [r for r in recs if r.t_reply is not None]
    t0 = min(r.t_start for r in recs)
    t_inj = max(r.t_sent for r in recs) - t0
    out: dict[str, Any] = {
        "injected": len(recs),
        "answered": len(got),
        "inject_per_s": round(len(recs) / t_inj, 1) if t_inj > 0 else None,
    }
    if got:
        span = max(r.t_reply for r in got if r.t_reply is not None) - t0
        out["elapsed_s"] = round(span, 3)
        out["handled_per_s"] = round(len(got) / span, 1)
        d = [r for r in got if r.d_user is not None and r.d_reply is not None]
        if d:
            dspan = max(r.d_reply for r in d if r.d_reply) - min(r.d_user for r in d if r.d_user)
            out["handled_per_s_double_clock"] = round(len(d) / dspan, 1) if dspan > 0 else None
    else:
        out["handled_per_s"] = 0.0
    return out


def summarize_latency(recs: list[Sent], rate: float, duration: float) -> dict[str, Any]:
    lat = [(r.t_reply - r.t_start) if r.t_reply is not None else math.inf for r in recs]
    dlat = [r.d_reply - r.d_user for r in recs if r.d_reply is not None and r.d_user is not None]
    inj = [r.t_sent - r.t_start for r in recs]
    starts = sorted(r.t_start for r in recs)
    span = starts[-1] - starts[0]
    answered = sum(1 for x in lat if not math.isinf(x))
    return {
        "offered_rate": rate,
        "duration_s": duration,
        "injected": len(recs),
        "achieved_rate": round((len(recs) - 1) / span, 1) if span > 0 else None,
        "answered": answered,
        "answered_share": round(answered / len(recs), 4),
        "p50_ms": ms(pct(lat, 50)),
        "p90_ms": ms(pct(lat, 90)),
        "p99_ms": ms(pct(lat, 99)),
        "max_ms": ms(max(lat)),
        "mean_ms": ms(sum(x for x in lat if not math.isinf(x)) / answered) if answered else None,
        # The same interval measured inside the double (user message created -> bot reply created):
        # it leaves out the driver's own request and event-stream delays.
        "double_p50_ms": ms(pct(dlat, 50)) if dlat else None,
        "double_p99_ms": ms(pct(dlat, 99)) if dlat else None,
        "inject_rtt_p50_ms": ms(pct(inj, 50)),
        "inject_rtt_p99_ms": ms(pct(inj, 99)),
    }


async def wait_http(http: Any, url: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            async with http.get(url) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if loop.time() > deadline:
            raise RuntimeError(f"{url} did not come up")
        await asyncio.sleep(0.05)


async def start_bot(case: Case, api: str, tmp: Path) -> Child:
    py = sys.executable
    if case.bot == "echo":
        argv = [py, str(SELF), "--echo-bot", "--api", api, "--mode", case.mode]
        if case.mode == "webhook":
            argv += ["--port", str(free_port())]
        child = Child(f"echo bot ({case.mode})", argv, env=child_env({}), cwd=tmp)
        await child.start(ready=lambda line: line.startswith("READY"))
    else:
        port = free_port()
        env = {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
            "API_PORT": str(port),
            "POLLING_TIMEOUT": "1",
            "LOG_LEVEL": "WARNING",
            "BUSINESS_NAME": "Demo Shop",
        }
        if case.mode == "webhook":
            env.update({"WEBHOOK_URL": f"http://127.0.0.1:{port}", "WEBHOOK_SECRET": SECRET})
        # "product": flood gate off (see product_main); "product-gated": exactly `supportbot run`.
        target = ["-m", "supportbot", "run"]
        if case.bot == "product":
            target = [str(SELF), "--product"]
        argv = [py, *target]
        if case.cfg.profile_dir is not None:
            case.cfg.profile_dir.mkdir(parents=True, exist_ok=True)
            prof = case.cfg.profile_dir / f"{case.bot}-{case.mode}.prof"
            argv = [py, "-m", "cProfile", "-o", str(prof), *target]
        # cwd is the temp dir: no developer .env is picked up, nothing is written to the tree.
        child = Child(f"product ({case.mode})", argv, env=child_env(env), cwd=tmp)
        await child.start(ready=lambda line: line.startswith("Bot: @"))
    await child.wait_ready()
    return child


async def run_case(case: Case, log: Callable[[str], None]) -> None:
    import aiohttp

    cfg = case.cfg
    res = case.result
    res.update({"mode": case.mode, "bot": case.bot, "loadavg_1min_at_start": round(os.getloadavg()[0], 2)})
    with tempfile.TemporaryDirectory(prefix=f"bench-{case.mode}-{case.bot}-") as tmpdir:
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
                "--log-level",
                "WARNING",
            ],
            env=child_env({}),
            cwd=ROOT,
        )
        bot: Child | None = None
        stream: EventStream | None = None
        connector = aiohttp.TCPConnector(limit=max(64, cfg.concurrency * 2))
        async with aiohttp.ClientSession(connector=connector) as http:
            try:
                await double.start()
                await wait_http(http, f"{base}/sandbox")
                tracker = Tracker(by_text=case.bot == "echo")
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
                t = time.perf_counter()
                bot = await start_bot(case, base, tmp)
                res["bot_start_s"] = round(time.perf_counter() - t, 2)

                text = (lambda i: f"echo {i}") if case.bot == "echo" else (lambda _i: "/start")
                drv = Driver(http, base, tracker, users, text)

                log(f"  {case.mode}/{case.bot}: warm-up ({len(users)} users, one message each)")
                await drv.burst("warmup", len(users), cfg.concurrency)
                if not await tracker.wait_phase("warmup", cfg.warmup_timeout):
                    raise RuntimeError(
                        f"warm-up: {tracker.pending('warmup')} of {len(users)} not answered\n"
                        + "\n".join(list(bot.output)[-30:])
                    )
                await asyncio.sleep(0.5)

                log(
                    f"  {case.mode}/{case.bot}: throughput ({cfg.n} messages, "
                    f"{cfg.concurrency} injections in flight)"
                )
                cpu0 = (double.cpu_seconds(), bot.cpu_seconds(), time.process_time())
                await drv.burst("throughput", cfg.n, cfg.concurrency)
                complete = await tracker.wait_phase("throughput", cfg.drain_timeout)
                cpu1 = (double.cpu_seconds(), bot.cpu_seconds(), time.process_time())
                tp = res["throughput"] = summarize_throughput(tracker.phase("throughput"))
                tp["complete"] = complete
                # CPU per answered update: far less sensitive to other load than updates/s.
                for name, a, b in zip(("double", "bot", "driver"), cpu0, cpu1, strict=True):
                    if a is not None and b is not None and tp["answered"]:
                        tp[f"{name}_cpu_ms_per_update"] = round((b - a) / tp["answered"] * 1000, 3)
                if not complete:  # let the backlog clear before the latency phase
                    await tracker.wait_phase("throughput", cfg.drain_timeout)
                await asyncio.sleep(1.0)

                log(f"  {case.mode}/{case.bot}: latency ({cfg.rate:.0f} updates/s for {cfg.duration:.0f}s)")
                await drv.paced("latency", cfg.rate, cfg.duration)
                await tracker.wait_phase("latency", cfg.straggler_timeout)
                res["latency"] = summarize_latency(tracker.phase("latency"), cfg.rate, cfg.duration)
                res["unmatched_replies"] = tracker.unmatched_replies
                res["inject_errors"] = drv.errors

                async with http.get(f"{base}/sandbox/violations") as r:
                    res["violations"] = len(await r.json())
            finally:
                if stream is not None:
                    await stream.stop()
                if bot is not None:
                    # A bot still working off a backlog gets SIGKILL after a few seconds: its temp
                    # database is thrown away, and the figures are already taken.
                    code = await bot.stop(timeout=8.0)
                    res["bot_exit_code"] = code
                    if code == -signal.SIGKILL:
                        res["bot_killed_with_backlog"] = True
                    elif code not in (0, None, -signal.SIGTERM):
                        res["bot_output_tail"] = list(bot.output)[-20:]
                await double.stop()


# ====================================================================== report


def fmt(x: Any, spec: str = ".1f", missing: str = "-") -> str:
    if x is None:
        return missing
    return format(x, spec)


PRODUCTS = ("product", "product-gated")
BOTS = ("echo", *PRODUCTS)


def verdicts(cases: list[Case]) -> dict[str, dict[str, Any]]:
    """Per "mode" (and "mode/product-gated" when that variant ran): ratio and p99 vs the targets."""
    by = {(c.mode, c.bot): c.result for c in cases}
    out: dict[str, dict[str, Any]] = {}
    for mode in dict.fromkeys(c.mode for c in cases):
        echo = by.get((mode, "echo"))
        for bot in PRODUCTS:
            prod = by.get((mode, bot))
            if prod is None:
                continue
            v: dict[str, Any] = {}
            if echo and "throughput" in echo and "throughput" in prod:
                e, p = echo["throughput"]["handled_per_s"], prod["throughput"]["handled_per_s"]
                ratio = p / e if e else None
                v["throughput_ratio"] = round(ratio, 3) if ratio is not None else None
                v["throughput_ok"] = ratio is not None and ratio >= TARGET_RATIO
                # The same comparison by CPU time per update, which other load on the machine
                # disturbs much less than updates/s (informational).
                ce = echo["throughput"].get("bot_cpu_ms_per_update")
                cp = prod["throughput"].get("bot_cpu_ms_per_update")
                if ce and cp:
                    v["cpu_ratio"] = round(ce / cp, 3)
            if "latency" in prod:
                p99 = prod["latency"]["p99_ms"]
                v["p99_ms"] = p99
                v["p99_ok"] = p99 is not None and p99 < TARGET_P99_MS
            out[mode if bot == "product" else f"{mode}/{bot}"] = v
    return out


def print_report(cases: list[Case], cfg: Config, checks: dict[str, dict[str, Any]]) -> None:
    print()
    print(
        f"Text updates, {cfg.users} users round-robin, flood limits off. Throughput: {cfg.n} messages "
        f"as fast as possible. Latency: {cfg.rate:.0f} updates/s for {cfg.duration:.0f}s."
    )
    head = (
        f"{'mode':8} {'bot':13} | {'handled/s':>9} {'inject/s':>8} {'cpu ms/upd':>10} | "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'answered':>8} | {'dbl p50':>7} {'dbl p99':>7}"
    )
    print(head)
    print("-" * len(head))
    for c in cases:
        r = c.result
        tp, lat = r.get("throughput", {}), r.get("latency", {})
        if not tp and not lat:
            print(f"{c.mode:8} {c.bot:13} | failed: {str(r.get('error', '?'))[:80]}")
            continue

        def lms(key: str, lat: dict[str, Any] = lat) -> str:
            v = lat.get(key)
            if v is None and key in lat and lat.get("answered_share", 1) < 1:
                return "noreply"
            return fmt(v)

        share = lat.get("answered_share")
        answered = f"{share * 100:.1f}%" if share is not None else "-"
        print(
            f"{c.mode:8} {c.bot:13} | {fmt(tp.get('handled_per_s')):>9} "
            f"{fmt(tp.get('inject_per_s'), '.0f'):>8} {fmt(tp.get('bot_cpu_ms_per_update'), '.2f'):>10} | "
            f"{lms('p50_ms'):>7} {lms('p99_ms'):>7} {lms('max_ms'):>8} {answered:>8} | "
            f"{fmt(lat.get('double_p50_ms')):>7} {fmt(lat.get('double_p99_ms')):>7}"
        )
    print()
    for mode, v in checks.items():
        if "throughput_ratio" in v:
            print(
                f"{mode:8} throughput product/echo = {fmt(v['throughput_ratio'], '.2f')} "
                f"(target >= {TARGET_RATIO:.2f})  {'PASS' if v['throughput_ok'] else 'FAIL'}"
                + (f"   [by CPU per update: {v['cpu_ratio']:.2f}]" if "cpu_ratio" in v else "")
            )
        if "p99_ms" in v:
            p99 = f"{v['p99_ms']:.1f} ms" if v["p99_ms"] is not None else "n/a, over 1% unanswered"
            print(
                f"{mode:8} product p99 at {cfg.rate:.0f}/s = {p99} (target < {TARGET_P99_MS:.0f} ms)  "
                f"{'PASS' if v['p99_ok'] else 'FAIL'}"
            )
    if any(c.bot in PRODUCTS for c in cases):
        print("\nproduct = `supportbot run` with its own flood gate off (flood limits off on both sides);")
        print("product-gated = `supportbot run` as shipped (its sender keeps to ~30 messages/s).")
    print("handled/s: replies / (first injection -> last reply seen); inject/s: rate the driver reached;")
    print("  cpu ms/upd: CPU time of the bot process per answered update during the throughput burst.")
    print("p50/p99/max: injection request start -> reply seen by the driver, over every message sent;")
    print(f"  noreply: more than that share unanswered {cfg.straggler_timeout:.0f}s after the last message.")
    print("dbl p50/p99: user message created -> bot reply created, on the double's clock.")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


async def amain(args: argparse.Namespace) -> int:
    cfg = Config()
    if args.quick:
        cfg.n, cfg.duration, cfg.users = 500, 3.0, 100
    for name in ("users", "n", "concurrency", "rate", "duration"):
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    cfg.profile_dir = args.profile_product
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bots = [b.strip() for b in args.bots.split(",") if b.strip()]
    for m in modes:
        if m not in ("polling", "webhook"):
            raise SystemExit(f"unknown mode {m!r}")
    for b in bots:
        if b not in BOTS:
            raise SystemExit(f"unknown bot {b!r}")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    cases = [Case(mode, bot, cfg) for mode in modes for bot in bots]
    started = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]
    if load_start[0] > (os.cpu_count() or 1) * 0.5:
        log(
            f"warning: load average {load_start[0]:.1f} on {os.cpu_count()} CPUs before the start; "
            "other work on the machine will skew the figures"
        )
    failed = False
    # SIGTERM/SIGINT cancel the run; the `finally` below then stops every child (they live in
    # their own sessions, so nothing else would).
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
    try:
        for case in cases:
            try:
                await run_case(case, log)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failing case must not hide the others' figures
                failed = True
                case.result["error"] = f"{type(exc).__name__}: {exc}"
                log(f"  {case.mode}/{case.bot} FAILED: {exc}")
    finally:
        await asyncio.gather(*(c.stop() for c in list(Child.live)), return_exceptions=True)

    checks = verdicts(cases)
    print_report(cases, cfg, checks)
    total = time.perf_counter() - started
    print(
        f"\ntotal {total:.0f}s; load average (1 min) {load_start[0]:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end, {os.cpu_count()} CPUs"
    )

    import aiogram

    out = {
        "benchmark": "bench/updates.py",
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
            "users": cfg.users,
            "n": cfg.n,
            "concurrency": cfg.concurrency,
            "rate": cfg.rate,
            "duration_s": cfg.duration,
            "quick": bool(args.quick),
            "flood_limits": False,
        },
        "targets": {"throughput_ratio_min": TARGET_RATIO, "p99_ms_max": TARGET_P99_MS},
        "cases": [c.result for c in cases],
        "checks": checks,
        "total_s": round(total, 1),
    }
    await asyncio.to_thread(write_json, args.json, out)
    print(f"figures written to {args.json}")
    if failed:
        return 2
    ok = all(v.get("throughput_ok", True) and v.get("p99_ok", True) for v in checks.values())
    return 0 if ok or not args.strict else 1


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--echo-bot" in argv:
        return echo_bot_main(argv)
    if argv[:1] == ["--product"]:
        return product_main(argv[1:])
    p = argparse.ArgumentParser(
        prog="bench/updates.py",
        description="Updates/s and update->reply latency of the product vs a bare aiogram echo bot.",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 100 users, 500 messages, 3 s of load")
    p.add_argument("--modes", default="polling,webhook", help="comma list of polling, webhook")
    p.add_argument(
        "--bots",
        default="echo,product",
        help="comma list of echo, product, product-gated (default: echo,product)",
    )
    p.add_argument("--users", type=int, help="distinct users (default 200)")
    p.add_argument("--n", type=int, help="messages in the throughput burst (default 2000)")
    p.add_argument("--concurrency", type=int, help="injections in flight in the burst (default 32)")
    p.add_argument("--rate", type=float, help="offered load for the latency phase (default 200/s)")
    p.add_argument("--duration", type=float, help="seconds of paced load (default 10)")
    p.add_argument("--json", type=Path, default=RESULTS, help=f"where to write figures (default {RESULTS})")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument(
        "--profile-product",
        type=Path,
        metavar="DIR",
        help="run the product under cProfile, write DIR/product-<mode>.prof",
    )
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
