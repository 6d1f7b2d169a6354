"""Fast flow tests: the product's real Dispatcher fed updates in-process, the Bot API double's
state engine answering the Bot's requests in-process (no HTTP, no polling, no sleeps).

What is real: `bot.factory.create_dispatcher` (every router in order, CustomerMiddleware,
OutreachMiddleware, the SQL FSM storage), `bot.factory.create_bot`'s request chain (press
guard, flood-control sender without a gate, send journal), i18n, the FAQ library, SQLite, an
injected FrozenClock. What is the double: `sandbox.methods.BotApi` validates every request
against the vendored Bot API spec and answers it from `sandbox.state.SandboxState`, which also
makes the updates (a customer typing, pressing a button; a staff member posting in a topic).
What is left out: the inbox (storing updates, per-chat queues, the done mark), the workers
(except `drain_staff`, one pass of the staff-group sender) and the flood gate's pacing; those
are covered by tests/e2e.

    async def test_x(flow: Flow) -> None:
        anna = flow.user("Anna", lang="en")
        await flow.send(anna, "/start")
        assert flow.t("en")("onb-welcome", ...) in flow.last(anna).text
        await flow.press(anna, "🌐 Language")
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update

from bot.callbacks import CallbackAnswers
from bot.context import BotContext
from core.clock import FrozenClock
from core.settings import Settings
from dialogs.i18n import I18n, Translator
from sandbox.methods import BotApi
from sandbox.spec import UploadedFile
from sandbox.state import SandboxState
from storage.db import Database, run_recorded, update_writes


class InProcessSession(BaseSession):
    """A Bot session that hands each request to the double's pipeline in-process.

    Parameters are serialised exactly as aiogram's AiohttpSession puts them into its form
    (`prepare_value`), so the double validates what would go over the wire; its JSON answer is
    parsed by aiogram's own `check_response` (errors become the same Telegram exceptions).
    """

    def __init__(self, api: BotApi) -> None:
        super().__init__()
        self.api = api
        self.calls: list[TelegramMethod[Any]] = []  # every request that reached the double

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        files: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            value = self.prepare_value(value, bot=bot, files=files)
            if value:  # as AiohttpSession.build_form_data: empty values are not sent
                params[key] = value
        uploads: dict[str, UploadedFile] = {}
        for key, input_file in files.items():
            data = b"".join([chunk async for chunk in input_file.read(bot)])
            uploads[key] = params[key] = UploadedFile(data, input_file.filename or key, None, key)
        self.calls.append(method)
        status, body = await self.api.call(method.__api_method__, params, uploads)
        response = self.check_response(bot=bot, method=method, status_code=status, content=json.dumps(body))
        return cast(TelegramType, response.result)

    async def close(self) -> None:
        return None

    async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError("file downloads are not simulated in flow tests")


@dataclass(frozen=True)
class Shown:
    """One bot message as the person sees it now (edits applied)."""

    message_id: int
    text: str
    buttons: list[str]
    chat_id: int
    thread_id: int | None = None


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    lang: str


class Flow:
    """One bot, one database, one double; helpers that act as customers and staff."""

    def __init__(
        self,
        *,
        state: SandboxState,
        api: BotApi,
        bot: Bot,
        dp: Dispatcher,
        db: Database,
        clock: FrozenClock,
        settings: Settings,
        i18n: I18n,
        ctx: BotContext,
        callbacks: CallbackAnswers,
        session: InProcessSession,
        staff_group: int,
        agent: Person,
    ) -> None:
        self.state = state
        self.api = api
        self.bot = bot
        self.dp = dp
        self.db = db
        self.clock = clock
        self.settings = settings
        self.i18n = i18n
        self.ctx = ctx
        self.callbacks = callbacks
        self.session = session
        self.staff_group = staff_group
        self.agent = agent
        self.handled = 0

    # ------------------------------------------------------------------ texts

    def t(self, lang: str) -> Translator:
        """The product's texts (dialogs/locales) in `lang`, to assert what a person sees."""
        return self.i18n(lang)

    # ------------------------------------------------------------------ people act

    def user(self, name: str, *, lang: str = "en", username: str | None = None) -> Person:
        user = self.state.create_user(first_name=name, username=username, language_code=lang)
        return Person(user.id, name, lang)

    async def send(self, who: Person, text: str, **payload: Any) -> None:
        """`who` writes `text` in their private chat with the bot; the bot handles it."""
        self.state.user_send(who.id, {"text": text, **payload})
        await self.run_updates()

    async def send_media(self, who: Person, kind: str, **payload: Any) -> None:
        self.state.user_send(who.id, {"kind": kind, **payload})
        await self.run_updates()

    async def press(
        self, who: Person, button: str, *, message_id: int | None = None, chat_id: int | None = None
    ) -> None:
        """`who` presses the inline button labelled `button` (on the newest bot message that
        has it, unless `message_id` says which); the bot handles the press."""
        chat = who.id if chat_id is None else chat_id
        if message_id is None:
            for shown in reversed(self.messages(chat)):
                if button in shown.buttons:
                    message_id = shown.message_id
                    break
            else:
                raise AssertionError(
                    f"no message in chat {chat} shows a button {button!r}; last: {self.messages(chat)[-3:]}"
                )
        self.state.user_press(who.id, message_id, chat_id=chat_id, button_text=button)
        await self.run_updates()

    async def staff_send(self, text: str, *, thread_id: int, **payload: Any) -> None:
        """The support agent posts `text` in a topic of the staff group."""
        self.state.user_send(
            self.agent.id, {"text": text, "message_thread_id": thread_id, **payload}, chat_id=self.staff_group
        )
        await self.run_updates()

    async def run_updates(self) -> int:
        """Feed every update the double has queued to the Dispatcher, in order, as the inbox
        would (a press is registered with CallbackAnswers; `db.record` writes are committed
        after the handler). Returns how many were handled."""
        n = 0
        while True:
            pending = self.state.pending_updates(100)
            if not pending:
                return n
            for upd in pending:
                self.state.confirm_updates(upd.update_id + 1)
                payload = upd.render()
                if upd.type == "callback_query":
                    self.callbacks.received(upd.payload["id"], queued_behind=0, replay=False)
                update = Update.model_validate(payload, context={"bot": self.bot})
                with update_writes() as recorded:
                    await self.dp.feed_update(self.bot, update)
                if recorded:
                    async with self.db.begin() as session:
                        await run_recorded(session, recorded)
                n += 1
                self.handled += 1

    async def drain_staff(self) -> None:
        """One pass of the staff-group sender (bot/support_worker.py): the queued posts are
        sent into the group's topics now."""
        from bot.support_worker import _drain

        groups = {self.staff_group, *self.settings.support_routes.values()}
        for group in groups:
            await _drain(self.ctx, group)

    # ------------------------------------------------------------------ what people see

    def messages(
        self, chat_id: int | Person, thread_id: int | None = None, *, from_bot: bool = True
    ) -> list[Shown]:
        """Messages in the chat (not deleted, no service lines such as "created the topic"),
        oldest first; by default only the bot's."""
        chat = chat_id.id if isinstance(chat_id, Person) else chat_id
        out: list[Shown] = []
        if chat not in self.state.chats:  # nobody wrote there yet
            return out
        for msg in self.state.chat_messages(
            self.state.chats[chat], thread_id=thread_id, include_deleted=False
        ):
            if msg.service or (from_bot and msg.sender != "bot"):
                continue
            out.append(self._shown(msg))
        return out

    def last(self, chat_id: int | Person, thread_id: int | None = None) -> Shown:
        """The newest bot message in the chat (as edited since)."""
        shown = self.messages(chat_id, thread_id)
        assert shown, f"the bot sent nothing to chat {chat_id}"
        return shown[-1]

    def texts(self, chat_id: int | Person, thread_id: int | None = None) -> list[str]:
        return [m.text for m in self.messages(chat_id, thread_id)]

    def message(self, chat_id: int | Person, message_id: int) -> Shown:
        chat = chat_id.id if isinstance(chat_id, Person) else chat_id
        msg = self.state.get_message(chat, message_id)
        assert msg is not None, f"no message {message_id} in chat {chat}"
        return self._shown(msg)

    def topics(self) -> list[int]:
        """Thread ids of the staff group's live topics."""
        chat = self.state.get_chat(self.staff_group)
        return [tid for tid, topic in chat.topics.items() if not topic.deleted]

    def violations(self) -> list[dict[str, Any]]:
        """Requests the double refused as against the Bot API spec, and answers it could not
        give in the spec's shape."""
        return [*self.state.violations, *self.api.response_problems]

    @staticmethod
    def _shown(msg: Any) -> Shown:
        content = msg.content
        markup = msg.reply_markup or {}
        labels = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
        return Shown(
            msg.message_id,
            content.get("text") or content.get("caption") or "",
            labels,
            msg.chat_id,
            msg.message_thread_id,
        )
