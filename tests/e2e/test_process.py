"""The product as a real process: `supportbot run`, SIGTERM, SIGKILL in a burst, webhook mode."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, SandboxState
from sandbox.client import SandboxClient
from supportbot.runtime import Runtime
from tests.e2e.conftest import TOKEN, wait_text

ROOT = Path(__file__).resolve().parents[2]


class Product:
    """`python -m supportbot run` in a child process, with its output collected."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.proc: asyncio.subprocess.Process | None = None
        self.output: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self, timeout: float = 30) -> None:
        self.ready.clear()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "supportbot",
            "run",
            cwd=str(ROOT),
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            raise AssertionError("product did not start:\n" + "\n".join(self.output)) from None

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            if line.startswith("Bot: @"):
                self.ready.set()

    def url(self, prefix: str) -> str:
        for line in self.output:
            if line.startswith(prefix):
                return re.search(r"http://[\d.:]+", line).group(0)  # type: ignore[union-attr]
        raise AssertionError(f"no {prefix!r} line in output")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code


@pytest.fixture
async def double() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(SandboxState(), flood_limits=True)
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


def product_env(tmp_path: Path, double: SandboxServer) -> dict[str, str]:
    return {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": double.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3",
        "API_PORT": "0",
        "POLLING_TIMEOUT": "1",
        "LOG_LEVEL": "WARNING",
    }


async def test_sandbox_mode_run_without_token_and_sigterm_exits_zero(tmp_path: Path) -> None:
    """The README's run path: no token, no server installed: it says where it listens."""
    env = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN"}
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/data/bot.sqlite3",
            "API_PORT": "0",
            "SANDBOX_PORT": "0",
            "POLLING_TIMEOUT": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("BOT_TOKEN", None)
    product = Product(env)
    product.env.pop("BOT_TOKEN", None)
    await product.start()
    try:
        api = product.url("HTTP API:")
        sandbox = product.url("Sandbox Bot API")
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{api}/healthz")).json() == {"status": "ok"}
            assert (await http.get(f"{api}/readyz")).status_code == 200
        tg = SandboxClient(sandbox)
        user = await tg.create_user("Sam", language_code="en")
        sent = await tg.send_text(user["id"], "/start")
        reply = await tg.wait_for_bot_message(user["id"], sent["message_id"])
        assert "Hi, Sam" in reply["text"]
        assert await tg.violations() == []
        await tg.close()
    finally:
        code = await product.stop(signal.SIGTERM)
    assert code == 0, "\n".join(product.output)
    assert "stopped cleanly" in product.output
    assert (tmp_path / "data" / "bot.sqlite3").exists()


async def test_sigkill_in_a_burst_loses_nothing(tmp_path: Path, double: SandboxServer) -> None:
    """50 customers write at once; the process is killed mid-burst and started again.

    Every message is handled (stored, then answered) and none is answered twice. A reply that
    was on the wire at the kill is not repeated: it is reported as uncertain (it may or may
    not have reached Telegram). Nothing is silently lost or repeated.
    """
    tg = SandboxClient(double.base_url)
    product = Product(product_env(tmp_path, double))
    await product.start()
    users = [await tg.create_user(f"C{i}", language_code="en") for i in range(50)]
    for u in users:
        await tg.send_text(u["id"], f"question from {u['first_name']}")

    async def answered() -> int:
        n = 0
        for u in users:
            n += len(await tg.bot_messages(u["id"]))
        return n

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while await answered() < 10:
        assert loop.time() < deadline, "no replies before the kill"
        await asyncio.sleep(0.01)
    await product.stop(signal.SIGKILL)
    before_restart = await answered()
    assert before_restart < 50, "the burst finished before the kill; the test proves nothing"

    restarted = Product(product_env(tmp_path, double))
    await restarted.start()
    try:
        deadline = loop.time() + 30
        while await pending(tmp_path):
            assert loop.time() < deadline, f"only {await answered()} of 50 answered after restart"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # let any duplicate show up
        replies = Counter({u["id"]: len(await tg.bot_messages(u["id"])) for u in users})
    finally:
        assert await restarted.stop() == 0

    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    statuses = Counter(s for (s,) in db.execute("SELECT status FROM inbox_updates"))
    replayed = db.execute("SELECT count(*) FROM inbox_updates WHERE attempts >= 1").fetchone()[0]
    uncertain = db.execute("SELECT count(*) FROM inbox_updates WHERE error LIKE 'uncertain:%'").fetchone()[0]
    db.close()
    assert statuses == {"done": 50}, statuses
    duplicates = sum(n - 1 for n in replies.values() if n > 1)
    unanswered = sum(1 for n in replies.values() if n == 0)
    assert duplicates == 0, replies
    # Only a reply that was on the wire at the kill may be missing, and it is reported.
    assert unanswered <= uncertain <= 8, (unanswered, uncertain, replayed)
    print(
        f"\nkill -9 at {before_restart}/50 answered; replayed {replayed}, uncertain {uncertain}, "
        f"unanswered {unanswered}, duplicated {duplicates}"
    )
    await tg.close()


