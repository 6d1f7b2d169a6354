"""The composition root: one asyncio loop runs the bot, the HTTP API and the workers.

`role` (PROCESS_ROLE / `supportbot run --role`) picks what this process runs: `all` (the
default: everything), `bot` (Telegram updates: polling under the poller lease, or the webhook),
`api` (only the HTTP API; no Telegram call at all) or `worker` (the background workers). Every
role serves /healthz, /readyz and /metrics on API_HOST:API_PORT. See docs/DEPLOY.md.

Settings are built once in main() and passed down; nothing here is an import-time global,
so tests can start as many runtimes as they like.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from aiogram.methods import DeleteWebhook, SetWebhook

from bot.callbacks import CallbackAnswers
from bot.context import BotContext
from bot.factory import ALLOWED_UPDATES, create_bot, create_dispatcher
from bot.inbox import Inbox
from bot.journal import SendJournalMiddleware
from bot.leader import lead, poller_lease
from bot.webhook import create_webhook_router
from bot.workers import Worker, workers
from core import delivery, faq_learning, support, telemetry
from core.clock import Clock, SystemClock
from core.customers import CustomerHooks
from core.faq import FaqLibrary
from core.loyalty import merge as loyalty_merge
from core.outreach import merge as outreach_merge
from core.ratelimit import FloodGate
from core.rules import Rules, build_rules
from core.settings import Settings
from dialogs.exit_interview import handlers as exit_interview_flow
from dialogs.faq import handlers as faq_flow
from dialogs.handoff import customer as handoff_flow
from dialogs.handoff.card import CardSection
from dialogs.i18n import I18n
from dialogs.loyalty import card as loyalty_card
from dialogs.loyalty import handlers as loyalty_flow
from dialogs.menu import MainMenu
from dialogs.onboarding import handlers as onboarding_flow
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.notify import PgWakeBridge
from storage.state import get_state, set_state

log = logging.getLogger("supportbot")


def customer_hooks() -> CustomerHooks:
    """What every domain does when two customers merge or one is forgotten, in this order.

    Loyalty moves the orders first: outreach's merge hook recounts the purchases it finds.
    """
    return CustomerHooks(
        merge=(loyalty_merge.merge_customer_rows, outreach_merge.merge_outreach_rows),
        forget=(loyalty_merge.forget_customer, support.scrub_customer, faq_learning.forget_customer),
    )


def main_menu() -> MainMenu:
    """The main menu: every flow's items (shown in their `order`: FAQ 10, human 20, balance 30,
    feedback 40, language 80, notifications 85, privacy 90, help 95)."""
    return MainMenu(
        [
            *faq_flow.MENU_ITEMS,
            *handoff_flow.MENU_ITEMS,
            *loyalty_flow.MENU_ITEMS,
            *exit_interview_flow.MENU_ITEMS,
            *onboarding_flow.MENU_ITEMS,
        ]
    )


def card_sections(*, clock: Clock, rules: Rules) -> tuple[CardSection, ...]:
    """What other domains add to the staff's customer card, in this order."""
    return (loyalty_card.card_section(clock=clock, rules=rules.loyalty),)


