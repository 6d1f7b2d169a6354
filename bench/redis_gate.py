"""How much the Redis-shared flood gate costs: decisions per second and latency of one `check`.

    .venv/bin/python bench/redis_gate.py [--url redis://127.0.0.1:6379/15] [--seconds 3]
        [--processes 1 2] [--concurrency 16]

Limits are set so high that nothing waits: what is measured is the Lua round trip itself (one
EVALSHA per send). Telegram's own limit is ~30 sends/s per bot, so the gate is never the
bottleneck as long as one decision costs well under 1/30 s. Prints a line per configuration
and writes bench/results/redis_gate.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.ratelimit import Lane, Limits  # noqa: E402
from core.ratelimit_redis import RedisFloodGate  # noqa: E402

HUGE = Limits(
    global_per_second=1e9,
    global_burst=1e9,
    private_per_second=1e9,
    private_burst=1e9,
    live_reserve=0,
    paid_per_second=1e9,
    paid_burst=1e9,
)


async def run_one(url: str, bot_id: str, seconds: float, concurrency: int) -> list[float]:
    gate = RedisFloodGate.from_url(url, bot_id=bot_id, limits=HUGE)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(worker: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            grant = await gate.check(worker * 1_000_000 + n % 1000, Lane.LIVE)
            latencies.append(time.perf_counter() - t)
            assert grant.wait == 0
            n += 1

    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    keys = [k async for k in gate.redis.scan_iter(match=f"{gate.prefix}:*")]
    if keys:
        await gate.redis.delete(*keys)
    await gate.close()
    return latencies


def child(url: str, bot_id: str, seconds: float, concurrency: int, out) -> None:  # type: ignore[no-untyped-def]
    out.put(asyncio.run(run_one(url, bot_id, seconds, concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    results = []
    for procs in args.processes:
        bot_id = f"bench-{uuid.uuid4().hex[:6]}"
        queue: multiprocessing.Queue = multiprocessing.Queue()
        job = (args.url, bot_id, args.seconds, args.concurrency, queue)
        workers = [multiprocessing.Process(target=child, args=job) for _ in range(procs)]
        for w in workers:
            w.start()
        lat = [x for _ in workers for x in queue.get()]
        for w in workers:
            w.join()
        lat.sort()
        row = {
            "processes": procs,
            "concurrency_per_process": args.concurrency,
            "decisions_per_s": round(len(lat) / args.seconds),
            "p50_ms": round(statistics.median(lat) * 1000, 3),
            "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 3),
        }
        results.append(row)
        print(
            f"{procs} process(es) x {args.concurrency} tasks: {row['decisions_per_s']} decisions/s, "
            f"check p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms",
            flush=True,
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "redis_gate.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