async def pending(tmp_path: Path) -> int:
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    try:
        return db.execute("SELECT count(*) FROM inbox_updates WHERE status != 'done'").fetchone()[0]
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def webhook_runtime(tmp_path: Path, double: SandboxServer, secret: str) -> tuple[Runtime, int]:
    """The product in webhook mode against the double, on a free port (started)."""
    from core.settings import Settings

    port = free_port()
    runtime = Runtime(
        Settings(
            _env_file=None,
            bot_token=TOKEN,
            telegram_api_url=double.base_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/wh.sqlite3",
            api_port=port,
            webhook_url=f"http://127.0.0.1:{port}",
            webhook_secret=secret,
        )
    )
    await runtime.start()
    return runtime, port


async def test_webhook_mode_checks_the_secret(tmp_path: Path, double: SandboxServer) -> None:
    runtime, port = await webhook_runtime(tmp_path, double, "s3cret-Token_1")
    tg = SandboxClient(double.base_url)
    try:
        info = await tg.webhook()
        assert info["url"] == f"http://127.0.0.1:{port}/telegram/webhook"
        user = await tg.create_user("Web", language_code="en")
        await tg.send_text(user["id"], "/start")
        await wait_text(tg, user["id"], "Hi, Web")

        fake = {
            "update_id": 999999,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": user["id"], "type": "private"},
                "text": "/stop",
            },
        }
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{port}/telegram/webhook"
            r = await http.post(url, json=fake)
            assert r.status_code == 401
            r = await http.post(url, json=fake, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
            assert r.status_code == 401
        async with runtime.db() as session:
            from sqlalchemy import select

            from storage.models import InboxUpdate

            assert await session.get(InboxUpdate, 999999) is None
            assert (await session.execute(select(InboxUpdate))).scalars().first() is not None
    finally:
        await tg.close()
        await runtime.stop()


async def test_webhook_redelivery_is_handled_once(tmp_path: Path, double: SandboxServer) -> None:
    """Telegram redelivers an update whose webhook call it thinks failed: one answer only."""
    runtime, port = await webhook_runtime(tmp_path, double, "s3cret")
    tg = SandboxClient(double.base_url)
    try:
        user = await tg.create_user("Twice", language_code="en")
        await tg.send_text(user["id"], "/start")  # the chat must exist before the bot can write
        await wait_text(tg, user["id"], "Hi, Twice")
        update = {
            "update_id": 777001,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "text": "/help",
                "chat": {"id": user["id"], "type": "private", "first_name": "Twice"},
                "from": {"id": user["id"], "is_bot": False, "first_name": "Twice"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{port}/telegram/webhook"
            for _ in range(2):
                assert (await http.post(url, json=update, headers=headers)).status_code == 200
        await wait_text(tg, user["id"], "Commands:")
        await asyncio.sleep(0.5)
        assert len([m for m in await tg.bot_messages(user["id"]) if "Commands:" in (m["text"] or "")]) == 1
    finally:
        await tg.close()
        await runtime.stop()


async def test_polling_survives_a_failed_store(tmp_path: Path, double: SandboxServer) -> None:
    """If the database refuses a batch, it is not confirmed and is fetched again, not lost."""
    from core.settings import Settings

    runtime = Runtime(
        Settings(
            _env_file=None,
            bot_token=TOKEN,
            telegram_api_url=double.base_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/st.sqlite3",
            api_port=0,
            polling_timeout=1,
        )
    )
    await runtime.start()
    real_store = runtime.inbox.store
    failures = []

    async def flaky_store(payloads, *, offset=None):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(1)
            raise RuntimeError("database is locked")
        return await real_store(payloads, offset=offset)

    runtime.inbox.store = flaky_store  # type: ignore[method-assign]
    tg = SandboxClient(double.base_url)
    try:
        user = await tg.create_user("Stubborn", language_code="en")
        await tg.send_text(user["id"], "/help")
        await wait_text(tg, user["id"], "Commands:", timeout=10)
        assert failures == [1]
    finally:
        await tg.close()
        await runtime.stop()


UNCERTAIN = "The bot restarted while posting"  # the staff notice of an uncertain post (en)


async def test_sigkill_while_staff_posts_wait_for_the_group_budget(
    tmp_path: Path, double: SandboxServer
) -> None:
    """10 customers x 3 messages into a staff group limited to 20 posts a minute; kill -9 while
    posts wait for the group's budget, start again. A post is marked `sending` only when its
    request leaves, so what was waiting is sent after the restart: every text reaches staff
    exactly once, and only a post that was on the wire at the kill may be missing (reported
    `uncertain`). Before: a post was "sending" while it waited, and a kill lost it for good.
    """
    tg = SandboxClient(double.base_url)
    await tg.set_bot(token=TOKEN)
    agent = await tg.create_user("Olga", language_code="en")
    group = (
        await tg.create_forum_group("Support", members=[{"user_id": agent["id"], "status": "administrator"}])
    )["id"]
    env = {**product_env(tmp_path, double), "SUPPORT_CHAT_ID": str(group), "SUPPORT_GROUP_PER_MINUTE": "20"}
    product = Product(env)
    await product.start()
    users = [await tg.create_user(f"K{i}", language_code="en") for i in range(10)]
    for u in users:
        await tg.send_text(u["id"], "/human")
    texts = {f"text {n} of {u['first_name']}": u["id"] for n in range(3) for u in users}
    for text, uid in texts.items():
        await tg.send_text(uid, text)

    def shown(messages: list[dict[str, Any]], *, notices: bool = False) -> Counter[str]:
        """How often each text was posted: relayed (or, `notices`, in a notice that an
        uncertain post may be missing)."""
        body = "\n".join(
            m.get("text") or "" for m in messages if (UNCERTAIN in (m.get("text") or "")) == notices
        )
        return Counter({t: body.count(t) for t in texts})

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not any(await tg.messages(group)) or sum(shown(await tg.messages(group)).values()) == 0:
        assert loop.time() < deadline, "nothing reached staff before the kill"
        await asyncio.sleep(0.05)
    await product.stop(signal.SIGKILL)
    before = sum(1 for n in shown(await tg.messages(group)).values() if n)
    assert before < len(texts), "every text was posted before the kill; the test proves nothing"

    restarted = Product(env)
    await restarted.start()
    try:
        deadline = loop.time() + 90
        while True:
            db = sqlite3.connect(tmp_path / "bot.sqlite3")
            open_posts = db.execute(
                "SELECT count(*) FROM group_posts WHERE status IN ('queued', 'claimed', 'sending')"
            ).fetchone()[0]
            db.close()
            if not open_posts:
                break
            assert loop.time() < deadline, f"{open_posts} staff posts still queued"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        counts = shown(await tg.messages(group))
        noticed = shown(await tg.messages(group), notices=True)
    finally:
        assert await restarted.stop() == 0

    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    uncertain_texts = {
        text
        for (payload,) in db.execute("SELECT payload FROM group_posts WHERE status = 'uncertain'")
        for text in [json.loads(payload).get("text")]
        if text
    }
    uncertain_cards = db.execute(
        "SELECT count(*) FROM group_posts WHERE status = 'uncertain' AND kind = 'card'"
    ).fetchone()[0]
    db.close()
    calls = [c for c in await tg.call_log(limit=100000) if c["status"] == 429]
    duplicated = [t for t, n in counts.items() if n > 1]
    missing = [t for t, n in counts.items() if n == 0]
    print(
        f"\nkill -9 with {before}/{len(texts)} texts posted; missing {len(missing)} "
        f"(uncertain posts: {len(uncertain_texts)} texts, {uncertain_cards} cards), "
        f"duplicated {len(duplicated)}, 429s {len(calls)}"
    )
    assert duplicated == []
    assert calls == []
    # Only texts of the post that was on the wire at the kill may be missing (one group is
    # posted to one request at a time; texts folded into a card are marked with it).
    assert set(missing) <= uncertain_texts, (missing, uncertain_texts)
    assert uncertain_cards <= 1 and len(uncertain_texts) <= 3
    # ...and staff are told, with the text: each uncertain text in one notice in the group
    assert {t for t, n in noticed.items() if n} == uncertain_texts, (noticed, uncertain_texts)
    assert all(n <= 1 for n in noticed.values()), noticed
    await tg.close()