STOP_TIMEOUT = 10.0
SANDBOX_WEB_KEY_NAME = "sandbox-web"  # the key the sandbox page uses (sandbox mode only)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    flood_control: bool = True
    role: str | None = None  # all | bot | api | worker; None: settings.process_role

    def __post_init__(self) -> None:
        self.role = self.role or self.settings.process_role
        # What this process runs (the HTTP server with the probes and /metrics runs in all roles).
        self.handles_updates = self.role in ("all", "bot")
        self.runs_workers = self.role in ("all", "worker")
        self.calls_telegram = self.role != "api"
        self.gate: Any = None
        self.lease: Any = None
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.sandbox: Any = None
        self.api_url = ""
        self.bot_username = ""
        self.telegram_url: str | None = None

    async def start(self) -> None:
        s = self.settings
        self.engine = create_engine(s.database_url, echo=s.database_echo)
        await migrate.upgrade(self.engine)
        self.db = create_sessionmaker(self.engine)

        self.telegram_url = s.telegram_api_url
        telemetry.set_role(str(self.role))
        if s.sandbox_mode and not s.telegram_api_url and self.calls_telegram:
            from sandbox.server import SandboxServer

            self.sandbox = SandboxServer(flood_limits=s.sandbox_flood_limits)
            await self.sandbox.start(s.sandbox_host, s.sandbox_port)
            self.telegram_url = self.sandbox.base_url

        if self.sandbox is not None and s.support_chat_id is None:
            s = self.settings = await self._sandbox_staff_group(s)
        self.rules = build_rules(s)  # once; every handler, route and worker gets this bundle
        self.faq = load_faq(s.faq_dir, s.data_path)
        async with self.db() as session:  # phrasings staff taught and the API approved
            self.faq.set_learned(await faq_learning.approved_phrasings(session))

        if self.flood_control and s.redis_url:  # limits shared by every process of this bot
            from core.ratelimit_redis import RedisFloodGate

            self.gate = RedisFloodGate.from_url(
                s.redis_url, bot_id=s.token.split(":", 1)[0], limits=self.rules.limits
            )
            telemetry.REDIS_UP.set_function(lambda: 1.0 if self.gate.available else 0.0)
        elif self.flood_control:
            self.gate = FloodGate(self.rules.limits)
        self.callbacks = CallbackAnswers()
        self.bot, self.sender = create_bot(
            token=s.token,
            api_url=self.telegram_url,
            gate=self.gate,
            journal=SendJournalMiddleware(self.db, self.clock),
            answers=self.callbacks,
        )
        if self.calls_telegram:
            me = await self.bot.get_me()
            self.bot_username = me.username or ""
            async with self.db.begin() as session:
                await set_state(session, now=self.clock.now(), key="bot_username", value=self.bot_username)
        else:  # role api: never calls Telegram; the name a bot process stored, if any
            async with self.db() as session:
                self.bot_username = await get_state(session, key="bot_username") or ""

        self.i18n = I18n()
        self.ctx = BotContext(
            settings=s,
            rules=self.rules,
            db=self.db,
            clock=self.clock,
            bot=self.bot,
            i18n=self.i18n,
            stop=self.stop_event,
            gate=self.gate,
            card_sections=card_sections(clock=self.clock, rules=self.rules),
            single_process=self.engine.dialect.name == "sqlite",
        )
        # A transaction that queued something (a handler's, a worker's or the API's) wakes
        # that queue's worker when it commits: no polling interval in between. Several
        # processes on PostgreSQL: every process hears it too (LISTEN/NOTIFY).
        self.wake_bridge: PgWakeBridge | None = None
        if self.engine.dialect.name == "postgresql":
            self.wake_bridge = PgWakeBridge(s.database_url, self._wake)
            self.wake_bridge.start()
        self._unsubscribe = delivery.subscribe(self._wake_all)
        self.dp = create_dispatcher(
            settings=s,
            rules=self.rules,
            db=self.db,
            clock=self.clock,
            i18n=self.i18n,
            ctx=self.ctx,
            faq=self.faq,
            main_menu=main_menu(),
            customer_hooks=customer_hooks(),
            shared=self.engine.dialect.name == "postgresql",
        )
        self.inbox = Inbox(
            bot=self.bot,
            dispatcher=self.dp,
            sessionmaker=self.db,
            clock=self.clock,
            workers=s.update_workers,
            allowed_updates=ALLOWED_UPDATES,
            polling_timeout=s.polling_timeout,
            callbacks=self.callbacks,
            # PostgreSQL: any number of processes may share the database; a chat's updates are
            # handled by one of them at a time, under a lease (bot/inbox.py).
            shared=self.engine.dialect.name == "postgresql",
            owner=self.ctx.owner,
        )

        from api.app import create_app

        self.app = create_app(
            settings=s,
            rules=self.rules,
            sessionmaker=self.db,
            clock=self.clock,
            engine=self.engine,
            faq_library=self.faq,
        )
        if s.webhook_url and self.handles_updates:
            assert s.webhook_secret is not None
            self.app.include_router(
                create_webhook_router(
                    inbox=self.inbox,
                    secret=s.webhook_secret.get_secret_value(),
                    path=s.webhook_path,
                )
            )
        config = uvicorn.Config(
            self.app,
            host=s.api_host,
            port=s.api_port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self.server.serve(), name="api"))
        while not self.server.started:
            if self._tasks[0].done():
                self._tasks[0].result()  # raises the bind error
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.api_url = f"http://{s.api_host}:{port}"
        if self.sandbox is not None:
            await self._sandbox_web(s)

        leading = False
        if self.handles_updates and not s.webhook_url:
            # One poller per bot: the process holding the lease polls (and recovers what a
            # dead poller left); the others wait for it (bot/leader.py). SQLite: always this one.
            self.lease = poller_lease(self.engine, s.token.split(":", 1)[0])
            leading = await self.lease.try_acquire()
        if self.handles_updates and (s.webhook_url or leading):
            await self.inbox.recover()
        if self.handles_updates:
            # PostgreSQL: every bot process handles stored updates, one chat at a time under a
            # lease, whichever process stored them (bot/inbox.py).
            self.inbox.start_shared(self.stop_event)
        if self.runs_workers:
            for name, worker in workers():
                self._tasks.append(asyncio.create_task(self._guard(name, worker), name=name))
        if self.handles_updates and s.webhook_url:
            await self.bot(
                SetWebhook(
                    url=s.webhook_url + s.webhook_path,
                    secret_token=s.webhook_secret.get_secret_value() if s.webhook_secret else None,
                    allowed_updates=ALLOWED_UPDATES,
                    max_connections=s.webhook_max_connections,
                )
            )
        elif self.handles_updates:
            await self.bot(DeleteWebhook(drop_pending_updates=False))
            self._tasks.append(
                asyncio.create_task(
                    lead(self.lease, self.stop_event, self._poll(recovered=leading), held=leading),
                    name="poll",
                )
            )

    def _poll(self, *, recovered: bool):
        """Polling while this process holds the lease; on each new lease, first the updates a
        dead poller stored but did not finish."""
        done = {"recovered": recovered}  # at start-up, start() already recovered

        async def work(until: asyncio.Event) -> None:
            if not done["recovered"]:
                await self.inbox.recover()
            done["recovered"] = False  # a later lease (after losing this one) recovers again
            await self.inbox.poll(until)

        return work

    async def _sandbox_staff_group(self, s: Settings) -> Settings:
        """Sandbox mode: a staff forum group with one staff member, so handoff works at once."""
        from sandbox.client import SandboxClient

        client = SandboxClient(self.sandbox.base_url)
        try:
            await client.set_bot(token=s.token)
            staff = await client.create_user(
                "Alex", last_name="(support)", username="alex_support", language_code=s.staff_language
            )
            group = await client.create_forum_group(
                "Support team", members=[{"user_id": staff["id"], "status": "creator"}]
            )
        finally:
            await client.close()
        log.info("sandbox: staff group %s with staff member %s", group["id"], staff["id"])
        self.sandbox_staff = {"group_id": group["id"], "staff_user_id": staff["id"]}
        return s.model_copy(update={"support_chat_id": group["id"]})

    async def _sandbox_web(self, s: Settings) -> None:
        """Sandbox mode: the browser page gets an all-scopes API key (the previous start's key
        is revoked), the API's address and the staff group; two customers to play."""
        from core import apikeys

        async with self.db.begin() as session:
            for old in await apikeys.list_api_keys(session, include_revoked=False):
                if old.name == SANDBOX_WEB_KEY_NAME:
                    await apikeys.revoke_api_key(session, clock=self.clock, key_id_or_prefix=old.id)
            key, _ = await apikeys.create_api_key(
                session, clock=self.clock, name=SANDBOX_WEB_KEY_NAME, scopes=["*"]
            )
        staff = getattr(self, "sandbox_staff", None) or {}
        self.sandbox.web_config.update(
            api_url=self.api_url,
            api_key=key,
            docs_url=f"{self.api_url}/docs",
            staff_group_id=staff.get("group_id", s.support_chat_id),
            staff_user_id=staff.get("staff_user_id"),
            business_name=s.business_name,
        )
        state = self.sandbox.state
        state.create_user(first_name="Anna", last_name="Smith", username="anna_smith", language_code="en")
        state.create_user(first_name="Иван", last_name="Петров", username="ivan_p", language_code="ru")

    def _wake(self, names: frozenset[str]) -> None:
        for name in names:
            self.ctx.notify(name)
        if faq_learning.LEARNED_SIGNAL in names:  # approved in some process's API: match it here too
            task = asyncio.get_running_loop().create_task(self._reload_learned())
            self._tasks.append(task)

    async def _reload_learned(self) -> None:
        try:
            async with self.db() as session:
                self.faq.set_learned(await faq_learning.approved_phrasings(session))
        except Exception:
            log.warning("could not reload the learned FAQ phrasings", exc_info=True)

    def _wake_all(self, names: frozenset[str]) -> None:
        self._wake(names)  # this process at once
        if self.wake_bridge is not None:
            self.wake_bridge.publish(names)  # and the others

    async def _guard(self, name: str, worker: Worker) -> None:
        """A worker that crashes is logged and restarted; it never takes the process down."""
        while not self.stop_event.is_set():
            try:
                await worker(self.ctx)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker %s crashed; restarting in 5 s", name)
                if await self.ctx.sleep(5):
                    return

    async def wait(self) -> None:
        await self.stop_event.wait()

    def request_stop(self) -> None:
        self.stop_event.set()

    async def stop(self, drain_timeout: float = 20.0) -> None:
        """Stop taking updates, finish the ones in hand, then close everything."""
        self.stop_event.set()
        poll = [t for t in self._tasks if t.get_name() == "poll"]
        if poll:
            await asyncio.gather(*poll, return_exceptions=True)
        if not await self.inbox.drain(drain_timeout):
            log.warning("stopping with %d updates still stored; they run at next start", self.inbox.backlog)
        await self.inbox.close()
        self.server.should_exit = True
        done, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT)
        for task in pending:  # a worker that ignores the stop signal must not hang the exit
            log.warning("worker %s did not stop within %ss; cancelling it", task.get_name(), STOP_TIMEOUT)
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._unsubscribe()
        if self.wake_bridge is not None:
            await self.wake_bridge.stop()
        await self.callbacks.close()
        await self.bot.session.close()
        if hasattr(self.gate, "close"):  # the Redis-shared gate's connection pool
            await self.gate.close()
        if self.sandbox is not None:
            await self.sandbox.stop()
        await self.db.close()
        await self.engine.dispose()


