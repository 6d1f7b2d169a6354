"""One getUpdates poller at a time (bot/leader.py) on the real PostgreSQL: two lease holders never
both hold it, and a second process takes over within 10 s when the poller dies (kill -9)."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.leader import AlwaysLeader, PgAdvisoryLease, lead, lock_key, poller_lease
from storage.db import create_engine

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


@pytest.fixture
async def engines(postgres_url: str):  # type: ignore[no-untyped-def]
    """Two engines = two processes' connection pools on the same database."""
    made = [create_engine(postgres_url), create_engine(postgres_url)]
    yield made
    for e in made:
        await e.dispose()


async def test_two_holders_never_both_hold(engines) -> None:  # type: ignore[no-untyped-def]
    key = lock_key(f"poller:test-both:{uuid.uuid4()}")
    a, b = PgAdvisoryLease(engines[0], key), PgAdvisoryLease(engines[1], key)
    assert await a.try_acquire()
    for _ in range(5):
        assert not await b.try_acquire()
        assert await a.still_held() and await a.try_acquire()  # re-asking keeps it
    await a.release()
    assert await b.try_acquire()
    assert not await a.try_acquire()
    await b.release()


async def test_lead_runs_work_in_one_process_only_and_hands_over(engines) -> None:  # type: ignore[no-untyped-def]
    """Two `lead` loops: at every moment at most one runs its work; when the holder's database
    connection dies (terminated by the server), the other takes over within 10 s."""
    key = lock_key(f"poller:test-handover:{uuid.uuid4()}")
    leases = [PgAdvisoryLease(engines[0], key), PgAdvisoryLease(engines[1], key)]
    running: set[int] = set()
    overlaps: list[set[int]] = []
    started: dict[int, float] = {}
    stop = asyncio.Event()

    def worker(i: int):  # type: ignore[no-untyped-def]
        async def work(until: asyncio.Event) -> None:
            running.add(i)
            started.setdefault(i, time.monotonic())
            if len(running) > 1:
                overlaps.append(set(running))
            try:
                await until.wait()
            finally:
                running.discard(i)

        return work

    loops = [asyncio.create_task(lead(leases[i], stop, worker(i), recheck=0.5)) for i in (0, 1)]
    for _ in range(100):
        if running:
            break
        await asyncio.sleep(0.05)
    assert len(running) == 1
    first = next(iter(running))
    other = 1 - first
    await asyncio.sleep(1.5)  # several rechecks: the other keeps waiting
    assert running == {first} and other not in started

    # The first holder's connection dies (as when its process is killed or its network drops).
    holder = leases[first]
    assert holder._conn is not None
    pid = await holder._conn.scalar(text("SELECT pg_backend_pid()"))
    async with engines[other].connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        await conn.commit()
    died = time.monotonic()
    while other not in started and time.monotonic() - died < 10:
        await asyncio.sleep(0.05)
    assert other in started, "no takeover within 10 s"
    assert started[other] - died < 10
    print(f"takeover {started[other] - died:.2f} s after the connection died")
    await asyncio.sleep(1.0)
    assert running == {other}  # the old holder noticed and does not come back while the other holds it
    stop.set()
    await asyncio.wait_for(asyncio.gather(*loops), 5)
    assert not overlaps
    assert not running


HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from bot.leader import PgAdvisoryLease
    from storage.db import create_engine

    async def main():
        lease = PgAdvisoryLease(create_engine(sys.argv[1]), int(sys.argv[2]))
        while not await lease.try_acquire():
            await asyncio.sleep(0.1)
        print("held", flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


async def test_takeover_within_10_s_after_kill_9(engines, postgres_url) -> None:  # type: ignore[no-untyped-def]
    """A real second process holds the lease and is killed with SIGKILL: this one polls < 10 s later."""
    key = lock_key(f"poller:test-kill9:{uuid.uuid4()}")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, postgres_url, str(key), cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)  # type: ignore[union-attr]
        assert line.strip() == b"held"
        mine = PgAdvisoryLease(engines[0], key)
        got_at: list[float] = []
        stop = asyncio.Event()

        async def work(until: asyncio.Event) -> None:
            got_at.append(time.monotonic())
            await until.wait()

        loop = asyncio.create_task(lead(mine, stop, work))  # the product's default recheck (3 s)
        await asyncio.sleep(1.0)
        assert not got_at  # the other process holds it
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await proc.wait()
        while not got_at and time.monotonic() - killed < 10:
            await asyncio.sleep(0.05)
        assert got_at and got_at[0] - killed < 10, "no takeover within 10 s of kill -9"
        print(f"takeover {got_at[0] - killed:.2f} s after kill -9")
        stop.set()
        await asyncio.wait_for(loop, 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sqlite_is_always_the_poller(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3")
    try:
        lease = poller_lease(engine, 123)
        assert isinstance(lease, AlwaysLeader)
        assert await lease.try_acquire() and await lease.still_held()
    finally:
        await engine.dispose()