def load_faq(directory: str, data_dir: str | Path | None = None) -> FaqLibrary:
    """The FAQ: the shipped files (FAQ_DIR as given, or relative to the project if not found
    from here; read-only) overlaid by the operator's edits in `data_dir`/faq, where
    PUT /v1/faq/{language} writes. Without `data_dir` (tools, tests) the folder is used as is."""
    path = Path(directory)
    if not path.is_absolute() and not path.exists():
        path = Path(__file__).resolve().parents[1] / directory
    library = FaqLibrary()
    if data_dir is not None:
        library.load_layers(path if path.is_dir() else None, Path(data_dir) / "faq")
        if not library.languages():
            log.warning("FAQ folder %s not found and no edits in %s; the FAQ is empty", directory, data_dir)
        return library
    if path.is_dir():
        library.load_dir(path)
    else:
        log.warning("FAQ folder %s not found; the FAQ is empty", directory)
    return library


def install_signal_handlers(runtime: Runtime) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runtime.request_stop)


async def serve(settings: Settings) -> None:
    """`supportbot run`: start, say where everything listens, run until SIGTERM/Ctrl-C."""
    runtime = Runtime(settings)
    await runtime.start()
    install_signal_handlers(runtime)
    lines = [f"HTTP API: {runtime.api_url}  (docs: {runtime.api_url}/docs)"]
    if runtime.sandbox is not None:
        lines.append(f"Sandbox Bot API (no BOT_TOKEN set): {runtime.telegram_url}")
        lines.append(f"Try it in the browser: {runtime.sandbox.base_url}/  (customers, staff, API)")
    elif settings.telegram_api_url:
        lines.append(f"Bot API server: {settings.telegram_api_url}")
    staff = getattr(runtime, "sandbox_staff", None)
    if staff:
        lines.append(f"Sandbox staff group {staff['group_id']} (staff user {staff['staff_user_id']})")
    if runtime.handles_updates:
        lines.append(f"Bot: @{runtime.bot_username} ({'webhook' if settings.webhook_url else 'polling'})")
    lines.append(f"Role: {runtime.role}" + (" (shared flood limits in Redis)" if settings.redis_url else ""))
    for line in lines:
        print(line, flush=True)
    await runtime.wait()
    log.info("stopping...")
    await runtime.stop()
    print("stopped cleanly", flush=True)
